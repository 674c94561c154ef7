// `routellm eval` and `routellm calibrate` end to end, through the built binary: the JSON
// document's keys, CSV output on a user table, the plot files, and the error messages of bad
// invocations. Only the random router is used, so no encoder or router file is needed.
#include <jansson.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "rl/battle.h"
#include "rl/texts.h"
#include "test.h"

#ifndef RL_TEST_BIN
#define RL_TEST_BIN "build/routellm"
#endif

// --as value that scores the routers' default pair in place of a table's strong and weak columns.
#define AS_DEFAULT_PAIR "strong=" RL_MODEL_DEFAULT_STRONG ",weak=" RL_MODEL_DEFAULT_WEAK

// Run a shell command; returns its exit status and its stdout+stderr (caller frees).
static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    if (!p || !buf) {
        free(buf);
        *out = NULL;
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    *out = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Run a shell command that prints one JSON document: the document (caller decrefs), or NULL
// when the command fails or prints anything else (its output then goes to stderr).
static json_t *run_json(const char *cmd) {
    char *out;
    int st = run(cmd, &out);
    json_t *doc = st == 0 && out ? json_loads(out, 0, NULL) : NULL;
    if (!doc)
        fprintf(stderr, "  '%s' exited %d with:\n%s\n", cmd, st, out ? out : "");
    free(out);
    return doc;
}

TEST(eval_cli_json) {
    json_t *doc = run_json(RL_TEST_BIN " eval --benchmark gsm8k --routers random --random-iters 3 "
                                       "--bootstrap 20 --format json 2>/dev/null");
    ASSERT_NOT_NULL(doc);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "benchmark")), "gsm8k");
    ASSERT_EQ(json_integer_value(json_object_get(doc, "n_prompts")), 1307);
    ASSERT_EQ(json_integer_value(json_object_get(doc, "n_contaminated")), 12);
    json_t *routers = json_object_get(doc, "routers");
    ASSERT_EQ(json_array_size(routers), 2);
    json_t *r = json_array_get(routers, 0), *o = json_array_get(routers, 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "random");
    ASSERT_EQ(json_integer_value(json_object_get(r, "iters")), 3);
    ASSERT_EQ(json_array_size(json_object_get(r, "points")), 11);
    static const char *const keys[] = {"apgr",  "apgr_avg", "auc",      "cpt20",
                                       "cpt50", "cpt80",    "saving50", "saving80"};
    for (size_t k = 0; k < RL_COUNTOF(keys); k++) {
        ASSERT(json_is_number(json_object_get(r, keys[k])));
        ASSERT(json_is_number(json_object_get(o, keys[k])));
    }
    ASSERT(json_is_true(json_object_get(o, "oracle")));
    json_t *ci = json_object_get(r, "apgr_ci");
    ASSERT_EQ(json_array_size(ci), 2);
    ASSERT(json_number_value(json_array_get(ci, 0)) < json_number_value(json_array_get(ci, 1)));
    ASSERT(json_number_value(json_object_get(o, "apgr")) >
           json_number_value(json_object_get(r, "apgr")));
    json_t *p0 = json_array_get(json_object_get(r, "points"), 0);
    ASSERT_NEAR(json_number_value(json_object_get(p0, "strong_pct")), 0, 0);
    json_decref(doc);
    return 0;
}

TEST(eval_cli_table_csv) {
    char *out;
    int st = run(RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/table.csv "
                             "--prompt-column question --strong big --weak small "
                             "--strong-cost big_cost --weak-cost small_cost --num-results 2 "
                             "--format csv 2>&1",
                 &out);
    ASSERT_EQ(st, 0);
    ASSERT_STR_CONTAINS(out, "router,n_prompts,n_train_contaminated,weak_quality,strong_quality,"
                             "apgr,");
    ASSERT_STR_CONTAINS(out, "\nrandom,4,,");
    ASSERT_STR_CONTAINS(out, "\noracle,4,,");
    free(out);
    return 0;
}

