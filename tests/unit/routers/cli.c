// `routellm route` and `routellm train` from the command line: the JSON decision, the pair
// options, routing among many models, the error that lists the known models, and a small
// end-to-end training run.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "rl/train.h"
#include "test.h"

// Run a shell command line, capturing stdout and stderr together; returns the exit status.
static int run(const char *cmd, char *out, size_t out_size) {
    char line[8192];
    snprintf(line, sizeof line, "%s 2>&1", cmd);
    FILE *f = popen(line, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, out_size - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(route_cli_random_json) {
    char out[4096];
    ASSERT_EQ(run(RL_TEST_BIN " route --router random --threshold 0.5 --json "
                              "'Write a haiku about autumn leaves.'",
                  out, sizeof out),
              0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "router")), "random");
    double p = json_number_value(json_object_get(j, "p_strong"));
    ASSERT(p >= 0 && p < 1);
    ASSERT_NEAR(json_number_value(json_object_get(j, "threshold")), 0.5, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")),
                  p >= 0.5 ? "gpt-4-1106-preview" : "mixtral-8x7b-instruct-v0.1");
    json_decref(j);
    // The random router takes any pair; the chosen name is the one given.
    ASSERT_EQ(run(RL_TEST_BIN " route --router random --threshold 0 --strong gpt-4o --weak "
                              "llama-3-8b 'Write a haiku about autumn leaves.'",
                  out, sizeof out),
              0);
    ASSERT_STR_CONTAINS(out, "strong model gpt-4o");
    // `--opt=value` as well as `--opt value`; option mistakes are usage errors (status 2).
    ASSERT_EQ(
        run(RL_TEST_BIN " route --router=random --threshold=0 --json -- --x", out, sizeof out), 0);
    ASSERT_STR_CONTAINS(out, "\"threshold\":0");
    ASSERT_EQ(run(RL_TEST_BIN " route --router random --threshold 1.5 x", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "--threshold: '1.5' is not a number in [0, 1]");
    ASSERT_EQ(run(RL_TEST_BIN " route --router random --threshold 0.5", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "missing PROMPT");
    ASSERT_EQ(run(RL_TEST_BIN " route --router random x", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "--threshold A is required");
    ASSERT_EQ(run(RL_TEST_BIN " route --router mf --treshold=0.5 x", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "routellm: route: unknown option '--treshold' (did you mean "
                             "'--threshold'?)");
    ASSERT_EQ(run(RL_TEST_BIN " route --router random --threshold 0.5 x y", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "unexpected argument 'y'");
    ASSERT_EQ(run(RL_TEST_BIN " rout --help", out, sizeof out), 2);
    ASSERT_STR_CONTAINS(out, "unknown command 'rout' (did you mean 'route'?)");
    ASSERT_EQ(run(RL_TEST_BIN " route --router /nonexistent.safetensors --threshold 0.5 x", out,
                  sizeof out),
              1);
    ASSERT_STR_CONTAINS(out, "/nonexistent.safetensors");
    return 0;
}

// What a user mistypes or leaves out: an empty prompt is a usage error, a misspelt router name
// lists the names, a file that is no router file says so, list options trim their items; and
// the shipped routers say which models their default pair's names stand for.
TEST(route_cli_input_errors) {
    static const struct {
        /* input */
        const char *args;
        /* output */
        int status;
        const char *want;
    } cases[] = {
        {"route --router length --threshold 0.5 ''", 2, "route: PROMPT is empty"},
        {"route --router length --threshold 0.5 ' \t'", 2, "route: PROMPT is empty"},
        {"route --router length --threshold 0.5 - </dev/null", 2, "stdin holds no prompt"},
        {"route --router sw-ranking --threshold 0.5 x", 1,
         "unknown router 'sw-ranking' (did you mean 'sw_ranking'?); the routers are random, "
         "length, mf, sw_ranking, bert, irt"},
        {"route --router MF --threshold 0.5 x", 1, "(did you mean 'mf'?)"},
        {"route --router nosuch --threshold 0.5 x", 1,
         "unknown router 'nosuch': not a file, nor one of random, length, mf"},
        {"route --router README.md --threshold 0.5 x", 1,
         "README.md: not a router file (not a safetensors file: header length"},
        {"route --router mf --threshold 0.5 'Prove that 2 has no rational square root.'", 0,
         "note: mf learned this pair from stand-ins: gpt-4-1106-preview stands for "
         "dolphin-2.9-llama3-8b and mixtral-8x7b-instruct-v0.1 for chinese-mistral-7b-v0.1"},
        {"route --router mf --threshold 0.5 --strong zephyr-7b-beta --weak mistral-7b-v0.1 x", 0,
         "model"},
        {"eval --benchmark mt-bench --routers ' random , length' --format json", 0,
         "\"router\": \"length\""},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char cmd[512], out[16384];
        snprintf(cmd, sizeof cmd, "%s %s", RL_TEST_BIN, cases[i].args);
        int st = run(cmd, out, sizeof out);
        if (st != cases[i].status || !strstr(out, cases[i].want)) {
            fprintf(stderr, "  '%s' exited %d (want %d) with:\n%s\n  (want \"%s\")\n",
                    cases[i].args, st, cases[i].status, out, cases[i].want);
            return 1;
        }
        // A pair the router knows by its own names needs no note; irt knows the default pair.
        if (strstr(cases[i].args, "--strong zephyr"))
            ASSERT(!strstr(out, "note:"));
    }
    char out[4096];
    ASSERT_EQ(run(RL_TEST_BIN " route --router irt --threshold 0.5 'hello'", out, sizeof out), 0);
    ASSERT(!strstr(out, "note:"));
    return 0;
}

// Many models: each candidate's quality is the pair score against the reference (the router's
// default weak model), the policies pick from the qualities and the --price costs, and what is
// missing or wrong is a clear error.
TEST(route_cli_many_models) {
    char out[8192];
    const char *prompt = "'Prove that there are infinitely many primes.'";
    const char *prices =
        "--price gpt-4-1106-preview=10,30 --price mixtral-8x7b-instruct-v0.1=0.6,0.6 "
        "--price mistral-7b-v0.1=0.1,0.1";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s route --router mf --json --models gpt-4-1106-preview,mixtral-8x7b-instruct-v0.1,"
             "mistral-7b-v0.1 %s %s",
             RL_TEST_BIN, prices, prompt);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    ASSERT_NOT_NULL(j);
    json_t *scores = json_object_get(j, "scores"), *costs = json_object_get(j, "costs");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "policy")), "cheapest");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "reference")), "mixtral-8x7b-instruct-v0.1");
    ASSERT_NEAR(json_number_value(json_object_get(scores, "mixtral-8x7b-instruct-v0.1")), 0.5, 0);
    double q4 = json_number_value(json_object_get(scores, "gpt-4-1106-preview"));
    double q7 = json_number_value(json_object_get(scores, "mistral-7b-v0.1"));
    // 44 bytes: 11 prompt tokens estimated, 256 out.
    ASSERT_NEAR(json_number_value(json_object_get(costs, "gpt-4-1106-preview")),
                (11 * 10.0 + 256 * 30.0) / 1e6, 1e-12);
    // The quality of a candidate is the pair decision's p_strong.
    char pair[512], pout[1024];
    snprintf(pair, sizeof pair, "%s route --router mf --threshold 0.5 --json %s", RL_TEST_BIN,
             prompt);
    ASSERT_EQ(run(pair, pout, sizeof pout), 0);
    const char *doc = strchr(pout, '{'); // after the note on stderr about stand-in names
    json_t *pj = doc ? json_loads(doc, 0, NULL) : NULL;
    ASSERT_NOT_NULL(pj);
    ASSERT_NEAR(json_number_value(json_object_get(pj, "p_strong")), q4, 1e-9);
    json_decref(pj);
    // Cheapest within 0.05 of the best: the best unless another is that close.
    const char *want = q4 - q7 <= 0.05 ? "mistral-7b-v0.1" : "gpt-4-1106-preview";
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")), want);
    json_decref(j);
    // A tolerance of 1 takes the cheapest; utility with a large lambda too, with none the best.
    snprintf(cmd, sizeof cmd,
             "%s route --router mf --models gpt-4-1106-preview,mistral-7b-v0.1 --tolerance 1 "
             "--price gpt-4-1106-preview=10,30 --price mistral-7b-v0.1=0.1,0.1 %s",
             RL_TEST_BIN, prompt);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    ASSERT_STR_CONTAINS(out,
                        "cheapest (tolerance 1; quality = P(beats mixtral-8x7b-instruct-v0.1)");
    ASSERT_STR_CONTAINS(out, "): mistral-7b-v0.1\n");
    snprintf(
        cmd, sizeof cmd,
        "%s route --router irt --models gpt-4-1106-preview,mistral-7b-v0.1 --policy utility "
        "--lambda 0 --price gpt-4-1106-preview=10,30 --price mistral-7b-v0.1=0.1,0.1 --json %s",
        RL_TEST_BIN, prompt);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    j = json_loads(out, 0, NULL);
    ASSERT_NOT_NULL(j);
    scores = json_object_get(j, "scores");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")),
                  json_number_value(json_object_get(scores, "gpt-4-1106-preview")) >=
                          json_number_value(json_object_get(scores, "mistral-7b-v0.1"))
                      ? "gpt-4-1106-preview"
                      : "mistral-7b-v0.1");
    json_decref(j);
    static const struct {
        /* input */
        const char *args;
        /* output */
        int status;
        const char *want;
    } cases[] = {
        {"--router bert --models a,b --price a=1,1 x", 1, "a bert router scores one pair"},
        {"--router mf --models gpt-4-1106-preview,mistral-7b-v0.1 --price gpt-4-1106-preview=1,1 x",
         1, "no --price for mistral-7b-v0.1"},
        {"--router mf --models gpt-4-1106-preview --price gpt-4-1106-preview=1 x", 1,
         "--price gpt-4-1106-preview=1: expected MODEL=IN,OUT"},
        {"--router mf --models gpt-5 --price gpt-5=1,1 x", 1,
         "router mf does not know the model 'gpt-5'; it knows: "},
        {"--router mf --models gpt-4-1106-preview --threshold 0.5 x", 2,
         "--threshold is for a pair; with --models give --policy"},
        {"--router mf --models gpt-4-1106-preview --policy utility x", 2,
         "the utility policy needs --lambda"},
        {"--router mf --threshold 0.5 --policy cheapest x", 2,
         "--policy, --price and --lambda go with --models"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        snprintf(cmd, sizeof cmd, "%s route %s", RL_TEST_BIN, cases[i].args);
        int st = run(cmd, out, sizeof out);
        if (st != cases[i].status || !strstr(out, cases[i].want))
            TEST_FAIL_("'%s' exited %d (want %d) with: %s (want \"%s\")", cases[i].args, st,
                       cases[i].status, out, cases[i].want);
    }
    return 0;
}

