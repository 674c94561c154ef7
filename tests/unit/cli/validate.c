// `routellm validate` end to end on a small synthetic suite: three sources whose tables make the
// weak models fail exactly on long prompts, so the length baseline and a router trained on the
// prompt features must rank the prompts well, and the random baseline must not. Also the pairs
// chosen, the bootstrap interval, the router cache (a second run gives the same document) and
// the errors of a bad suite file or a bad option. Then `--ship`, with the suite's exclude list and
// with --own-exclude-only.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef RL_TEST_BIN
#define RL_TEST_BIN "build/routellm"
#endif

static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    size_t len = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    if (!p || !buf) {
        free(buf);
        *out = NULL;
        return -1;
    }
    size_t n;
    while (len + 1 < cap && (n = fread(buf + len, 1, cap - len - 1, p)) > 0)
        len += n;
    buf[len] = '\0';
    *out = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Source k's table: 60 prompts of 3 to 40 words; "big" is always right, "small" only below 20
// words, so the strong model helps exactly on the long prompts.
static void write_table(const char *path, int k) {
    FILE *f = fopen(path, "w");
    fprintf(f, "prompt,big,small\n");
    for (int i = 0; i < 60; i++) {
        int words = 3 + (i * 37 + k * 11) % 38;
        fprintf(f, "\"source %d item %d asks:", k, i);
        for (int w = 0; w < words; w++)
            fprintf(f, " %s", w % 3 == 0 ? "tell" : w % 3 == 1 ? "me" : "more");
        fprintf(f, "\",1,%d\n", words < 20);
    }
    fclose(f);
}

static char dir[128];

// The suite file: three sources s0..s2, one irt router training on the sources that `sources`
// (a glob) names, the baselines, then extra lines.
static void write_suite_for(const char *sources, const char *extra) {
    char path[256];
    snprintf(path, sizeof path, "%s/suite.yaml", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "suite: tiny\nmin_gap: 0.02\nmax_pairs: 2\nbootstrap: 50\nsources:\n");
    for (int k = 0; k < 3; k++)
        fprintf(f,
                "  - {name: s%d-a-source-name-as-long-as-forty-bytes, tables: [table:%s/t%d.csv], "
                "battles: [table:%s/t%d.csv]}\n",
                k, dir, k, dir, k);
    fprintf(f,
            "routers:\n  - {name: irt-f, kind: irt, sources: ['%s'], features: true, "
            "embedding: false, strong: big, weak: small}\nbaselines: [random, length]\n%s",
            sources, extra);
    fclose(f);
}

static void write_suite(const char *extra) {
    write_suite_for("*", extra);
}

