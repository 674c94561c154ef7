// `routellm label`: the verdict readers and reference graders (label_grade.c) case by case, then
// the command end to end through the built binary against the stub upstream's label modes (say,
// judge, biased): the table's qualities and costs, the judge's cost in the totals, pairwise
// judging, reference grading, failures and retries, --max-cost, resuming after `kill -9`
// without a lost or a repeated cell, and `eval --benchmark table:` reading the table.
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/label_grade.c"
#include "support/stub_upstream.h"
#include "test.h"

#ifndef RL_TEST_BIN
#define RL_TEST_BIN "build/routellm"
#endif

// ----------------------------------------------------------------------------
// Verdicts and grading

TEST(label_parse_score) {
    static const struct {
        const char *reply; // input
        double want;       // output: NAN for a missing verdict
    } cases[] = {
        {"The answer is helpful. Rating: [[7]]", 7},
        {"Rating: [[8.5]]", 8.5},
        {"[[ 10 ]]", 10},
        {"Rating: [[1]]. I repeat: [[1]]", 1},
        {"Rating: [[5]] ... on reflection, Rating: [[6]]", NAN}, // two ratings disagree
        {"Rating: [[0]]", NAN},                                  // out of 1-10
        {"Rating: [[11]]", NAN},
        {"Rating: [7]", NAN}, // single brackets are not the asked format
        {"Rating: [[seven]]", NAN},
        {"no verdict at all", NAN},
        {"", NAN},
        {"[[", NAN},
        {"[[7", NAN},
        {"[[[[9]]", 9},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        double got = -1;
        int rc = label_parse_score(cases[i].reply, &got);
        if (isnan(cases[i].want)) {
            if (rc != RL_EFORMAT)
                TEST_FAIL_("case %zu '%s': read %g", i, cases[i].reply, got);
        } else {
            ASSERT_OK(rc);
            ASSERT_NEAR(got, cases[i].want, 0);
        }
    }
    return 0;
}

TEST(label_parse_pair) {
    static const struct {
        const char *reply; // input
        char want;         // output
    } cases[] = {
        {"Assistant A is better. [[A]]", 'A'}, {"[[B]]", 'B'}, {"A tie: [[C]]", 'C'},
        {"[[A]] or maybe [[B]]", 0},           {"[[a]]", 0},   {"A", 0},
        {"[[A]] final: [[A]]", 'A'},           {"", 0},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++)
        ASSERT_EQ(label_parse_pair(cases[i].reply), cases[i].want);
    // The first model shown as A, then as B: wins count 1, ties 1/2, over both orders.
    ASSERT_NEAR(label_pair_quality('A', 'B'), 1, 0);
    ASSERT_NEAR(label_pair_quality('B', 'A'), 0, 0);
    ASSERT_NEAR(label_pair_quality('A', 'A'), 0.5, 0); // position bias cancels
    ASSERT_NEAR(label_pair_quality('C', 'B'), 0.75, 0);
    ASSERT_NEAR(label_pair_quality('C', 'C'), 0.5, 0);
    ASSERT(isnan(label_pair_quality('A', 0)));
    ASSERT(isnan(label_pair_quality(0, 'C')));
    return 0;
}

