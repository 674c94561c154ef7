// Grading the answers of `routellm label`: reading a judge's verdict, grading against a reference
// answer without a judge, and the judge's prompts. Every reader here refuses rather than
// guesses: a reply without a clear verdict is a missing label, counted by the caller.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/label.h"

// ----------------------------------------------------------------------------
// Judge verdicts

// The number inside "[[...]]" at s (s points past the brackets' start), with *end past the
// closing brackets; false when the brackets hold anything but a plain decimal number.
static bool bracket_number(const char *s, double *v, const char **end) {
    const char *p = s;
    while (*p == ' ')
        p++;
    const char *digits = p;
    while (isdigit((unsigned char)*p))
        p++;
    if (p == digits)
        return false;
    if (*p == '.' && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p);)
            p++;
    size_t n = (size_t)(p - digits);
    while (*p == ' ')
        p++;
    if (p[0] != ']' || p[1] != ']' || n > 16)
        return false;
    char tmp[24];
    memcpy(tmp, digits, n);
    tmp[n] = '\0';
    *v = strtod(tmp, NULL);
    *end = p + 2;
    return true;
}

int label_parse_score(const char *reply, double *score) {
    bool found = false;
    double first = 0;
    for (const char *p = strstr(reply, "[["); p; p = strstr(p, "[[")) {
        double v;
        const char *end;
        if (!bracket_number(p + 2, &v, &end)) {
            p += 2;
            continue;
        }
        if (found && v != first)
            return RL_EFORMAT; // two different ratings: which one is meant is a guess
        first = v;
        found = true;
        p = end;
    }
    if (!found || !(first >= LABEL_SCORE_MIN && first <= LABEL_SCORE_MAX))
        return RL_EFORMAT;
    *score = first;
    return RL_OK;
}

char label_parse_pair(const char *reply) {
    static const char *const marks[3] = {"[[A]]", "[[B]]", "[[C]]"};
    char found = 0;
    for (int i = 0; i < 3; i++) {
        if (!strstr(reply, marks[i]))
            continue;
        if (found)
            return 0;
        found = marks[i][2];
    }
    return found;
}

// Points of the model shown in position `pos` ('A' or 'B') under verdict v.
static double pair_points(char v, char pos) {
    return v == 'C' ? 0.5 : v == pos ? 1.0 : 0.0;
}

double label_pair_quality(char v_first, char v_second) {
    if (!v_first || !v_second)
        return NAN;
    return (pair_points(v_first, 'A') + pair_points(v_second, 'B')) / 2;
}

// ----------------------------------------------------------------------------
// Reference grading

void label_normalise(char *s) {
    size_t n = 0;
    bool space = false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c)) {
            space = n > 0;
            continue;
        }
        if (space)
            s[n++] = ' ';
        space = false;
        s[n++] = (char)tolower(c);
    }
    s[n] = '\0';
    // Quotes around the whole and a final full stop, comma, or exclamation or question mark.
    while (n && strchr(".,!?;\"'`", s[n - 1]))
        s[--n] = '\0';
    size_t lead = 0;
    while (lead < n && strchr("\"'`", s[lead]))
        lead++;
    memmove(s, s + lead, n - lead + 1);
}

bool label_last_number(const char *s, double *value) {
    const char *best = NULL;
    size_t best_len = 0;
    for (const char *p = s; *p;) {
        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *start = p;
        // Digits, with commas between groups and one decimal point followed by a digit.
        while (
            isdigit((unsigned char)*p) || (*p == ',' && isdigit((unsigned char)p[1])) ||
            (*p == '.' && isdigit((unsigned char)p[1]) && !memchr(start, '.', (size_t)(p - start))))
            p++;
        if (start > s && start[-1] == '-')
            start--;
        best = start;
        best_len = (size_t)(p - start);
    }
    if (!best || best_len > 64)
        return false;
    char tmp[72];
    size_t n = 0;
    for (size_t i = 0; i < best_len; i++)
        if (best[i] != ',')
            tmp[n++] = best[i];
    tmp[n] = '\0';
    char *end;
    *value = strtod(tmp, &end);
    return end != tmp && isfinite(*value);
}

