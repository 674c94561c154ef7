// Options from tables: a subcommand lists its options once (struct cli_opt: name, value type,
// range, destination, help) and this file parses argv against the table, writes --help from it
// and reports every mistake as a usage error, naming the closest option when one was mistyped.
// Deliberately small: long options only (plus -h), no abbreviations (a prefix gets a
// suggestion instead), no option that takes an optional value.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define HELP_WIDTH      79 // columns of the --help text
#define HELP_COLUMN_MAX 28 // option help starts here at the latest
#define NAME_MAX_SHOWN  64 // bytes of an unknown option's name kept for the message

// ----------------------------------------------------------------------------
// Did you mean

// Optimal string alignment distance (Levenshtein plus transpositions), case-insensitive. Only
// the first 63 bytes of each string count, more than any option or command name has.
static size_t edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    n = n > 63 ? 63 : n;
    m = m > 63 ? 63 : m;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static const char *undashed(const char *s) {
    while (*s == '-')
        s++;
    return s;
}

void cli_suggest_init(struct cli_suggest *s, const char *word) {
    s->word = word;
    s->best = NULL;
    s->dist = (size_t)-1;
}

// A candidate is kept when at most a third of its letters (at least one) would have to change:
// "--treshold" finds "--threshold", "frobnicate" finds no command.
void cli_suggest_add(struct cli_suggest *s, const char *candidate) {
    const char *c = undashed(candidate);
    size_t d = edit_distance(undashed(s->word), c), len = strlen(c);
    size_t limit = len / 3 > 1 ? len / 3 : 1;
    if (d <= limit && d < s->dist) {
        s->best = candidate;
        s->dist = d;
    }
}

// ----------------------------------------------------------------------------
// Help

// Print text wrapped at HELP_WIDTH columns. The caller has printed `col` columns of the first
// line already; the text starts at column `first` (or right there, when col is past it) and
// further lines at column `indent`. A '\n' in text starts a new line (an empty one separates
// paragraphs); a line's leading spaces are kept and indent its wrapped part too.
static void wrap(FILE *f, const char *text, int col, int first, int indent) {
    if (!*text)
        fputc('\n', f);
    for (const char *p = text; *p; first = indent) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        int lead = 0;
        while (p + lead < eol && p[lead] == ' ')
            lead++;
        if (p + lead < eol) {
            int pad = (col < first ? first - col : 0) + lead;
            fprintf(f, "%*s", pad, "");
            col += pad;
            bool first_word = true;
            for (const char *w = p + lead; w < eol;) {
                const char *e = w;
                while (e < eol && *e != ' ')
                    e++;
                int len = (int)(e - w);
                if (!first_word && col + 1 + len > HELP_WIDTH) {
                    fprintf(f, "\n%*s", indent + lead, "");
                    col = indent + lead;
                } else if (!first_word) {
                    fputc(' ', f);
                    col++;
                }
                fwrite(w, 1, (size_t)len, f);
                col += len;
                first_word = false;
                for (w = e; w < eol && *w == ' ';)
                    w++;
            }
        }
        fputc('\n', f);
        col = 0;
        p = *eol ? eol + 1 : eol;
    }
}

// "--threshold A": the option as its help line and the usage line show it.
static int opt_head(const struct cli_opt *o, char *out, size_t size) {
    int n = o->metavar ? snprintf(out, size, "%s %s", o->name, o->metavar)
                       : snprintf(out, size, "%s", o->name);
    return n < 0 ? 0 : n;
}

// The column where option help starts: after the longest head, at most HELP_COLUMN_MAX.
static int help_column(const struct cli_spec *spec) {
    int col = 0;
    char head[128];
    for (size_t i = 0; i < spec->n_opts; i++) {
        if (spec->opts[i].type == CLI_OPT_SECTION)
            continue;
        int w = 2 + opt_head(&spec->opts[i], head, sizeof head) + 2;
        col = w > col ? w : col;
    }
    return col < HELP_COLUMN_MAX ? col : HELP_COLUMN_MAX;
}

static void print_opt(FILE *f, const struct cli_opt *o, int column) {
    char head[128];
    int n = 2 + opt_head(o, head, sizeof head);
    fprintf(f, "  %s", head);
    if (n + 2 > column) { // too long: the help goes under it
        fputc('\n', f);
        n = 0;
    }
    wrap(f, o->help ? o->help : "", n, column, column);
}

// The usage line without its "usage: " (7 bytes) into line; returns the column where the
// arguments start, which its wrapped lines are indented to.
static int usage_line(const struct cli_spec *spec, char *line, size_t size) {
    char head[128];
    size_t len = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(line + len, size - len, __VA_ARGS__);                                    \
        if (k_ > 0)                                                                                \
            len = len + (size_t)k_ < size ? len + (size_t)k_ : size - 1;                           \
    } while (0)
    ADD("usage: routellm %s", spec->name);
    int indent = (int)len + 1;
    if (spec->args && spec->args_first)
        ADD(" %s", spec->args);
    bool optional = false;
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if (o->type == CLI_OPT_SECTION)
            continue;
        if (o->flags & CLI_REQUIRED) {
            opt_head(o, head, sizeof head);
            ADD(" %s", head);
        } else {
            optional = true;
        }
    }
    if (optional)
        ADD(" [options]");
    if (spec->args && !spec->args_first)
        ADD(" %s", spec->args);