// A pair whose strong model is not better (tied: the same column twice; inverted: the weak
// column as --strong) gets a warning naming both means and a result without PGR: AUC as usual,
// APGR, CPT and the savings as "-" in the table, null in JSON, empty in CSV, and no interval.
TEST(eval_cli_unordered_pair) {
    static const char *const pairs[] = {"--strong big --weak big", "--strong small --weak big"};
    for (size_t i = 0; i < RL_COUNTOF(pairs); i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd,
                 RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/table.csv "
                             "--prompt-column question %s --routers random,length "
                             "--random-iters 2 --bootstrap 20 --num-results 2 2>&1",
                 pairs[i]);
        ASSERT_EQ(run(cmd, &out), 0);
        ASSERT_STR_CONTAINS(out, "warning: " RL_TEST_DATA "/eval/table.csv: the strong model ");
        ASSERT_STR_CONTAINS(out, i ? "small (mean quality 0.475) is not better than the weak "
                                     "model big (mean 0.8) by at least 0.01,"
                                   : "big (mean quality 0.8) is not better than the weak model "
                                     "big (mean 0.8) by at least 0.004,");
        ASSERT_STR_CONTAINS(out, "\nrandom                -       -       -       -       -    ");
        ASSERT_STR_CONTAINS(out, "\noracle                -       -       -       -       -    ");
        ASSERT_STR_CONTAINS(out, "        -        -         -   -\n");
        free(out);

        snprintf(cmd, sizeof cmd,
                 RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/table.csv "
                             "--prompt-column question %s --routers random --random-iters 2 "
                             "--num-results 2 --format csv 2>/dev/null",
                 pairs[i]);
        ASSERT_EQ(run(cmd, &out), 0);
        ASSERT_STR_CONTAINS(out, i ? "\nrandom,4,,0.8,0.475,,,0." : "\nrandom,4,,0.8,0.8,,,0.8,");
        ASSERT_STR_CONTAINS(out, ",,,,,,,,,,\noracle,4,,");
        free(out);

        snprintf(cmd, sizeof cmd,
                 RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/table.csv "
                             "--prompt-column question %s --routers random --random-iters 2 "
                             "--bootstrap 20 --format json 2>/dev/null",
                 pairs[i]);
        json_t *doc = run_json(cmd);
        ASSERT_NOT_NULL(doc);
        for (size_t k = 0; k < 2; k++) {
            json_t *r = json_array_get(json_object_get(doc, "routers"), k);
            static const char *const undefined[] = {"apgr",     "apgr_avg", "cpt20",
                                                    "cpt50",    "cpt80",    "cpt50_min",
                                                    "saving50", "saving80", "apgr_ci"};
            for (size_t u = 0; u < RL_COUNTOF(undefined); u++)
                ASSERT(json_is_null(json_object_get(r, undefined[u])));
            ASSERT(json_is_number(json_object_get(r, "auc")));
            ASSERT(json_is_number(json_object_get(r, "cost_strong")));
            json_t *p0 = json_array_get(json_object_get(r, "points"), 0);
            ASSERT(json_is_null(json_object_get(p0, "pgr")));
            ASSERT(json_is_number(json_object_get(p0, "quality")));
        }
        json_decref(doc);
    }
    return 0;
}

TEST(eval_cli_plots) {
    char dir[] = "/tmp/rl_eval_plot_XXXXXX", cmd[512], *out;
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " eval --benchmark mt-bench --random-iters 2 --output %s/out 2>&1", dir);
    int st = run(cmd, &out);
    ASSERT_EQ(st, 0);
    ASSERT_STR_CONTAINS(out, "benchmark mt-bench: 72 prompts (80 in the source, 8 dropped");
    free(out);
    static const char *const files[] = {"mt-bench.csv", "mt-bench.png", "mt-bench.svg",
                                        "mt-bench.gp"};
    for (size_t i = 0; i < RL_COUNTOF(files); i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/out/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        ASSERT_NOT_NULL(f);
        char head[64] = "";
        size_t n = fread(head, 1, sizeof head - 1, f);
        fclose(f);
        ASSERT(n > 8);
        if (i == 0)
            ASSERT_STR_CONTAINS(head, "router,edge,threshold,strong_pct,quality,pgr,cost");
        if (i == 1)
            ASSERT(memcmp(head, "\x89PNG", 4) == 0);
        if (i == 2)
            ASSERT_STR_CONTAINS(head, "<?xml");
        remove(path);
    }
    snprintf(cmd, sizeof cmd, "%s/out", dir);
    rmdir(cmd);
    rmdir(dir);
    return 0;
}