static const json_t *router(const json_t *doc, const char *name) {
    const json_t *r;
    size_t i;
    json_array_foreach(json_object_get(doc, "routers"), i, r) {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

TEST(validate_cli_synthetic_suite) {
    snprintf(dir, sizeof dir, "/tmp/rl_test_%ld_validate", (long)getpid());
    char cmd[1024], *out, *again;
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    ASSERT_EQ(system(cmd), 0);
    for (int k = 0; k < 3; k++) {
        char path[256];
        snprintf(path, sizeof path, "%s/t%d.csv", dir, k);
        write_table(path, k);
    }
    write_suite("");
    snprintf(cmd, sizeof cmd,
             "ROUTELLM_HOME=%s %s validate --suite %s/suite.yaml --format json "
             "--model-dir " RL_TEST_MODEL " 2>/dev/null",
             dir, RL_TEST_BIN, dir);
    ASSERT_EQ(run(cmd, &out), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ASSERT_NOT_NULL(doc);
    // One pair per table.
    ASSERT_EQ(json_array_size(json_object_get(doc, "evaluations")), 3);
    const json_t *rnd = router(doc, "random"), *len = router(doc, "length"),
                 *irt = router(doc, "irt-f");
    ASSERT(rnd && len && irt);
    double a_rnd = json_real_value(json_object_get(rnd, "apgr"));
    double a_len = json_real_value(json_object_get(len, "apgr"));
    double a_irt = json_real_value(json_object_get(irt, "apgr"));
    // A perfect ranking reaches 1 - 0.45 / 2 here (the gain is on the longest 45%).
    ASSERT(a_rnd > 0.35 && a_rnd < 0.65);
    ASSERT(a_len > 0.7);
    ASSERT(a_irt > 0.6);
    const json_t *ci = json_object_get(len, "apgr_ci");
    ASSERT(json_real_value(json_array_get(ci, 0)) <= a_len + 1e-9);
    ASSERT(json_real_value(json_array_get(ci, 1)) >= a_len - 1e-9);
    ASSERT_EQ(json_array_size(json_object_get(len, "boot")), 50);
    ASSERT_EQ(json_integer_value(json_object_get(irt, "unknown_pairs")), 0);
    json_decref(doc);
    // The second run takes the trained routers from the cache and says the same.
    ASSERT_EQ(run(cmd, &again), 0);
    ASSERT_STR_EQ(again, out);
    free(out);
    free(again);
    // List items are trimmed: "random, length" names two routers.
    snprintf(cmd, sizeof cmd,
             "ROUTELLM_HOME=%s %s validate --suite %s/suite.yaml --format json --routers "
             "'random, length' --model-dir " RL_TEST_MODEL " 2>/dev/null",
             dir, RL_TEST_BIN, dir);
    ASSERT_EQ(run(cmd, &out), 0);
    doc = json_loads(out, 0, NULL);
    ASSERT(doc && router(doc, "random") && router(doc, "length") && !router(doc, "irt-f"));
    json_decref(doc);
    free(out);

    // Options and suite files that are wrong.
    snprintf(cmd, sizeof cmd,
             "ROUTELLM_HOME=%s %s validate --suite %s/suite.yaml --routers nosuch 2>&1", dir,
             RL_TEST_BIN, dir);
    ASSERT_EQ(run(cmd, &out), 2);
    ASSERT_STR_CONTAINS(out, "no router");
    free(out);
    write_suite("bogus: 1\n");
    snprintf(cmd, sizeof cmd, "%s validate --suite %s/suite.yaml 2>&1", RL_TEST_BIN, dir);
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "suite.yaml:12: unknown key 'bogus'");
    free(out);
    // Globs match in time linear in their length: 40 stars against the 40-character source names
    // took exponential time (found by fuzzing), now a quick "match no source".
    char stars[80] = "s";
    memset(stars + 1, '*', 40);
    stars[41] = 'x'; // the rest of the array is zeros
    write_suite_for(stars, "");
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "router 'irt-f': its sources match no source");
    free(out);
    // A key said twice was read twice (and the first list leaked): now an error naming both lines.
    write_suite("routers: []\n");
    ASSERT_EQ(run(cmd, &out), 1);
    ASSERT_STR_CONTAINS(out, "suite.yaml:12: duplicate key 'routers' (first on line 9)");
    free(out);

    // --ship decontaminates against the suite's exclude list (here: source s1's table, whose
    // prompts are also within cosine 0.95 of many of the others'), unless --own-exclude-only
    // keeps only the texts given with --exclude (here none).
    char extra[256];
    snprintf(extra, sizeof extra, "exclude: [%s/t1.csv]\n", dir);
    write_suite(extra);
    const char *modes[2] = {"", "--own-exclude-only"};
    for (int m = 0; m < 2; m++) {
        snprintf(cmd, sizeof cmd,
                 "ROUTELLM_HOME=%s %s validate --suite %s/suite.yaml --ship irt-f --out "
                 "%s/shipped.safetensors %s --model-dir " RL_TEST_MODEL " 2>&1",
                 dir, RL_TEST_BIN, dir, dir, modes[m]);
        ASSERT_EQ(run(cmd, &out), 0);
        ASSERT_STR_CONTAINS(out, " of 180 training-side prompts match a benchmark text");
        ASSERT((strstr(out, "validate: 0 of 180") != NULL) == (m == 1));
        ASSERT_STR_CONTAINS(out, "wrote ");
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s validate --suite %s/suite.yaml --own-exclude-only 2>&1",
             RL_TEST_BIN, dir);
    ASSERT_EQ(run(cmd, &out), 2);
    ASSERT_STR_CONTAINS(out, "go with --ship");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
    return 0;
}