TEST(label_reference_graders) {
    static const struct {
        const char *grader, *answer, *reference; // input
        double want;                             // output: NAN when nothing can be compared
    } cases[] = {
        {"exact", "  Paris. ", "paris", 1},
        {"exact", "\"PARIS\"", "Paris", 1},
        {"exact", "Paris, France", "Paris", 0},
        {"number", "So she has 1,234 apples left.", "#### 1234", 1},
        {"number", "3 + 4 = 7, then 7 * 2 = 14", "14", 1},
        {"number", "The total is -5.", "-5", 1},
        {"number", "It costs $18.50", "18.5", 1},
        {"number", "The answer is 41.", "42", 0},
        {"number", "I do not know.", "42", NAN},
        {"choice", "B", "B", 1},
        {"choice", "(c) because ...", "C", 1},
        {"choice", "B. Paris", "(B)", 1},
        {"choice", "A good question; the answer is D.", "D", 1},
        {"choice", "I think the answer is (A)", "A", 1},
        {"choice", "The correct option: Answer: b", "B", 1},
        {"choice", "A", "B", 0},
        {"choice", "It depends.", "A", NAN},
        {"regex:final answer: *([a-z]+)", "Thinking... Final answer: Blue", "blue", 1},
        {"regex:final answer: *([a-z]+)", "final answer: red. Final answer: green", "green", 1},
        {"regex:final answer: *([a-z]+)", "no marker here", "green", NAN},
        {"regex:[0-9]+", "between 3 and 9", "9", 1},
    };
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct label_grader g;
        ASSERT_OK(label_grader_init(&g, cases[i].grader, err));
        ASSERT(label_grader_reference_ok(&g, cases[i].reference));
        double got = -1;
        int rc = label_grade(&g, cases[i].answer, cases[i].reference, &got);
        label_grader_free(&g);
        if (isnan(cases[i].want) ? rc != RL_EFORMAT : rc != RL_OK || got != cases[i].want)
            TEST_FAIL_("case %zu (%s, '%s' vs '%s'): rc %d, quality %g", i, cases[i].grader,
                       cases[i].answer, cases[i].reference, rc, got);
    }
    struct label_grader g;
    ASSERT_EQ(label_grader_init(&g, "fuzzy", err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "unknown grader 'fuzzy'");
    ASSERT_EQ(label_grader_init(&g, "regex:(", err), RL_EINVAL);
    ASSERT_EQ(label_grader_init(&g, "regex:", err), RL_EINVAL);
    ASSERT_OK(label_grader_init(&g, "number", err));
    ASSERT(!label_grader_reference_ok(&g, "forty-two"));
    label_grader_free(&g);
    ASSERT_OK(label_grader_init(&g, "choice", err));
    ASSERT(!label_grader_reference_ok(&g, "42"));
    label_grader_free(&g);
    return 0;
}

TEST(label_judge_prompts) {
    json_t *single = label_judge_messages("What is 2+2?", "4", NULL);
    json_t *pair = label_judge_messages("What is 2+2?", "four", "4");
    ASSERT_NOT_NULL(single);
    ASSERT_NOT_NULL(pair);
    const char *user = json_string_value(json_object_get(json_array_get(single, 1), "content"));
    ASSERT_STR_CONTAINS(user, "rate the response on a scale of 1 to 10");
    ASSERT_STR_CONTAINS(user, "[Question]\nWhat is 2+2?\n\n[The Start of Assistant's Answer]\n4\n"
                              "[The End of Assistant's Answer]");
    const char *sys = json_string_value(json_object_get(json_array_get(pair, 0), "content"));
    ASSERT_STR_CONTAINS(sys, "\"[[C]]\" for a tie.");
    user = json_string_value(json_object_get(json_array_get(pair, 1), "content"));
    ASSERT_STR_CONTAINS(user, "[The Start of Assistant A's Answer]\nfour\n[The End of Assistant "
                              "A's Answer]\n\n[The Start of Assistant B's Answer]\n4\n");
    json_decref(single);
    json_decref(pair);
    return 0;
}

// ----------------------------------------------------------------------------
// The command, against the stub upstream

struct env {
    char dir[64];
    char config[96], prompts[96], out[96], journal[128];
    struct stub_upstream *stub;
};

static bool env_start(struct env *e, bool threaded) {
    snprintf(e->dir, sizeof e->dir, "/tmp/rl_label_XXXXXX");
    if (!mkdtemp(e->dir))
        return false;
    snprintf(e->config, sizeof e->config, "%s/serve.yaml", e->dir);
    snprintf(e->out, sizeof e->out, "%s/table.csv", e->dir);
    snprintf(e->journal, sizeof e->journal, "%s.journal.jsonl", e->out);
    e->stub = stub_start(0, threaded);
    return e->stub != NULL;
}

static void env_stop(struct env *e) {
    stub_stop(e->stub);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", e->dir);
}

// Write a file of the environment's folder (name relative to it) into path.
static bool env_file(const struct env *e, const char *name, const char *text, char *path,
                     size_t size) {
    snprintf(path, size, "%s/%s", e->dir, name);
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;
    return f && fclose(f) == 0 && ok;
}