// Option mistakes are usage errors (status 2); a failure while running is status 1.
TEST(eval_cli_errors) {
    static const struct {
        /* input */
        const char *args;
        /* output */
        int status;
        const char *want;
    } cases[] = {
        {"eval", 2, "--benchmark B is required"},
        {"eval --benchmark bogus", 2, "unknown benchmark 'bogus'"},
        {"eval --benchmark gsm8 --routers mf", 2, "(did you mean 'gsm8k'?)"},
        {"eval --benchmark mmlu --format xml", 2, "--format: 'xml'"},
        {"eval --benchmark mmlu --strong x", 2, "apply to --benchmark table:FILE only"},
        {"eval --benchmark table:x.csv", 2, "needs --strong COL and --weak COL"},
        {"eval --benchmark mmlu --num-results 0", 2, "--num-results: '0' is not an integer"},
        {"eval --benchmark mmlu --num-results=x", 2, "--num-results: 'x' is not an integer"},
        {"eval --benchmark mmlu --routers oracle", 2, "'oracle' is always reported"},
        {"eval --benchmark mmlu --router-file mf", 2, "--router-file: expected NAME=FILE"},
        {"eval --benchmark mmlu --train-prompts mf=x", 2, "no router named 'mf'"},
        {"eval --benchmark mmlu --train-prompts random=x", 2, "the random router has no"},
        {"eval --benchmark mmlu --bogus 1", 2, "unknown option '--bogus'"},
        {"eval --benchmark mmlu --bootstrp 1", 2, "(did you mean '--bootstrap'?)"},
        {"eval --benchmark mmlu extra", 2, "unexpected argument 'extra'"},
        {"eval --benchmark mmlu --as x", 2, "--as: expected [ROUTER:]strong=NAME,weak=NAME"},
        {"eval --benchmark mmlu --as mf:strong=a", 2, "--as: no router named 'mf'"},
        {"eval --benchmark mmlu --as strong=a,bogus=1", 2, "'bogus=1' is not strong=NAME or"},
        {"eval --benchmark mmlu --as strong=a,strong=b", 2, "'strong=b' is not strong=NAME"},
        {"eval --benchmark mmlu --as strong=a --as weak=b", 2, "given twice for every router"},
        {"eval --benchmark mmlu --routers length --as length:strong=a --as length:weak=b", 2,
         "given twice for length"},
        {"eval --benchmark mmlu --scores s=x --as s:strong=a", 2, "'s' is a score file"},
        {"eval --benchmark gsm8k --data-dir /nonexistent", 1, "/nonexistent/gsm8k"},
        {"eval --benchmark mt-bench --routers length --output README.md", 1,
         "--output README.md: not a folder"},
        {"eval --benchmark mt-bench --routers mf --scores-out README.md/x", 1,
         "--scores-out README.md/x: cannot create the folder"},
        {"calibrate --router random", 2, "--strong-model-pct P is required"},
        {"calibrate --routers random", 2, "--strong-model-pct P is required"},
        {"calibrate --router random --strong-model-pct 1.5", 2, "'1.5' is not a number in [0, 1]"},
        {"calibrate --router random --strong-model-pct 30", 2, "e.g. 0.3 for 30%"},
        {"calibrate --router random --strong-model-pct x", 2, "'x' is not a number"},
        {"calibrate --router random --strong-model-pct 0.3 --prompts /dev/null", 1,
         "no prompts in the sample"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", RL_TEST_BIN, cases[i].args);
        int st = run(cmd, &out);
        if (st != cases[i].status || !out || !strstr(out, cases[i].want)) {
            fprintf(stderr, "  '%s' exited %d (want %d) with:\n%s\n  (want \"%s\")\n",
                    cases[i].args, st, cases[i].status, out ? out : "", cases[i].want);
            free(out);
            return 1;
        }
        free(out);
    }
    return 0;
}

TEST(calibrate_cli) {
    json_t *doc =
        run_json(RL_TEST_BIN " calibrate --router random --strong-model-pct 0.3 --json 2>&1");
    ASSERT_NOT_NULL(doc);
    ASSERT_EQ(json_integer_value(json_object_get(doc, "n_prompts")), 1250);
    long long k = json_integer_value(json_object_get(doc, "n_strong"));
    ASSERT(k >= 374 && k <= 376);
    double a = json_number_value(json_object_get(doc, "threshold"));
    char want[64];
    snprintf(want, sizeof want, "router-random-%.5f", a);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "model")), want);
    json_decref(doc);

    char *out;
    int st = run(RL_TEST_BIN " calibrate --router random --strong-model-pct 0.5 2>&1", &out);
    ASSERT_EQ(st, 0);
    ASSERT_STR_CONTAINS(out, "threshold for 50.0% strong calls: 0.");
    ASSERT_STR_CONTAINS(out, "model: router-random-0.");
    free(out);
    return 0;
}

