// Threshold calibration: quantiles against pandas (tools/ref_eval.py), the share of strong calls
// at the calibrated threshold on the shipped Arena sample (within one prompt of the request),
// and the prompt-sample readers.
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "rl/calibrate.h"
#include "rl/eval.h"
#include "rl/router.h"
#include "support/ref_uniform.h"
#include "test.h"

TEST(calibrate_quantile_pandas) {
    json_error_t jerr;
    json_t *ref = json_load_file(RL_TEST_DATA "/eval/ref_eval.json", 0, &jerr);
    ASSERT_NOT_NULL(ref);
    json_t *q = json_object_get(ref, "quantile");
    size_t n = (size_t)json_integer_value(json_object_get(q, "n"));
    double *s = malloc(n * sizeof *s);
    ref_uniform((uint64_t)json_integer_value(json_object_get(q, "seed")), n, s);
    json_t *cases = json_object_get(q, "cases");
    int rc = json_array_size(cases) >= 8 ? 0 : 1;
    for (size_t i = 0; rc == 0 && i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        double got, want = json_number_value(json_object_get(c, "value"));
        double qq = json_number_value(json_object_get(c, "q"));
        if (rl_calibrate_quantile(s, n, qq, &got) != RL_OK || fabs(got - want) > 1e-15) {
            fprintf(stderr, "  q %g: %.17g, pandas %.17g\n", qq, got, want);
            rc = 1;
        }
    }
    free(s);
    json_decref(ref);
    return rc;
}

TEST(calibrate_invalid) {
    double s[3] = {0.1, 0.2, 0.3}, a;
    ASSERT_EQ(rl_calibrate_threshold(s, 3, 1.5, &a), RL_EINVAL);
    ASSERT_EQ(rl_calibrate_threshold(s, 3, -0.1, &a), RL_EINVAL);
    ASSERT_EQ(rl_calibrate_threshold(s, 3, NAN, &a), RL_EINVAL);
    ASSERT_EQ(rl_calibrate_threshold(s, 0, 0.5, &a), RL_EINVAL);
    ASSERT_OK(rl_calibrate_threshold(s, 3, 0.5, &a));
    ASSERT_NEAR(a, 0.2, 1e-15);
    ASSERT_OK(rl_calibrate_threshold(s, 3, 1, &a));
    ASSERT_NEAR(a, 0.1, 0);
    ASSERT_OK(rl_calibrate_threshold(s, 3, 0, &a));
    ASSERT_NEAR(a, 0.3, 0);
    return 0;
}

// The check: on the shipped Arena sample, the share of strong calls at the calibrated
// threshold is P within one prompt.
TEST(calibrate_share_within_one_prompt) {
    struct rl_texts sample;
    struct rl_texts_params exact = {.exact = true};
    char err[RL_ERRBUF_SIZE];
    ASSERT_OK(rl_texts_load(RL_DATA_DIR "/data/prompts/arena_hard.jsonl.gz", &exact, &sample, err));
    ASSERT_EQ(sample.n, 1250);
    ASSERT_STR_CONTAINS(sample.items[1249], "tell me a fun story today");
    double *s = malloc(sample.n * sizeof *s);
    struct rl_router *r = rl_router_random_new(3);
    ASSERT_OK(rl_eval_score(r, NULL, NULL, NULL, (const char *const *)sample.items, sample.n, s,
                            NULL, NULL, err));
    rl_router_free(r);
    static const double pcts[] = {0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.77, 0.9, 0.999, 1};
    for (size_t i = 0; i < RL_COUNTOF(pcts); i++) {
        double a;
        ASSERT_OK(rl_calibrate_threshold(s, sample.n, pcts[i], &a));
        double k = (double)rl_calibrate_count_strong(s, sample.n, a);
        ASSERT_NEAR(k, pcts[i] * (double)sample.n, 1.0);
    }
    free(s);
    rl_texts_free(&sample);
    return 0;
}

static const char *write_tmp(char *path, const char *suffix, const char *content, size_t len) {
    snprintf(path, 64, "/tmp/rl_calib_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return path;
    if (write(fd, content, len) < 0)
        path[0] = '\0';
    close(fd);
    return path;
}

// Calibration samples are read exact: the texts as found, blank lines and empty texts left out.
TEST(calibrate_prompt_files) {
    static const struct {
        const char *suffix, *content; // input: the file
        size_t len;                   // input: its bytes (0: up to the first NUL)
        size_t n;                     // output: the texts read
        const char *last;             // output: the last text, or the error (NULL: none)
    } cases[] = {
        {".txt", "first\n\n  \n second line \r\n", 0, 2, " second line "},
        {".jsonl", "{\"prompt\": \"a\"}\n{\"turns\": [\"b\", \"c\"]}\n{\"prompt\": [\"d\"]}\n", 0,
         3, "d"},
        {".csv", "id,prompt\n1,\"[\"\"first turn\"\", \"\"second\"\"]\"\n2,plain, text\n", 0, 2,
         "plain"},
        {".jsonl", "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n", 0, 0,
         ":2: no text in member 'prompt'"},
        {".csv", "id,text\n1,a\n", 0, 0, ":1: no column 'prompt'"},
        {".txt", "\n \n", 0, 0, NULL},
        {".jsonl", "", 0, 0, NULL},
        {".json", "[\"a\", {\"question\": \"b\"}, {\"turns\": [\"c\", \"d\"]}]", 0, 3, "c"},
        {".json", "{\"prompt\": \" a \"}", 0, 1, " a "},
        {".json", "[\"a\", 3]", 0, 0, ":2: element is not an object"},
        {".txt", "a\nb\0c\n", 6, 0, "a NUL byte"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char path[64], err[RL_ERRBUF_SIZE] = "";
        struct rl_texts p;
        struct rl_texts_params exact = {.exact = true};
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].content);
        write_tmp(path, cases[i].suffix, cases[i].content, len);
        int rc = rl_texts_load(path, &exact, &p, err);
        remove(path);
        if (cases[i].n == 0 && cases[i].last) {
            ASSERT(rc != RL_OK);
            ASSERT_STR_CONTAINS(err, cases[i].last);
            ASSERT_NULL(p.items);
            continue;
        }
        ASSERT_OK(rc);
        ASSERT_EQ(p.n, cases[i].n);
        if (p.n)
            ASSERT_STR_EQ(p.items[p.n - 1], cases[i].last);
        if (i == 2)
            ASSERT_STR_EQ(p.items[0], "first turn");
        rl_texts_free(&p);
    }
    char err[RL_ERRBUF_SIZE];
    struct rl_texts p;
    ASSERT_EQ(rl_texts_load("/nonexistent/prompts.txt", NULL, &p, err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent/prompts.txt");
    return 0;
}