// A router trained here on random 384-d embeddings under the real encoder's name, so that the
// command embeds the prompt with the real encoder and scores it.
TEST(route_cli_router_file) {
    char path[256], cmd[1024], out[4096], err[RL_ERRBUF_SIZE] = "";
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_cli_mf.safetensors", (long)getpid());
    enum { D = 384, N = 40 };
    struct rl_battles *b = rl_battles_new();
    float *emb = malloc((size_t)N * D * sizeof *emb);
    srand(11);
    for (int i = 0; i < N; i++) {
        char p[64];
        int n = snprintf(p, sizeof p, "command line prompt %d", i);
        ASSERT_EQ(rl_battles_add(b, p, (size_t)n, "GPT-4-1106-preview",
                                 "Mixtral-8x7B-Instruct-v0.1",
                                 i % 3 ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1, 0),
                  1);
        ASSERT_EQ(rl_battles_add(b, p, (size_t)n, "claude-2", "Mixtral-8x7B-Instruct-v0.1",
                                 RL_OUTCOME_A_WINS, 1, 0),
                  1);
        for (int d = 0; d < D; d++)
            emb[i * D + d] = ((float)rand() / RAND_MAX - 0.5f) / 10;
    }
    const struct rl_router_kind *mf = rl_router_kind_find("mf", NULL);
    struct rl_train_params p = rl_train_params_default(mf);
    p.epochs = 2;
    ASSERT_OK(rl_train(mf, b, emb, "all-MiniLM-L6-v2", D, &p, path, err));
    rl_battles_free(b);
    free(emb);

    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " route --router %s --threshold 0 --json --model-dir %s "
                         "'How do I reverse a linked list?'",
             path, RL_TEST_MODEL);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    ASSERT_STR_CONTAINS(out, "\"router\":\"mf\"");
    ASSERT_STR_CONTAINS(out, "\"model\":\"gpt-4-1106-preview\"");
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " route --router %s --threshold 1 --strong CLAUDE-2 --model-dir %s "
                         "'How do I reverse a linked list?'",
             path, RL_TEST_MODEL);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    ASSERT_STR_CONTAINS(out, "weak model mixtral-8x7b-instruct-v0.1");
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " route --router %s --threshold 0.5 --strong gpt-4o --model-dir %s x",
             path, RL_TEST_MODEL);
    ASSERT_EQ(run(cmd, out, sizeof out), 1);
    ASSERT_STR_CONTAINS(out, "does not know the model 'gpt-4o'; it knows: gpt-4-1106-preview, "
                             "mixtral-8x7b-instruct-v0.1, claude-2");
    unlink(path);
    return 0;
}