// Many models: the tolerance (or λ) found keeps the sample's average cost within the target and
// spends it: a target above the best models' cost gives 0 and every prompt to a best model, a
// tighter one sends some prompts to cheaper models; the options that do not fit are usage errors.
TEST(calibrate_cli_many_models) {
    // A sample of 200 real Arena prompts (the whole shipped sample takes a minute to embed).
    char sample[128], base[512], cmd[1024];
    snprintf(sample, sizeof sample, "/tmp/rl_test_%ld_sample.jsonl", (long)getpid());
    snprintf(cmd, sizeof cmd, "zcat data/prompts/arena_hard.jsonl.gz | head -200 > %s", sample);
    ASSERT_EQ(system(cmd), 0);
    snprintf(base, sizeof base,
             "%s calibrate --router mf --json --prompts %s --models "
             "gpt-4-1106-preview,mistral-7b-v0.1 --price gpt-4-1106-preview=10,30 --price "
             "mistral-7b-v0.1=0.1,0.1",
             RL_TEST_BIN, sample);
    static const char *const policies[] = {"cheapest", "utility"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s --policy %s --target-cost 0.004 2>&1", base, policies[k]);
        json_t *doc = run_json(cmd);
        ASSERT_NOT_NULL(doc);
        double avg = json_number_value(json_object_get(doc, "avg_cost"));
        double param = json_number_value(json_object_get(doc, "param"));
        json_t *share = json_object_get(doc, "share");
        double big = json_number_value(json_object_get(share, "gpt-4-1106-preview"));
        double small = json_number_value(json_object_get(share, "mistral-7b-v0.1"));
        ASSERT(avg <= 0.004 && avg > 0.002);
        ASSERT(param > 0);
        ASSERT(big > 0.1 && small > 0.1);
        ASSERT_NEAR(big + small, 1, 1e-9);
        ASSERT_EQ(json_integer_value(json_object_get(doc, "n_prompts")), 200);
        json_decref(doc);
        snprintf(cmd, sizeof cmd, "%s --policy %s --target-cost 1 2>&1", base, policies[k]);
        doc = run_json(cmd);
        ASSERT_NOT_NULL(doc);
        ASSERT_NEAR(json_number_value(json_object_get(doc, "param")), 0, 0);
        json_decref(doc);
        // A cap on the dear model's share instead of a cost.
        snprintf(cmd, sizeof cmd, "%s --policy %s --target-share gpt-4-1106-preview=0.3 2>&1", base,
                 policies[k]);
        doc = run_json(cmd);
        ASSERT_NOT_NULL(doc);
        big =
            json_number_value(json_object_get(json_object_get(doc, "share"), "gpt-4-1106-preview"));
        json_t *cap = json_object_get(doc, "target_share");
        ASSERT_STR_EQ(json_string_value(json_object_get(cap, "model")), "gpt-4-1106-preview");
        ASSERT_NEAR(json_number_value(json_object_get(cap, "share_dearer")), big, 1e-12);
        ASSERT(big <= 0.3 && big > 0.2);
        ASSERT(json_is_null(json_object_get(doc, "target_cost")));
        json_decref(doc);
    }
    static const struct {
        /* input */
        const char *args;
        /* output */
        int status;
        const char *want;
    } cases[] = {
        {"--router mf --models gpt-4-1106-preview --price gpt-4-1106-preview=1,1", 2,
         "with --models give one of --target-cost USD and --target-share M=P"},
        {"--router mf --models gpt-4-1106-preview --price gpt-4-1106-preview=1,1 --target-cost 1 "
         "--target-share gpt-4-1106-preview=0.5",
         2, "with --models give one of --target-cost USD and --target-share M=P"},
        {"--router mf --models gpt-4-1106-preview --price gpt-4-1106-preview=1,1 --target-share "
         "gpt-4-1106-preview=2",
         1, "P must be a fraction in [0, 1]"},
        {"--router mf --models gpt-4-1106-preview --price gpt-4-1106-preview=1,1 --target-share "
         "mistral-7b-v0.1=0.5",
         1, "--target-share names mistral-7b-v0.1, which is not among --models"},
        {"--router mf --models gpt-4-1106-preview --strong-model-pct 0.5 --target-cost 1", 2,
         "--strong-model-pct and --strong are for a pair"},
        {"--router mf --strong-model-pct 0.5 --target-cost 1", 2,
         "--price, --policy, --target-cost and --target-share go with --models"},
        {"--router length --models a,b --price a=1,1 --price b=1,1 --target-cost 1", 1,
         "a length router scores one pair and cannot rank models"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char *out;
        snprintf(cmd, sizeof cmd, "%s calibrate %s 2>&1", RL_TEST_BIN, cases[i].args);
        int st = run(cmd, &out);
        bool ok = st == cases[i].status && out && strstr(out, cases[i].want);
        if (!ok)
            fprintf(stderr, "  '%s' exited %d (want %d) with:\n%s\n", cases[i].args, st,
                    cases[i].status, out ? out : "");
        free(out);
        ASSERT(ok);
    }
    // Out of reach: even the cheapest model costs more than the target.
    char *out;
    snprintf(cmd, sizeof cmd, "%s --target-cost 0.000001 2>&1", base);
    ASSERT_EQ(run(cmd, &out), 0);
    ASSERT_STR_CONTAINS(out, "the cheapest candidates are too expensive");
    free(out);
    unlink(sample);
    return 0;
}

// A router file is not the shipped router of its kind: the model string names the file's stem,
// and the proxy's configuration that makes it mean this file is printed beside it.
TEST(calibrate_cli_router_file) {
    char cmd[1024], *out;
    long pid = (long)getpid();
    snprintf(cmd, sizeof cmd,
             "cp routers/mf.safetensors /tmp/rl_test_%ld_my-router.safetensors && "
             "printf 'hi\\nprove it\\nwrite code\\n' > /tmp/rl_test_%ld_p.txt && "
             "%s calibrate --router /tmp/rl_test_%ld_my-router.safetensors --strong-model-pct 0.5 "
             "--prompts /tmp/rl_test_%ld_p.txt 2>&1",
             pid, pid, RL_TEST_BIN, pid, pid);
    ASSERT_EQ(run(cmd, &out), 0);
    char want[256];
    snprintf(want, sizeof want, "model: router-rl_test_%ld_my_router-0.", pid);
    ASSERT_STR_CONTAINS(out, want);
    snprintf(want, sizeof want,
             "    rl_test_%ld_my_router: {checkpoint_path: /tmp/rl_test_%ld_my-router.safetensors, "
             "threshold: 0.",
             pid, pid);
    ASSERT_STR_CONTAINS(out, want);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -f /tmp/rl_test_%ld_my-router.safetensors /tmp/rl_test_%ld_p.txt",
             pid, pid);
    ASSERT_EQ(system(cmd), 0);
    return 0;
}