// The configuration: four fixed answerers and two judges, all on the stub. Answers are billed
// (100, 20) tokens and judgements (200, 10).
static bool env_config(struct env *e, const char *extra_models) {
    char text[4096];
    int port = stub_port(e->stub);
    snprintf(text, sizeof text,
             "models:\n"
             "  - {name: strong, base_url: 'http://127.0.0.1:%d/say/v1', model: 'alpha score=9',"
             " price_in: 1, price_out: 2}\n"
             "  - {name: weak, base_url: 'http://127.0.0.1:%d/say/v1', model: 'beta score=3',"
             " price_in: 0.5, price_out: 0.5}\n"
             "  - {name: mute, base_url: 'http://127.0.0.1:%d/say/v1', model: 'gamma'}\n"
             "  - {name: right, base_url: 'http://127.0.0.1:%d/say/v1', model: 'The answer is 42.',"
             " price_in: 1000, price_out: 0}\n"
             "  - {name: judge, base_url: 'http://127.0.0.1:%d/judge/v1', model: 'j',"
             " price_in: 1, price_out: 1}\n"
             "  - {name: biased, base_url: 'http://127.0.0.1:%d/biased/v1', model: 'b'}\n"
             "%s"
             "routing: {retries: 2, backoff_s: 0.01}\n",
             port, port, port, port, port, port, extra_models ? extra_models : "");
    char path[128];
    return env_file(e, "serve.yaml", text, path, sizeof path);
}

// Run a shell command; returns its exit status, its stdout and stderr in *out (caller frees).
static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    struct rl_buf b;
    rl_buf_init(&b, 1 << 22);
    char chunk[4096];
    size_t n;
    while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
        if (rl_buf_append(&b, chunk, n) != RL_OK)
            break;
    int st = p ? pclose(p) : -1;
    *out = b.data ? b.data : strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Run `routellm label --config C --out O <args>` (args formatted like printf).
static int label(const struct env *e, char **out, const char *fmt, ...) RL_PRINTF(3, 4);
static int label(const struct env *e, char **out, const char *fmt, ...) {
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s label --config %s --out %s %s 2>&1", RL_TEST_BIN, e->config,
             e->out, args);
    return run(cmd, out);
}

// label() that must exit with `status` and print `needle`: 0, or 1 after saying what it did.
#define LABEL_EXPECT(e, status, needle, ...)                                                       \
    do {                                                                                           \
        char *out_;                                                                                \
        int st_ = label(e, &out_, __VA_ARGS__);                                                    \
        bool ok_ = st_ == (status) && strstr(out_, needle);                                        \
        if (!ok_)                                                                                  \
            fprintf(stderr, "  exit %d, expected %d and \"%s\" in:\n%s\n", st_, status, needle,    \
                    out_);                                                                         \
        free(out_);                                                                                \
        ASSERT(ok_);                                                                               \
    } while (0)

static char *slurp(const char *path) {
    char *data = NULL;
    size_t len;
    return rl_file_read(path, 1 << 24, &data, &len, NULL) == RL_OK ? data : NULL;
}

// Count the journal's cell records, and fail the count (-1) when one (prompt, model) repeats.
static long journal_cells(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1 << 16];
    char seen[512][48];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *rec = json_loads(line, 0, NULL);
        const char *cell = json_string_value(json_object_get(rec, "cell"));
        const char *model = json_string_value(json_object_get(rec, "model"));
        if (cell && model && n < 512) {
            snprintf(seen[n], sizeof seen[n], "%.32s/%.12s", cell, model);
            for (long k = 0; k < n; k++)
                if (strcmp(seen[k], seen[n]) == 0)
                    n = -1000000;
            n++;
        }
        json_decref(rec);
    }
    fclose(f);
    return n < 0 ? -1 : n;
}