// A letter A-J (either case) at s standing alone: not followed by another letter.
static char lone_letter(const char *s) {
    char c = (char)toupper((unsigned char)*s);
    if (c < 'A' || c > 'J' || isalpha((unsigned char)s[1]))
        return 0;
    return c;
}

char label_choice(const char *s) {
    const char *p = s;
    while (isspace((unsigned char)*p) || *p == '(' || *p == '[')
        p++;
    char c = lone_letter(p);
    if (c) {
        bool closed = p[1] == '\0' || strchr(").]:", p[1]);
        // "A" and "I" also begin ordinary sentences ("A good question", "I think"): for them
        // only a letter closed by the end, a bracket, a full stop or a colon counts.
        if (closed || (c != 'A' && c != 'I' && isspace((unsigned char)p[1])))
            return c;
    }
    static const char *const cues[] = {"answer is", "answer:"};
    const char *last = NULL;
    for (size_t k = 0; k < 2; k++) {
        for (const char *q = strcasestr(s, cues[k]); q; q = strcasestr(q + 1, cues[k]))
            if (!last || q > last)
                last = q + strlen(cues[k]);
    }
    if (!last)
        return 0;
    while (isspace((unsigned char)*last) || *last == '(' || *last == '[' || *last == '*')
        last++;
    return lone_letter(last);
}

int label_grader_init(struct label_grader *g, const char *spec, char *errbuf) {
    memset(g, 0, sizeof *g);
    static const char *const names[] = {"exact", "number", "choice"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(spec, names[i]) == 0) {
            g->kind = (enum label_grader_kind)i;
            return RL_OK;
        }
    }
    if (strncmp(spec, "regex:", 6) != 0)
        return rl__errf(errbuf, RL_EINVAL,
                        "unknown grader '%.60s' (expected exact, number, choice or regex:RE)",
                        spec);
    if (!spec[6])
        return rl__errf(errbuf, RL_EINVAL, "regex: needs a pattern (regex:RE)");
    int rc = regcomp(&g->re, spec + 6, REG_EXTENDED | REG_ICASE);
    if (rc != 0) {
        char why[128];
        regerror(rc, &g->re, why, sizeof why);
        return rl__errf(errbuf, RL_EINVAL, "regex '%.80s': %s", spec + 6, why);
    }
    g->kind = LABEL_GRADER_REGEX;
    return RL_OK;
}

void label_grader_free(struct label_grader *g) {
    if (g->kind == LABEL_GRADER_REGEX)
        regfree(&g->re);
    g->kind = LABEL_GRADER_EXACT;
}

bool label_grader_reference_ok(const struct label_grader *g, const char *reference) {
    double v;
    switch (g->kind) {
    case LABEL_GRADER_NUMBER: return label_last_number(reference, &v);
    case LABEL_GRADER_CHOICE: return label_choice(reference) != 0;
    default: return reference[0] != '\0';
    }
}

// The last match of g's regex in s, its first group when it has one, copied into out; false when
// nothing matches.
static bool regex_last(const struct label_grader *g, const char *s, char *out, size_t size) {
    regmatch_t m[2];
    const char *p = s, *hit = NULL;
    size_t hit_len = 0;
    int flags = 0;
    while (*p && regexec(&g->re, p, 2, m, flags) == 0) {
        int k = m[1].rm_so >= 0 ? 1 : 0;
        hit = p + m[k].rm_so;
        hit_len = (size_t)(m[k].rm_eo - m[k].rm_so);
        // Move on past the match (at least one byte, so an empty match cannot loop).
        p += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
        flags = REG_NOTBOL;
    }
    if (!hit)
        return false;
    if (hit_len >= size)
        hit_len = size - 1;
    memcpy(out, hit, hit_len);
    out[hit_len] = '\0';
    return true;
}