// Decontamination against a router's own training prompts, end to end: a small mf router trained
// (with the tiny test encoder) on tests/data/battles/table.csv, evaluated on a table holding two
// of its training prompts verbatim; those two are dropped for that router only. The table's
// models (strong, weak) are not the router's: that is an error naming the models it knows,
// unless --as names stand-ins, for every router or for this one; the length router needs none.
TEST(eval_cli_train_prompts) {
    char dir[] = "/tmp/rl_eval_mf_XXXXXX", cmd[1024], *out;
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " train mf --data table:" RL_TEST_DATA "/battles/table.csv --out "
                         "%s/mf.safetensors --model-dir " RL_TEST_DATA "/encoder/tiny-bert "
                         "--no-cache --epochs 1 2>&1",
             dir);
    int st = run(cmd, &out);
    if (st != 0)
        fprintf(stderr, "%s\n", out);
    free(out);
    ASSERT_EQ(st, 0);
    static const struct {
        const char *as;   // input: the --as options
        int status;       // output
        const char *want; // output: part of stderr
    } pairs[] = {
        {"", 1,
         "router mf does not know the model 'strong'; it knows: mixtral-8x7b-instruct-v0.1, "
         "gpt-4-1106-preview, llama-3-8b\nroutellm: to score mf here, name models it knows to "
         "stand in for the pair: --as strong=NAME,weak=NAME, or --as mf:strong=NAME,weak=NAME"},
        {"--as strong=gpt-4-1106-preview", 1, "does not know the model 'weak'"},
        {"--as strong=gpt-4o,weak=mixtral", 1, "does not know the model 'gpt-4o'"},
        {"--as strong=GPT4_1106_preview,weak=mixtral", 0,
         "note: mf scores strong vs weak as gpt-4-1106-preview vs mixtral-8x7b-instruct-v0.1"},
        {"--as mf:weak=llama-3-8b,strong=mixtral-8x7b-instruct-v0.1 --as strong=x,weak=y", 0,
         "note: mf scores strong vs weak as mixtral-8x7b-instruct-v0.1 vs llama-3-8b"},
    };
    for (size_t i = 0; i < RL_COUNTOF(pairs); i++) {
        snprintf(cmd, sizeof cmd,
                 RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/decontam.csv "
                             "--strong strong --weak weak --routers length --router-file "
                             "mf=%s/mf.safetensors --model-dir " RL_TEST_DATA "/encoder/tiny-bert "
                             "--no-cache --no-decontaminate --num-results 2 %s 2>&1 >/dev/null",
                 dir, pairs[i].as);
        st = run(cmd, &out);
        if (st != pairs[i].status || !strstr(out, pairs[i].want))
            fprintf(stderr, "  '%s' exited %d with:\n%s\n", pairs[i].as, st, out);
        ASSERT_EQ(st, pairs[i].status);
        ASSERT_STR_CONTAINS(out, pairs[i].want);
        free(out);
    }
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN
             " eval --benchmark table:" RL_TEST_DATA "/eval/decontam.csv --strong "
             "strong --weak weak --router-file mf=%s/mf.safetensors --model-dir " RL_TEST_DATA
             "/encoder/tiny-bert --train-prompts mf=" RL_TEST_DATA "/battles/table.csv "
             "--as " AS_DEFAULT_PAIR " --no-cache --num-results 2 --format json 2>/dev/null",
             dir);
    json_t *doc = run_json(cmd);
    snprintf(cmd, sizeof cmd, "%s/mf.safetensors", dir);
    remove(cmd);
    snprintf(cmd, sizeof cmd, "%s/mf.prompts.jsonl.gz", dir);
    remove(cmd);
    rmdir(dir);
    ASSERT_NOT_NULL(doc);
    json_t *mf = json_array_get(json_object_get(doc, "routers"), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(mf, "name")), "mf");
    ASSERT_EQ(json_integer_value(json_object_get(mf, "n_train_contaminated")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(mf, "n_prompts")), 2);
    ASSERT_NEAR(json_number_value(json_object_get(mf, "weak_quality")), 0.5, 1e-12);
    json_t *oracle = json_array_get(json_object_get(doc, "routers"), 1);
    ASSERT_EQ(json_integer_value(json_object_get(oracle, "n_prompts")), 4);
    ASSERT(json_is_null(json_object_get(oracle, "n_train_contaminated")));
    json_decref(doc);
    return 0;
}