TEST(label_cli_judge) {
    struct env e;
    ASSERT(env_start(&e, false));
    char *out = NULL, prompts[128];
    ASSERT(env_config(&e, NULL));
    ASSERT(env_file(&e, "prompts.txt",
                    "How do I sort a list in Python?\nWrite a haiku about autumn leaves.\n"
                    "Explain the difference between TCP and UDP.\n"
                    "How do I sort a list in Python?\nWhat causes the seasons on Earth?\n",
                    prompts, sizeof prompts));
    const char *args = "--prompts %s --models strong,weak,mute --judge judge";
    int st = label(&e, &out, args, prompts);
    if (st != 0)
        TEST_FAIL_("label exited %d:\n%s", st, out);
    ASSERT_STR_CONTAINS(out, "label: 4 prompts (1 repeated one left out) x 3 models = 12 cells");
    // 12 answers and 12 judgements; judge cost 12 x (200 + 10) / 1e6 = 0.00252.
    ASSERT_STR_CONTAINS(out, "this run: 24 calls (12 answers, 12 judgements), 0 failed");
    ASSERT_STR_CONTAINS(out, "($0.002520 judging)");
    ASSERT_STR_CONTAINS(out, "12 of 12 cells labelled, 4 missing verdicts");
    free(out);
    char *table = slurp(e.out);
    ASSERT_NOT_NULL(table);
    // Qualities as the judge gave them (1-10); mute's answers have no verdict: empty cells. Costs:
    // strong 100 x 1 + 20 x 2 = 140 / 1e6, weak 60 / 1e6, mute 0 (no prices).
    ASSERT_STR_CONTAINS(table, "prompt,strong,weak,mute,strong|cost,weak|cost,mute|cost\n"
                               "How do I sort a list in Python?,9,3,,0.00014,6e-05,0\n");
    ASSERT_STR_CONTAINS(table, "\nWhat causes the seasons on Earth?,9,3,,0.00014,6e-05,0\n");
    free(table);
    ASSERT_EQ(journal_cells(e.journal), 12);

    // A rerun finds every cell done and calls nothing.
    stub_reset(e.stub);
    LABEL_EXPECT(&e, 0, "12 cells done by earlier runs", args, prompts);
    ASSERT_EQ(stub_count(e.stub, "say") + stub_count(e.stub, "judge"), 0);
    ASSERT_EQ(journal_cells(e.journal), 12);

    // eval reads the table as it is; a pair with an empty cell in every row leaves no row.
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s eval --benchmark table:%s --strong strong --weak weak --routers random,length "
             "--random-iters 2 --num-results 2 2>&1",
             RL_TEST_BIN, e.out);
    ASSERT_EQ(run(cmd, &out), 0);
    ASSERT_STR_CONTAINS(out, "4 prompts");
    ASSERT_STR_CONTAINS(out, "strong strong 9.000, weak weak 3.000");
    ASSERT_STR_CONTAINS(out, "costs: per-prompt columns strong|cost and weak|cost");
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s eval --benchmark table:%s --strong strong --weak mute --routers random 2>&1",
             RL_TEST_BIN, e.out);
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "no rows");
    free(out);

    // Another grading on the same table is refused: its journal is another job's.
    LABEL_EXPECT(&e, 1, "was written by another job",
                 "--prompts %s --models strong,weak,mute --judge biased", prompts);
    env_stop(&e);
    return 0;
}