TEST(train_cli_end_to_end) {
    char dir[128], cmd[2048], out[8192];
    snprintf(dir, sizeof dir, "/tmp/rl_test_%ld_train_cli", (long)getpid());
    // A private home keeps the embedding cache of this run out of the project's.
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && ROUTELLM_HOME=%s " RL_TEST_BIN " train mf --data arena:" RL_TEST_DATA
             "/battles/arena_conversations.jsonl --data " RL_TEST_DATA "/battles/alpaca/battles.csv"
             " --data table:" RL_TEST_DATA "/battles/table.csv --out %s/mf.safetensors "
             "--epochs 2 --seed 1 --model-dir %s --exclude " RL_TEST_DATA "/battles/texts.csv "
             "--dropped %s/dropped.jsonl",
             dir, dir, dir, RL_TEST_MODEL, dir);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    ASSERT_STR_CONTAINS(out, "read 4 battles from arena:");
    ASSERT_STR_CONTAINS(out, "epoch 2/2: train loss");
    ASSERT_STR_CONTAINS(out, "excluded 0 of");
    ASSERT_STR_CONTAINS(out, "default pair gpt-4-1106-preview / mixtral-8x7b-instruct-v0.1");
    snprintf(cmd, sizeof cmd,
             RL_TEST_BIN " train mf --data arena:" RL_TEST_DATA
                         "/battles/arena_bad.jsonl --strict --out %s/x.safetensors",
             dir);
    ASSERT_EQ(run(cmd, out, sizeof out), 1);
    ASSERT_STR_CONTAINS(out, "arena_bad.jsonl:2:");
    // Option mistakes are usage errors (status 2).
    static const struct {
        const char *args, *want; // input: train's arguments; output: part of the message
    } usage[] = {
        {"knn --data x --out y", "unknown router kind 'knn'"},
        {"--data x mf --out y", "give the router kind first"},
        {"mf --data x", "--out FILE is required"},
        {"mf --data x --out y --epochs 2.5", "--epochs: '2.5' is not an integer in [1, 100000]"},
        {"mf --data x --out y --wieght-decay 0", "(did you mean '--weight-decay'?)"},
    };
    for (size_t i = 0; i < RL_COUNTOF(usage); i++) {
        snprintf(cmd, sizeof cmd, RL_TEST_BIN " train %s", usage[i].args);
        ASSERT_EQ(run(cmd, out, sizeof out), 2);
        ASSERT_STR_CONTAINS(out, usage[i].want);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(run(cmd, out, sizeof out), 0);
    return 0;
}