// Regression: the MMLU questions once reported as leaked from RouterDC's MATH split were never
// trained on. They produce no gold battle (every model scored the same) or were dropped by
// --exclude, and the check had been run against the raw question list, a superset of the
// training prompts. A router now lists its own training prompts; the check uses that list.
// Fixture (tests/data/battles/leak.json against tests/data/eval/leak.csv): question 1 has no
// battle and is quoted by an evaluation prompt (cosine 0.995); question 2 has battles and is
// quoted (cosine 0.936); question 3 has battles and a near-duplicate (cosine 0.998); questions
// 4-6 are unrelated to the evaluation prompts.
TEST(eval_cli_decontaminate_own_prompts) {
    char dir[] = "/tmp/rl_eval_leak_XXXXXX", cmd[2048], *out;
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "ROUTELLM_HOME=%s " RL_TEST_BIN " train mf --data table:" RL_TEST_DATA
             "/battles/leak.json --exclude " RL_TEST_DATA "/eval/leak.csv --dropped "
             "%s/dropped.jsonl --out %s/mf.safetensors --alias "
             "gpt-4-1106-preview=meta-llama-3-8b --alias "
             "mixtral-8x7b-instruct-v0.1=mistral-7b-v0.1 --model-dir " RL_TEST_MODEL
             " --epochs 1 2>&1",
             dir, dir, dir);
    int st = run(cmd, &out);
    if (st != 0)
        fprintf(stderr, "%s\n", out);
    ASSERT_EQ(st, 0);
    ASSERT_STR_CONTAINS(out, "excluded 2 of 5 prompts");
    ASSERT_STR_CONTAINS(out, "training prompts: 3 in");
    free(out);

    // The list holds exactly the prompts trained on: not the battle-less question 1, not the
    // excluded questions 2 and 3.
    char path[256];
    snprintf(path, sizeof path, "%s/mf.prompts.jsonl.gz", dir);
    struct rl_texts texts;
    ASSERT_OK(rl_texts_load(path, NULL, &texts, NULL));
    ASSERT_EQ(texts.n, 3);
    ASSERT_STR_EQ(texts.items[0],
                  "Which gas do green plants absorb from the air during photosynthesis?");
    ASSERT_STR_EQ(texts.items[2], "Explain why the sky appears blue during a clear day.");
    rl_texts_free(&texts);

    static const struct {
        const char *extra; // input: more options
        long removed;      // output: n_train_contaminated, -1 for null
    } cases[] = {
        {"", 0},
        {"--train-prompts mf=" RL_TEST_DATA "/battles/leak.json", 3},
        {"--no-decontaminate", -1},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        snprintf(cmd, sizeof cmd,
                 "ROUTELLM_HOME=%s " RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA
                 "/eval/leak.csv --strong strong --weak weak --router-file mf=%s/mf.safetensors "
                 "--as " AS_DEFAULT_PAIR " --model-dir " RL_TEST_MODEL
                 " --num-results 2 --format json %s 2>/dev/null",
                 dir, dir, cases[i].extra);
        json_t *doc = run_json(cmd);
        ASSERT_NOT_NULL(doc);
        json_t *mf = json_array_get(json_object_get(doc, "routers"), 0);
        json_t *removed = json_object_get(mf, "n_train_contaminated");
        if (cases[i].removed < 0)
            ASSERT(json_is_null(removed));
        else
            ASSERT_EQ(json_integer_value(removed), cases[i].removed);
        ASSERT_EQ(json_integer_value(json_object_get(mf, "n_prompts")),
                  6 - (cases[i].removed > 0 ? cases[i].removed : 0));
        json_decref(doc);
    }

    // A list that changed since training, or that is gone, is an error, not a silent skip.
    snprintf(cmd, sizeof cmd, "echo >> %s", path);
    ASSERT_EQ(run(cmd, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd,
             "ROUTELLM_HOME=%s " RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA
             "/eval/leak.csv --strong strong --weak weak --router-file mf=%s/mf.safetensors "
             "--as " AS_DEFAULT_PAIR " --model-dir " RL_TEST_MODEL " 2>&1",
             dir, dir);
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "changed since the router was trained");
    free(out);
    remove(path);
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "cannot read the router's training prompts");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(run(cmd, &out), 0);
    free(out);
    return 0;
}