TEST(label_cli_pairwise) {
    struct env e;
    ASSERT(env_start(&e, false));
    char prompts[128];
    ASSERT(env_config(&e, NULL));
    ASSERT(env_file(&e, "prompts.jsonl",
                    "{\"prompt\": \"Summarise the plot of Hamlet in two lines.\"}\n"
                    "{\"prompt\": \"Give three tips for a job interview.\"}\n",
                    prompts, sizeof prompts));
    LABEL_EXPECT(&e, 0, "this run: 8 calls (4 answers, 4 judgements)",
                 "--prompts %s --models weak,strong --judge judge --pairwise", prompts);
    char *table = slurp(e.out);
    ASSERT_NOT_NULL(table);
    // The judge prefers strong (score=9 over score=3) in both orders: 0 and 1.
    ASSERT_STR_CONTAINS(table, "prompt,weak,strong,weak|cost,strong|cost\n"
                               "Summarise the plot of Hamlet in two lines.,0,1,6e-05,0.00014\n");
    free(table);

    // A judge that always picks the first answer shown: both orders cancel into a tie.
    snprintf(e.out, sizeof e.out, "%s/biased.csv", e.dir);
    LABEL_EXPECT(&e, 0, "0 missing verdicts",
                 "--prompts %s --models weak,strong --judge biased --pairwise", prompts);
    table = slurp(e.out);
    ASSERT_STR_CONTAINS(table, "Give three tips for a job interview.,0.5,0.5,");
    free(table);

    // Usage errors (2) and bad input (1).
    static const struct {
        const char *args; // input
        int status;       // output
        const char *says;
    } bad[] = {
        {"--models weak,strong,mute --judge judge --pairwise", 2, "--pairwise compares two"},
        {"--models weak,strong", 2, "give --judge MODEL or --reference-column COL"},
        {"--models weak,nobody --judge judge", 2, "no model 'nobody'"},
        {"--models weak,weak --judge judge", 2, "'weak' is given twice"},
        {"--models weak --judge judge", 2, "give at least two models"},
        {"--models weak,strong --judge judge --grader number", 2, "--grader applies with"},
        {"--models weak,strong --reference-column answer --grader fuzzy", 2, "unknown grader"},
        {"--models weak,strong --reference-column answer", 1, "no string or number in member"},
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++)
        LABEL_EXPECT(&e, bad[i].status, bad[i].says, "--prompts %s %s", prompts, bad[i].args);
    env_stop(&e);
    return 0;
}

// Reference grading, failures and retries, and --max-cost.
TEST(label_cli_reference_and_budget) {
    struct env e;
    ASSERT(env_start(&e, false));
    char prompts[128];
    char denied[160];
    snprintf(denied, sizeof denied,
             "  - {name: broken, base_url: 'http://127.0.0.1:1/v1', model: 'x'}\n"
             "  - {name: denied, base_url: 'http://127.0.0.1:%d/e401/v1', model: 'x'}\n",
             stub_port(e.stub));
    ASSERT(env_config(&e, denied));
    ASSERT(env_file(&e, "prompts.csv",
                    "id,prompt,answer\n1,What is six times seven?,42\n"
                    "2,\"What is 40 + 2, exactly?\",#### 42\n3,What is 50 - 9?,41\n",
                    prompts, sizeof prompts));
    LABEL_EXPECT(&e, 0, "6 of 6 cells labelled",
                 "--prompts %s --models right,weak --reference-column answer --grader number",
                 prompts);
    char *table = slurp(e.out);
    ASSERT_NOT_NULL(table);
    // right says 42: right twice and wrong once; weak's answer ("beta score=3") is wrong.
    ASSERT_STR_CONTAINS(table, "prompt,right,weak,right|cost,weak|cost\n"
                               "What is six times seven?,1,0,0.1,6e-05\n"
                               "\"What is 40 + 2, exactly?\",1,0,0.1,6e-05\n"
                               "What is 50 - 9?,0,0,0.1,6e-05\n");
    free(table);

    // An upstream that cannot be reached: retried (routing.retries 2), counted, left open.
    snprintf(e.out, sizeof e.out, "%s/broken.csv", e.dir);
    const char *broken = "--prompts %s --models right,broken --reference-column answer";
    LABEL_EXPECT(&e, 1, "broken, prompt 1: failed after 3 attempts", broken, prompts);
    LABEL_EXPECT(&e, 1, "this run: 9 calls (0 answers, 0 judgements), 3 failed", broken, prompts);
    LABEL_EXPECT(&e, 1, "3 cells could not be labelled (failed calls); rerun", broken, prompts);
    table = slurp(e.out);
    ASSERT_STR_CONTAINS(table, "What is 50 - 9?,0,,0.1,\n");
    free(table);

    // Refused credentials stop the run: every other call would be refused too.
    snprintf(e.out, sizeof e.out, "%s/denied.csv", e.dir);
    LABEL_EXPECT(&e, 1, "denied: HTTP 401: the upstream refused the credentials",
                 "--prompts %s --models denied,right --reference-column answer --concurrency 1",
                 prompts);
    ASSERT_EQ(stub_count(e.stub, "e401"), 1);

    // The budget: each answer of `right` costs $0.1; one call at a time stops at the call that
    // reaches $0.25, and a rerun with a larger budget does the rest, each cell once.
    snprintf(e.out, sizeof e.out, "%s/budget.csv", e.dir);
    snprintf(e.journal, sizeof e.journal, "%s.journal.jsonl", e.out);
    stub_reset(e.stub);
    const char *budget =
        "--prompts %s --models right,mute --reference-column answer --concurrency 1 "
        "--max-cost %s";
    LABEL_EXPECT(&e, 1, "stopped at --max-cost $0.25 with 1 cell left", budget, prompts, "0.25");
    ASSERT_EQ(journal_cells(e.journal), 5);
    LABEL_EXPECT(&e, 1, "$0.300000 spent over all runs", budget, prompts, "0.25");
    LABEL_EXPECT(&e, 1, "this run: 0 calls", budget, prompts, "0.25"); // all runs count
    LABEL_EXPECT(&e, 0, "6 of 6 cells labelled", budget, prompts, "1");
    ASSERT_EQ(journal_cells(e.journal), 6);
    ASSERT_EQ(stub_count(e.stub, "say"), 6);

    // A reference the grader cannot use is refused before any call.
    char bad[128];
    ASSERT(env_file(&e, "bad.csv", "prompt,answer\nWhat is the capital of France?,Paris\n", bad,
                    sizeof bad));
    LABEL_EXPECT(&e, 1, "1 reference in column answer cannot be graded by number",
                 "--prompts %s --models right,mute --reference-column answer --grader number", bad);
    env_stop(&e);
    return 0;
}

