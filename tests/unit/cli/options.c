// The CLI's option tables (src/cli/options.c): both spellings of a value, missing values, range
// and choice errors, "did you mean", repeatable lists, positional arguments and `--`, required
// options, and --help written from the table. The file is included so that the test needs only
// the library.
#include <stdlib.h>
#include <unistd.h>

#include "cli/options.c"
#include "test.h"

// ----------------------------------------------------------------------------
// A table with one option of each type

struct demo {
    const char *name;
    double ratio;
    int count, level;
    uint64_t seed;
    bool verbose;
    struct cli_list inputs; // --input and --extra, in command-line order
};

static const char *const levels[] = {"low", "mid", "high", NULL};

// The table and the spec, pointing into one struct demo.
struct demo_cli {
    struct cli_opt opts[9];
    struct cli_spec spec;
};

static const struct cli_spec *demo_init(struct demo_cli *c, struct demo *d) {
    const struct cli_opt opts[] = {
        CLI_STR("--name", &d->name, "NAME", CLI_REQUIRED, "who is asking"),
        CLI_NUM("--ratio", &d->ratio, 0, 1, "R", 0, "a share, from 0 to 1"),
        CLI_INT("--count", &d->count, 1, 10, "N", "how many times"),
        CLI_SECTION("more:"),
        CLI_U64("--seed", &d->seed, 0, 9007199254740992.0, "S", "the seed"),
        CLI_CHOICE("--level", &d->level, levels, "L", "low, mid or high"),
        CLI_FLAG("--verbose", &d->verbose, "say more"),
        CLI_LIST("--input", &d->inputs, "FILE", 0, "an input file (repeatable)"),
        CLI_LIST("--extra", &d->inputs, "FILE", 0, "an extra file, in the same list"),
    };
    memcpy(c->opts, opts, sizeof opts);
    c->spec = (struct cli_spec){.name = "demo",
                                .args = "[ARG ...]",
                                .max_args = 2,
                                .about = "A demonstration.",
                                .opts = c->opts,
                                .n_opts = RL_COUNTOF(opts),
                                .notes = "A note at the end."};
    return &c->spec;
}

static char captured[8192];

// cli_parse with the given file descriptor (stdout or stderr) captured into `captured`.
static int parse_captured(int fd, const struct cli_spec *spec, int argc, char **argv, int *n) {
    fflush(stdout);
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(fd);
    if (!tmp || saved < 0)
        return -100;
    dup2(fileno(tmp), fd);
    int rc = cli_parse(spec, argc, argv, n);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, fd);
    close(saved);
    rewind(tmp);
    size_t k = fread(captured, 1, sizeof captured - 1, tmp);
    captured[k] = '\0';
    fclose(tmp);
    return rc;
}

static int parse_err(const struct cli_spec *spec, int argc, char **argv, int *n) {
    return parse_captured(STDERR_FILENO, spec, argc, argv, n);
}

// ----------------------------------------------------------------------------
// Values