// Precomputed scores go through the same protocol: the worked example of docs/EVAL.md (APGR
// 0.55, APGR10 0.75, CPT(50%) 60%) from a score file in another order with an extra line, and
// --scores-out writes them back in benchmark order.
TEST(eval_cli_scores_files) {
    char dir[] = "/tmp/rl_eval_scores_XXXXXX", cmd[1024], *out;
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/worked.csv --strong s "
                         "--weak w --scores ex=" RL_TEST_DATA "/eval/worked_scores.jsonl "
                         "--num-results 4 --price-strong 10 --price-weak 1 --format json "
                         "--scores-out %s 2>&1",
             dir);
    json_t *doc = run_json(cmd);
    ASSERT_NOT_NULL(doc);
    json_t *r = json_array_get(json_object_get(doc, "routers"), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "ex");
    ASSERT_NEAR(json_number_value(json_object_get(r, "apgr")), 0.55, 1e-12);
    ASSERT_NEAR(json_number_value(json_object_get(r, "apgr_avg")), 0.75, 1e-12);
    ASSERT_NEAR(json_number_value(json_object_get(r, "cpt50")), 60, 1e-9);
    ASSERT(json_is_null(json_object_get(r, "n_train_contaminated")));
    json_decref(doc);

    char path[256];
    snprintf(path, sizeof path, "%s/worked-ex.jsonl", dir);
    struct rl_texts texts;
    ASSERT_OK(rl_texts_load(path, NULL, &texts, NULL));
    ASSERT_EQ(texts.n, 5);
    ASSERT_STR_EQ(texts.items[0], "prompt zero");
    ASSERT_STR_EQ(texts.items[4], "prompt four");
    rl_texts_free(&texts);
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/worked.csv --strong s "
                         "--weak w --scores back=%s --num-results 4 --format csv 2>&1",
             path);
    ASSERT_EQ(run(cmd, &out), 0);
    ASSERT_STR_CONTAINS(out, "\nback,5,,0.4,0.8,0.55,");
    free(out);

    // Every benchmark prompt needs a score, and every line must be an object with both members.
    static const struct {
        const char *content; // input: the score file
        const char *want;    // output: part of the error
    } bad[] = {
        {"{\"prompt\": \"prompt zero\", \"score\": 0.9}\n", "no score for prompt 2 of"},
        {"{\"prompt\": \"prompt zero\", \"score\": 0.9}\n{\"prompt\": \"prompt one\"}\n",
         "bad.jsonl:2: expected {\"prompt\""},
        {"not json\n", "bad.jsonl:1: expected"},
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        snprintf(path, sizeof path, "%s/bad.jsonl", dir);
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fputs(bad[i].content, f);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 RL_TEST_BIN " eval --benchmark table:" RL_TEST_DATA "/eval/worked.csv --strong "
                             "s --weak w --scores x=%s 2>&1",
                 path);
        ASSERT_EQ(run(cmd, &out), 1);
        ASSERT_STR_CONTAINS(out, bad[i].want);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(run(cmd, &out), 0);
    free(out);
    return 0;
}