// kill -9 in the middle of a run, a torn record, then a rerun: every cell once.
TEST(label_cli_resume_after_kill) {
    struct env e;
    ASSERT(env_start(&e, true));
    stub_set_delay(e.stub, 50);
    char prompts[128], text[4096] = "prompt,answer\n";
    ASSERT(env_config(&e, NULL));
    for (int i = 0; i < 30; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "Question number %d: what is 40 + 2?,42\n", i);
    }
    ASSERT(env_file(&e, "prompts.csv", text, prompts, sizeof prompts));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        execl(RL_TEST_BIN, RL_TEST_BIN, "label", "--config", e.config, "--out", e.out, "--prompts",
              prompts, "--models", "right,weak", "--reference-column", "answer", "--grader",
              "number", "--concurrency", "2", (char *)NULL);
        _exit(127);
    }
    // Kill it once it has recorded some cells, far from all 60.
    long cells = 0;
    for (int waited = 0; waited < 10000 && cells < 8; waited += 20) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        cells = journal_cells(e.journal);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ASSERT(WIFSIGNALED(status));
    cells = journal_cells(e.journal);
    ASSERT(cells >= 8 && cells < 60);
    // A record torn by the kill (written here, since the kill itself rarely lands mid-write).
    FILE *f = fopen(e.journal, "a");
    ASSERT_NOT_NULL(f);
    fputs("{\"cell\":\"00ff", f);
    fclose(f);
    long calls_before = stub_count(e.stub, "say");
    char *out;
    int st = label(&e, &out,
                   "--prompts %s --models right,weak --reference-column answer --grader number "
                   "--concurrency 4",
                   prompts);
    if (st != 0)
        TEST_FAIL_("the rerun exited %d:\n%s", st, out);
    char want[128];
    snprintf(want, sizeof want, "%ld cells done by earlier runs", cells);
    ASSERT_STR_CONTAINS(out, want);
    ASSERT_STR_CONTAINS(out, "cut a torn last record (13 bytes)");
    ASSERT_STR_CONTAINS(out, "60 of 60 cells labelled");
    free(out);
    ASSERT_EQ(journal_cells(e.journal), 60);
    // The rerun called exactly the cells left; the first run's calls in flight at the kill (at
    // most its concurrency) are the only ones paid twice.
    ASSERT_EQ(stub_count(e.stub, "say") - calls_before, 60 - cells);
    ASSERT(calls_before <= cells + 2);
    char *table = slurp(e.out);
    ASSERT_NOT_NULL(table);
    int rows = 0;
    for (const char *p = strchr(table, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        rows++;
    ASSERT_EQ(rows, 30);
    ASSERT_STR_CONTAINS(table, "Question number 29: what is 40 + 2?,1,0,0.1,6e-05\n");
    free(table);
    env_stop(&e);
    return 0;
}