#undef ADD
    return indent;
}

static void print_usage_line(const struct cli_spec *spec, FILE *f) {
    char line[1024];
    int indent = usage_line(spec, line, sizeof line);
    wrap(f, line, 0, 0, indent);
}

void cli_help(const struct cli_spec *spec, FILE *f) {
    print_usage_line(spec, f);
    if (spec->about) {
        fputc('\n', f);
        wrap(f, spec->about, 0, 0, 0);
    }
    int column = help_column(spec);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if (o->type == CLI_OPT_SECTION) {
            fputc('\n', f);
            wrap(f, o->help, 0, 0, 0);
        } else {
            if (i == 0)
                fprintf(f, "\noptions:\n");
            print_opt(f, o, column);
        }
    }
    if (spec->notes) {
        fputc('\n', f);
        wrap(f, spec->notes, 0, 0, 0);
    }
}

// ----------------------------------------------------------------------------
// Manual page

// Roff needs a backslash written \e, a dash that must stay a dash \-, and a guard (\&) before a
// line that would start with a control character. Lines of the text are kept, an empty one
// starts a paragraph, and a line's leading spaces (an example) break the line as in --help.
static void man_put(FILE *f, const char *text, bool line_start) {
    for (const char *p = text; *p; p++) {
        if (line_start && *p == '\n') {
            fputs(".PP\n", f);
            continue;
        }
        if (line_start && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-')
            fputs("\\-", f);
        else
            fputc(*p, f);
        line_start = *p == '\n';
    }
}

void cli_man_text(FILE *f, const char *text) {
    man_put(f, text, true);
    if (*text && text[strlen(text) - 1] != '\n')
        fputc('\n', f);
}

// The part of a page that the table knows: synopsis, description, options, notes. The page's
// title, name and cross-references are the caller's (main.c), which knows the command's summary.
static void man_body(const struct cli_spec *spec, FILE *f) {
    char line[1024];
    usage_line(spec, line, sizeof line);
    size_t skip = strlen("usage: routellm ") + strlen(spec->name);
    fprintf(f, ".SH SYNOPSIS\n\\fBroutellm %s\\fR", spec->name);
    cli_man_text(f, line + skip);
    if (spec->about) {
        fputs(".SH DESCRIPTION\n", f);
        cli_man_text(f, spec->about);
    }
    fputs(".SH OPTIONS\n", f);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if (o->type == CLI_OPT_SECTION) {
            fputs(".SS ", f);
            cli_man_text(f, o->help);
            continue;
        }
        fputs(".TP\n\\fB", f);
        man_put(f, o->name, false);
        fputs("\\fR", f);
        if (o->metavar) {
            fputs(" \\fI", f);
            man_put(f, o->metavar, false);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        cli_man_text(f, o->help ? o->help : "");
    }
    fputs(".TP\n\\fB\\-\\-help\\fR\nprint the options and exit\n", f);
    if (spec->notes) {
        fputs(".SH NOTES\n", f);
        cli_man_text(f, spec->notes);
    }
}

// ----------------------------------------------------------------------------
// Errors

static void vreport(const struct cli_spec *spec, const char *fmt, va_list ap) {
    fprintf(stderr, "routellm: %s: ", spec->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage(const struct cli_spec *spec, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(spec, fmt, ap);
    va_end(ap);
    print_usage_line(spec, stderr);
    return CLI_EXIT_USAGE;
}

// A bad value: the message, then the option's own help line (which says what it takes).
static int value_error(const struct cli_spec *spec, const struct cli_opt *o, const char *fmt, ...)
    RL_PRINTF(3, 4);
static int value_error(const struct cli_spec *spec, const struct cli_opt *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(spec, fmt, ap);
    va_end(ap);
    print_opt(stderr, o, help_column(spec));
    return CLI_EXIT_USAGE;
}

static int unknown_option(const struct cli_spec *spec, const char *arg, size_t len) {
    char name[NAME_MAX_SHOWN];
    snprintf(name, sizeof name, "%.*s", (int)len, arg);
    struct cli_suggest s;
    cli_suggest_init(&s, name);
    for (size_t i = 0; i < spec->n_opts; i++)
        if (spec->opts[i].type != CLI_OPT_SECTION)
            cli_suggest_add(&s, spec->opts[i].name);
    cli_suggest_add(&s, "--help");
    if (s.best)
        return cli_usage(spec, "unknown option '%s' (did you mean '%s'?)", name, s.best);
    return cli_usage(spec, "unknown option '%s'", name);
}

// ----------------------------------------------------------------------------
// Values

static bool to_double(const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno)
        return false;
    *out = x;
    return true;
}

static bool to_integer(const char *v, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno)
        return false;
    *out = x;
    return true;
}

static int set_choice(const struct cli_spec *spec, const struct cli_opt *o, const char *v) {
    char words[256] = "";
    struct cli_suggest s;
    cli_suggest_init(&s, v);
    for (int k = 0; o->choices[k]; k++) {
        if (strcmp(v, o->choices[k]) == 0) {
            *o->dest.integer = k;
            return 0;
        }
        size_t len = strlen(words);
        snprintf(words + len, sizeof words - len, "%s%s", k ? ", " : "", o->choices[k]);
        cli_suggest_add(&s, o->choices[k]);
    }
    if (s.best)
        return value_error(spec, o, "%s: '%s' is not one of %s (did you mean '%s'?)", o->name, v,
                           words, s.best);
    return value_error(spec, o, "%s: '%s' is not one of %s", o->name, v, words);
}

static int set_value(const struct cli_spec *spec, const struct cli_opt *o, char *v) {
    double x;
    long long k;
    switch (o->type) {
    case CLI_OPT_FLAG: *o->dest.flag = true; return 0;
    case CLI_OPT_STRING: *o->dest.str = v; return 0;
    case CLI_OPT_DOUBLE:
        if (!to_double(v, &x) || !(x >= o->lo && x <= o->hi))
            return value_error(spec, o, "%s: '%s' is not a number in [%g, %g]", o->name, v, o->lo,
                               o->hi);
        *o->dest.num = x;
        return 0;
    case CLI_OPT_INT:
    case CLI_OPT_U64:
        if (!to_integer(v, &k) || (double)k < o->lo || (double)k > o->hi)
            return value_error(spec, o, "%s: '%s' is not an integer in [%.0f, %.0f]", o->name, v,
                               o->lo, o->hi);
        if (o->type == CLI_OPT_INT)
            *o->dest.integer = (int)k;
        else
            *o->dest.u64 = (uint64_t)k;
        return 0;
    case CLI_OPT_CHOICE: return set_choice(spec, o, v);
    case CLI_OPT_LIST:
        if (o->dest.list->n == CLI_LIST_MAX)
            return value_error(spec, o, "%s: given more than %d times", o->name, CLI_LIST_MAX);
        o->dest.list->value[o->dest.list->n] = v;
        o->dest.list->opt[o->dest.list->n++] = o->name;
        return 0;
    case CLI_OPT_SECTION: break;
    }
    RL_ASSERT(!"an option of no known type");
    return CLI_EXIT_USAGE;
}

// ----------------------------------------------------------------------------
// Parsing

static const struct cli_opt *find_opt(const struct cli_spec *spec, const char *name, size_t len) {
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if (o->type != CLI_OPT_SECTION && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

// A required option is there when it, or another name for the same destination, was given.
// (Every member of dest is a pointer, so dest.str compares any of them.)
static bool given_dest(const struct cli_spec *spec, const bool *given, const struct cli_opt *o) {
    for (size_t k = 0; k < spec->n_opts; k++)
        if (given[k] && spec->opts[k].type == o->type && spec->opts[k].dest.str == o->dest.str)
            return true;
    return false;
}

// One option at argv[*i] (the caller has seen that it starts with '-'); a value given as the
// next argument moves *i past it.
static int parse_opt(const struct cli_spec *spec, int argc, char **argv, int *i, bool *given) {
    char *a = argv[*i];
    char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const struct cli_opt *o = find_opt(spec, a, len);
    if (!o)
        return unknown_option(spec, a, len);
    given[o - spec->opts] = true;
    if (o->type == CLI_OPT_FLAG) {
        if (eq)
            return value_error(spec, o, "%s takes no value", o->name);
        return set_value(spec, o, NULL);
    }
    if (eq)
        return set_value(spec, o, eq + 1);
    if (*i + 1 >= argc)
        return value_error(spec, o, "%s needs a value", o->name);
    return set_value(spec, o, argv[++*i]);
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, int *n_args) {
    bool given[CLI_MAX_OPTS] = {false};
    RL_ASSERT(spec->n_opts <= CLI_MAX_OPTS);
    bool only_args = false;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            argv[1 + n++] = a; // 1 + n <= i: the slot's own option was read already
            only_args = only_args || spec->args_end_options;
        } else if (strcmp(a, "--") == 0) {
            only_args = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_help(spec, stdout);
            return CLI_HELP;
        } else if (strcmp(a, "--man") == 0) {
            man_body(spec, stdout);
            return CLI_HELP;
        } else {
            int rc = parse_opt(spec, argc, argv, &i, given);
            if (rc)
                return rc;
        }
    }
    if (n < spec->min_args)
        return cli_usage(spec, "missing %s", spec->args ? spec->args : "arguments");
    if (spec->max_args >= 0 && n > spec->max_args)
        return cli_usage(spec, "unexpected argument '%s'", argv[1 + spec->max_args]);
    char head[128];
    for (size_t k = 0; k < spec->n_opts; k++) {
        const struct cli_opt *o = &spec->opts[k];
        if ((o->flags & CLI_REQUIRED) && !given_dest(spec, given, o)) {
            opt_head(o, head, sizeof head);
            return cli_usage(spec, "%s is required", head);
        }
    }
    if (n_args)
        *n_args = n;
    return 0;
}