// --models: a table of three models the shipped mf router knows. The single models' points are
// the table's means; mf's cheapest curve at tolerance 0 picks, on every prompt, the model
// `routellm route --models --policy cheapest --tolerance 0` picks; random and length are
// reported beside; usage errors name what is wrong.
TEST(eval_cli_many_models) {
    static const char *const models[] = {"gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1",
                                         "mistral-7b-v0.1"};
    static const char *const prompts[] = {
        "Prove that there are infinitely many primes.",
        "What is the capital of France?",
        "Write a haiku about autumn leaves.",
        "Explain the difference between TCP and UDP in detail.",
        "Translate good morning into Spanish.",
        "Derive the quadratic formula step by step.",
        "List three fruits.",
        "Write a Python function that merges two sorted lists.",
    };
    char path[] = "/tmp/rl_eval_models_XXXXXX.csv";
    int fd = mkstemps(path, 4);
    ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "prompt,%s,%s,%s\n", models[0], models[1], models[2]);
    double q[RL_COUNTOF(prompts)][3], mean[3] = {0};
    for (size_t i = 0; i < RL_COUNTOF(prompts); i++) {
        for (int k = 0; k < 3; k++) {
            q[i][k] = (double)((i * 7 + (size_t)k * 3) % 5) / 4; // a fixed spread in [0, 1]
            mean[k] += q[i][k] / (double)RL_COUNTOF(prompts);
        }
        fprintf(f, "\"%s\",%g,%g,%g\n", prompts[i], q[i][0], q[i][1], q[i][2]);
    }
    fclose(f);
    const char *prices =
        "--price gpt-4-1106-preview=10,30 --price mixtral-8x7b-instruct-v0.1=0.6,0.6 "
        "--price mistral-7b-v0.1=0.1,0.1";
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s eval --benchmark table:%s --models %s,%s,%s %s --routers mf --format json "
             "2>/dev/null",
             RL_TEST_BIN, path, models[0], models[1], models[2], prices);
    json_t *doc = run_json(cmd);
    ASSERT_NOT_NULL(doc);
    ASSERT_EQ(json_integer_value(json_object_get(doc, "n_prompts")), RL_COUNTOF(prompts));
    json_t *singles = json_object_get(doc, "models");
    ASSERT_EQ(json_array_size(singles), 3);
    for (int k = 0; k < 3; k++)
        ASSERT_NEAR(json_number_value(json_object_get(json_array_get(singles, k), "quality")),
                    mean[k], 1e-9);
    // mf's cheapest curve at tolerance 0 against route's choices, prompt by prompt.
    double want = 0;
    for (size_t i = 0; i < RL_COUNTOF(prompts); i++) {
        snprintf(cmd, sizeof cmd,
                 "%s route --router mf --models %s,%s,%s %s --policy cheapest --tolerance 0 "
                 "--json '%s' 2>/dev/null",
                 RL_TEST_BIN, models[0], models[1], models[2], prices, prompts[i]);
        json_t *r = run_json(cmd);
        ASSERT_NOT_NULL(r);
        const char *pick = json_string_value(json_object_get(r, "model"));
        for (int k = 0; k < 3; k++)
            if (pick && strcmp(pick, models[k]) == 0)
                want += q[i][k] / (double)RL_COUNTOF(prompts);
        json_decref(r);
    }
    json_t *curves = json_object_get(doc, "curves");
    // mf, random, length under cheapest and utility each, and the single models mixed.
    ASSERT_EQ(json_array_size(curves), 7);
    bool seen_mf = false, seen_random = false, seen_length = false, seen_mix = false;
    for (size_t i = 0; i < json_array_size(curves); i++) {
        json_t *c = json_array_get(curves, i);
        const char *router = json_string_value(json_object_get(c, "router"));
        const char *policy = json_string_value(json_object_get(c, "policy"));
        double aiq = json_number_value(json_object_get(c, "aiq"));
        ASSERT(aiq >= 0 && aiq <= 1);
        seen_mix |= strcmp(router, "mix") == 0;
        ASSERT_EQ(json_array_size(json_object_get(c, "points")),
                  strcmp(router, "mix") == 0 ? 3 : 101);
        seen_mf |= strcmp(router, "mf") == 0;
        seen_random |= strcmp(router, "random") == 0;
        seen_length |= strcmp(router, "length") == 0;
        if (strcmp(router, "mf") == 0 && strcmp(policy, "cheapest") == 0) {
            json_t *first = json_array_get(json_object_get(c, "points"), 0);
            ASSERT_NEAR(json_number_value(json_object_get(first, "param")), 0, 0);
            ASSERT_NEAR(json_number_value(json_object_get(first, "quality")), want, 1e-9);
        }
    }
    ASSERT(seen_mf && seen_random && seen_length && seen_mix);
    json_decref(doc);
    // Errors: the usage, a missing price, a router that cannot rank models, an unknown model.
    struct {
        const char *args, *want;
    } bad[] = {
        {"--models a", "at least two models"},
        {"--models a,b --strong a", "--models replaces --strong"},
        {"--models gpt-4-1106-preview,mistral-7b-v0.1 --price gpt-4-1106-preview=1,1",
         "no --price for mistral-7b-v0.1"},
        {"--models gpt-4-1106-preview,mistral-7b-v0.1", "has no <model>|cost columns"},
        {"--models gpt-4-1106-preview,nosuch --price gpt-4-1106-preview=1,1 --price nosuch=1,1",
         "no column \"nosuch\""},
        {"--models gpt-4-1106-preview,mistral-7b-v0.1 --price gpt-4-1106-preview=1,1 "
         "--price mistral-7b-v0.1=1,1 --routers bert",
         "scores one pair"},
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        char *out = NULL;
        snprintf(cmd, sizeof cmd, "%s eval --benchmark table:%s %s 2>&1", RL_TEST_BIN, path,
                 bad[i].args);
        int st = run(cmd, &out);
        if (st == 0 || !out || !strstr(out, bad[i].want))
            TEST_FAIL_("'%s': exit %d, %s (wanted '%s')", bad[i].args, st, out ? out : "",
                       bad[i].want);
        free(out);
    }
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s eval --benchmark mmlu --models a,b 2>&1", RL_TEST_BIN);
    ASSERT(run(cmd, &out) != 0 && strstr(out, "give --benchmark table:FILE"));
    free(out);
    unlink(path);
    return 0;
}