// Whether a and b are equal after label_normalise.
static bool same_text(const char *a, const char *b) {
    char *x = strdup(a), *y = strdup(b);
    bool same = false;
    if (x && y) {
        label_normalise(x);
        label_normalise(y);
        same = strcmp(x, y) == 0;
    }
    free(x);
    free(y);
    return same;
}

int label_grade(const struct label_grader *g, const char *answer, const char *reference,
                double *quality) {
    switch (g->kind) {
    case LABEL_GRADER_EXACT: *quality = same_text(answer, reference); return RL_OK;
    case LABEL_GRADER_NUMBER: {
        double a, r;
        if (!label_last_number(answer, &a) || !label_last_number(reference, &r))
            return RL_EFORMAT;
        *quality = fabs(a - r) <= 1e-9 * fmax(1, fabs(r));
        return RL_OK;
    }
    case LABEL_GRADER_CHOICE: {
        char a = label_choice(answer), r = label_choice(reference);
        if (!a || !r)
            return RL_EFORMAT;
        *quality = a == r;
        return RL_OK;
    }
    case LABEL_GRADER_REGEX: {
        char got[1024];
        if (!regex_last(g, answer, got, sizeof got))
            return RL_EFORMAT;
        *quality = same_text(got, reference);
        return RL_OK;
    }
    }
    return RL_EFORMAT;
}

// ----------------------------------------------------------------------------
// The judge's prompts: MT-Bench's "single-v1" and "pair-v2", word for word, from
// lm-sys/FastChat, fastchat/llm_judge/data/judge_prompts.jsonl (commit 0e6e7fd; Apache-2.0,
// see NOTICE). They are data: the placeholders are filled by string concatenation below.

static const char single_system[] = "You are a helpful assistant.";
static const char single_head[] =
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response "
    "provided by an AI assistant to the user question displayed below. Your evaluation should "
    "consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level "
    "of detail of the response. Begin your evaluation by providing a short explanation. Be as "
    "objective as possible. After providing your explanation, you must rate the response on a "
    "scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: "
    "[[5]]\".\n\n[Question]\n";
static const char single_mid[] = "\n\n[The Start of Assistant's Answer]\n";
static const char single_tail[] = "\n[The End of Assistant's Answer]";

static const char pair_system[] =
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question better. Your evaluation "
    "should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, "
    "and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. Avoid any positional biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow "
    "the length of the responses to influence your evaluation. Do not favor certain names of the "
    "assistants. Be as objective as possible. After providing your explanation, output your "
    "final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie.";
static const char pair_head[] = "[User Question]\n";
static const char pair_a[] = "\n\n[The Start of Assistant A's Answer]\n";
static const char pair_b[] = "\n[The End of Assistant A's Answer]\n\n[The Start of Assistant B's "
                             "Answer]\n";
static const char pair_tail[] = "\n[The End of Assistant B's Answer]";

json_t *label_judge_messages(const char *question, const char *answer_a, const char *answer_b) {
    struct rl_buf user;
    rl_buf_init(&user, 2 * LABEL_MAX_ANSWER + (64u << 10));
    int rc = answer_b ? rl_buf_appendf(&user, "%s%s%s%s%s%s%s", pair_head, question, pair_a,
                                       answer_a, pair_b, answer_b, pair_tail)
                      : rl_buf_appendf(&user, "%s%s%s%s%s", single_head, question, single_mid,
                                       answer_a, single_tail);
    json_t *msgs = NULL;
    if (rc == RL_OK)
        msgs = json_pack("[{s:s,s:s},{s:s,s:s%}]", "role", "system", "content",
                         answer_b ? pair_system : single_system, "role", "user", "content",
                         user.data, user.len);
    rl_buf_free(&user);
    return msgs;
}