TEST(cli_options_both_spellings) {
    struct demo d = {.count = 3, .level = -1};
    struct demo_cli cd;
    const struct cli_spec *spec_d = demo_init(&cd, &d);
    char *argv[] = {"demo",   "--name=ada", "--ratio",      "0.25",     "--count=7",
                    "--seed", "12345",      "--level=high", "--verbose"};
    int n = -1;
    ASSERT_EQ(parse_err(spec_d, RL_COUNTOF(argv), argv, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_STR_EQ(d.name, "ada");
    ASSERT_NEAR(d.ratio, 0.25, 0);
    ASSERT_EQ(d.count, 7);
    ASSERT_EQ(d.seed, 12345);
    ASSERT_EQ(d.level, 2);
    ASSERT(d.verbose);
    ASSERT_STR_EQ(captured, "");
    // An option not given keeps its value; a value may start with '-' or hold '='.
    struct demo e = {.count = 3, .ratio = 0.5};
    struct demo_cli ce;
    const struct cli_spec *spec_e = demo_init(&ce, &e);
    char *argv2[] = {"demo", "--name", "-x=y"};
    ASSERT_EQ(parse_err(spec_e, RL_COUNTOF(argv2), argv2, &n), 0);
    ASSERT_STR_EQ(e.name, "-x=y");
    ASSERT_EQ(e.count, 3);
    ASSERT_NEAR(e.ratio, 0.5, 0);
    return 0;
}

TEST(cli_options_value_errors) {
    static const struct {
        /* input */
        const char *arg, *value; // value NULL: arg is the whole last argument
        /* output */
        const char *want;
    } cases[] = {
        {"--ratio", "1.5",
         "routellm: demo: --ratio: '1.5' is not a number in [0, 1]\n"
         "  --ratio R     a share, from 0 to 1\n"},
        {"--ratio", "abc", "--ratio: 'abc' is not a number in [0, 1]"},
        {"--ratio=", NULL, "--ratio: '' is not a number in [0, 1]"},
        {"--count", "0", "--count: '0' is not an integer in [1, 10]"},
        {"--count", "2.5", "--count: '2.5' is not an integer in [1, 10]"},
        {"--count=11", NULL, "--count: '11' is not an integer in [1, 10]"},
        {"--seed", "-1", "--seed: '-1' is not an integer in [0, 9007199254740992]"},
        {"--level", "hgh", "--level: 'hgh' is not one of low, mid, high (did you mean 'high'?)"},
        {"--level", "zzzzzz", "--level: 'zzzzzz' is not one of low, mid, high\n"},
        {"--verbose=yes", NULL, "--verbose takes no value"},
        {"--count", "", "--count: '' is not an integer in [1, 10]"},
        {"--ratio", "nan", "--ratio: 'nan' is not a number in [0, 1]"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct demo d = {0};
        struct demo_cli cd;
        const struct cli_spec *spec_d = demo_init(&cd, &d);
        char *argv[] = {"demo", "--name", "x", (char *)cases[i].arg, (char *)cases[i].value};
        int argc = cases[i].value ? 5 : 4, n;
        int rc = parse_err(spec_d, argc, argv, &n);
        if (rc != CLI_EXIT_USAGE || !strstr(captured, cases[i].want))
            TEST_FAIL_("'%s %s': %d, \"%s\"", cases[i].arg, cases[i].value ? cases[i].value : "",
                       rc, captured);
    }
    return 0;
}

TEST(cli_options_missing_value_and_required) {
    struct demo d = {0};
    struct demo_cli cd;
    const struct cli_spec *spec_d = demo_init(&cd, &d);
    int n;
    char *argv[] = {"demo", "--name", "x", "--count"};
    ASSERT_EQ(parse_err(spec_d, RL_COUNTOF(argv), argv, &n), CLI_EXIT_USAGE);
    ASSERT_STR_CONTAINS(captured, "routellm: demo: --count needs a value\n");
    char *argv2[] = {"demo", "--count", "2"};
    ASSERT_EQ(parse_err(spec_d, RL_COUNTOF(argv2), argv2, &n), CLI_EXIT_USAGE);
    ASSERT_STR_CONTAINS(captured, "routellm: demo: --name NAME is required\n"
                                  "usage: routellm demo --name NAME [options] [ARG ...]\n");
    char *argv3[] = {"demo", "--name", "x", "a", "b", "c"};
    ASSERT_EQ(parse_err(spec_d, RL_COUNTOF(argv3), argv3, &n), CLI_EXIT_USAGE);
    ASSERT_STR_CONTAINS(captured, "unexpected argument 'c'");
    return 0;
}

// ----------------------------------------------------------------------------
// Did you mean

TEST(cli_options_did_you_mean) {
    static const struct {
        /* input */
        const char *arg;
        /* output */
        const char *want;
    } cases[] = {
        {"--nmae", "unknown option '--nmae' (did you mean '--name'?)"},
        {"--rato=0.5", "unknown option '--rato' (did you mean '--ratio'?)"},
        {"--verbos", "unknown option '--verbos' (did you mean '--verbose'?)"},
        {"--inptu", "(did you mean '--input'?)"},
        {"--hepl", "(did you mean '--help'?)"},
        {"-v", "unknown option '-v'\n"},
        {"--frobnicate", "unknown option '--frobnicate'\n"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct demo d = {0};
        struct demo_cli cd;
        const struct cli_spec *spec_d = demo_init(&cd, &d);
        char *argv[] = {"demo", "--name", "x", (char *)cases[i].arg};
        int n;
        int rc = parse_err(spec_d, RL_COUNTOF(argv), argv, &n);
        if (rc != CLI_EXIT_USAGE || !strstr(captured, cases[i].want))
            TEST_FAIL_("'%s': %d, \"%s\"", cases[i].arg, rc, captured);
    }
    struct cli_suggest s;
    cli_suggest_init(&s, "--treshold");
    cli_suggest_add(&s, "--router");
    cli_suggest_add(&s, "--threshold");
    cli_suggest_add(&s, "--json");
    ASSERT_STR_EQ(s.best, "--threshold");
    ASSERT_EQ(s.dist, 1);
    cli_suggest_init(&s, "frobnicate");
    cli_suggest_add(&s, "calibrate");
    cli_suggest_add(&s, "route");
    ASSERT_NULL(s.best);
    cli_suggest_init(&s, "--wieght-decay"); // a transposition counts once
    cli_suggest_add(&s, "--weight-decay");
    ASSERT_EQ(s.dist, 1);
    ASSERT_EQ(edit_distance("kitten", "sitting"), 3);
    ASSERT_EQ(edit_distance("", "abc"), 3);
    ASSERT_EQ(edit_distance("MiXeD", "mixed"), 0);
    return 0;
}

// ----------------------------------------------------------------------------
// Lists and positional arguments

TEST(cli_options_lists_and_args) {
    struct demo d = {0};
    struct demo_cli cd;
    const struct cli_spec *spec_d = demo_init(&cd, &d);
    char *argv[] = {"demo",    "first", "--input", "a",  "--name=x", "--extra=b",
                    "--input", "c",     "-",       "--", "--input"};
    int n = -1;
    ASSERT_EQ(parse_err(spec_d, RL_COUNTOF(argv), argv, &n), CLI_EXIT_USAGE);
    ASSERT_STR_CONTAINS(captured, "unexpected argument '--input'"); // 3 > max_args
    struct demo e = {0};
    struct demo_cli ce;
    const struct cli_spec *spec_e = demo_init(&ce, &e);
    char *argv2[] = {"demo",      "first",   "--input", "a",  "--name=x",
                     "--extra=b", "--input", "c",       "--", "--input"};
    ASSERT_EQ(parse_err(spec_e, RL_COUNTOF(argv2), argv2, &n), 0);
    ASSERT_EQ(e.inputs.n, 3);
    ASSERT_STR_EQ(e.inputs.value[0], "a");
    ASSERT_STR_EQ(e.inputs.opt[0], "--input");
    ASSERT_STR_EQ(e.inputs.value[1], "b");
    ASSERT_STR_EQ(e.inputs.opt[1], "--extra");
    ASSERT_STR_EQ(e.inputs.value[2], "c");
    // The positional arguments, in order, at argv[1..n]; after `--` an option is an argument.
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(argv2[1], "first");
    ASSERT_STR_EQ(argv2[2], "--input");
    ASSERT_STR_EQ(e.name, "x");

    // The first argument may end the options (embed's texts), and `-` is an argument.
    struct demo f = {0};
    const struct cli_opt opts2[] = {CLI_FLAG("--verbose", &f.verbose, "say more")};
    const struct cli_spec texts = {
        .name = "texts", .max_args = -1, .args_end_options = true, .opts = opts2, .n_opts = 1};
    char *argv3[] = {"texts", "--verbose", "-", "--verbose", "x"};
    ASSERT_EQ(parse_err(&texts, RL_COUNTOF(argv3), argv3, &n), 0);
    ASSERT(f.verbose);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(argv3[1], "-");
    ASSERT_STR_EQ(argv3[2], "--verbose");
    ASSERT_STR_EQ(argv3[3], "x");

    // A list holds CLI_LIST_MAX values.
    static char *many[2 + 2 * (CLI_LIST_MAX + 1)];
    many[0] = "demo";
    many[1] = "--name=x";
    for (int i = 0; i <= CLI_LIST_MAX; i++) {
        many[2 + 2 * i] = "--input";
        many[3 + 2 * i] = "f";
    }
    struct demo g = {0};
    struct demo_cli cg;
    const struct cli_spec *spec_g = demo_init(&cg, &g);
    ASSERT_EQ(parse_err(spec_g, 2 + 2 * CLI_LIST_MAX, many, &n), 0);
    ASSERT_EQ(g.inputs.n, CLI_LIST_MAX);
    struct demo h = {0};
    struct demo_cli ch;
    const struct cli_spec *spec_h = demo_init(&ch, &h);
    ASSERT_EQ(parse_err(spec_h, RL_COUNTOF(many), many, &n), CLI_EXIT_USAGE);
    ASSERT_STR_CONTAINS(captured, "--input: given more than 128 times");
    return 0;
}

// ----------------------------------------------------------------------------
// Help

TEST(cli_options_help) {
    struct demo d = {0};
    struct demo_cli cd;
    const struct cli_spec *spec_d = demo_init(&cd, &d);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ASSERT_NOT_NULL(f);
    cli_help(spec_d, f);
    fclose(f);
    ASSERT_STR_CONTAINS(text, "usage: routellm demo --name NAME [options] [ARG ...]\n\n"
                              "A demonstration.\n\noptions:\n"
                              "  --name NAME   who is asking\n");
    ASSERT_STR_CONTAINS(text, "\nmore:\n  --seed S      the seed\n");
    ASSERT_STR_CONTAINS(text, "\n\nA note at the end.\n");
    for (size_t i = 0; i < spec_d->n_opts; i++) {
        if (cd.opts[i].type == CLI_OPT_SECTION)
            continue;
        char head[64];
        snprintf(head, sizeof head, "  %s%s%s ", cd.opts[i].name, cd.opts[i].metavar ? " " : "",
                 cd.opts[i].metavar ? cd.opts[i].metavar : "");
        ASSERT_STR_CONTAINS(text, head);
        ASSERT_STR_CONTAINS(text, cd.opts[i].help);
    }
    free(text);

    // --help anywhere among the options prints the same on stdout.
    char *argv[] = {"demo", "--count", "2", "--help", "--bogus"};
    int n;
    ASSERT_EQ(parse_captured(STDOUT_FILENO, spec_d, RL_COUNTOF(argv), argv, &n), CLI_HELP);
    ASSERT_STR_CONTAINS(captured, "usage: routellm demo --name NAME [options] [ARG ...]\n");
    ASSERT_STR_CONTAINS(captured, "  --extra FILE  an extra file, in the same list\n");

    // Long help is wrapped at 79 columns under its column; a long option's help goes below it.
    const char *words = "one two three four five six seven eight nine ten eleven twelve "
                        "thirteen fourteen fifteen sixteen";
    const struct cli_opt long_opts[] = {
        CLI_FLAG("--a", &d.verbose, words),
        CLI_FLAG("--a-very-long-option-name-indeed", &d.verbose, "short"),
    };
    const struct cli_spec ls = {.name = "wrap", .opts = long_opts, .n_opts = 2};
    f = open_memstream(&text, &len);
    cli_help(&ls, f);
    fclose(f);
    ASSERT_STR_CONTAINS(text, "  --a                       one two three four five six seven "
                              "eight nine ten\n"
                              "                            eleven twelve thirteen fourteen "
                              "fifteen sixteen\n"
                              "  --a-very-long-option-name-indeed\n"
                              "                            short\n");
    for (char *line = text; *line; line = strchr(line, '\n') + 1)
        ASSERT(strchr(line, '\n') - line <= HELP_WIDTH);
    free(text);
    return 0;
}
