// Fuzz target: what `routellm label` reads from outside. The first input byte picks the reader
// (low two bits), the rest is its input:
//   0  a judge's reply: label_parse_score and label_parse_pair;
//   1  an answer and a reference (split at the first newline) under every grader;
//   2  a journal, replayed into a job of two prompts and two models (label_journal_open);
//   3  a prompts file with a reference column (rl_texts_load_pairs), .csv or .jsonl by bit 2.
#include "cli/label.h"
#include "fuzz.h"
#include "rl/texts.h"

static const char *const graders[] = {"exact", "number", "choice", "regex:answer: *([a-z0-9]+)"};

static void grade_all(char *s) {
    char *nl = strchr(s, '\n');
    const char *ref = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';
    char err[RL_ERRBUF_SIZE];
    for (size_t k = 0; k < sizeof graders / sizeof *graders; k++) {
        struct label_grader g;
        if (label_grader_init(&g, graders[k], err) != RL_OK)
            abort();
        double q = 0;
        if (label_grader_reference_ok(&g, ref) && label_grade(&g, s, ref, &q) == RL_OK && q != 0 &&
            q != 1)
            abort(); // a grade is right or wrong
        label_grader_free(&g);
    }
    double v;
    fuzz_sink = (uint8_t)(label_choice(s) + label_last_number(s, &v));
}

static void replay(const uint8_t *data, size_t size) {
    static const char prompts[] = "How do I sort a list in Python?\nWrite a haiku.\n";
    static const char *const models[] = {"a", "b"};
    const char *ppath = fuzz_file((const uint8_t *)prompts, sizeof prompts - 1, ".txt");
    const char *journal = fuzz_file(data, size, ".jsonl");
    struct label_job j = {.fd = -1, .models = models, .n_models = 2, .mode = LABEL_MODE_JUDGE};
    snprintf(j.grading, sizeof j.grading, "g");
    char err[RL_ERRBUF_SIZE];
    if (label_job_prompts(&j, ppath, NULL, err) == RL_OK &&
        label_journal_open(&j, journal, err) == RL_OK) {
        for (size_t k = 0; k < j.n * 2; k++)
            if (j.cells[k].state == LABEL_CELL_ANSWERED && !j.cells[k].answer)
                abort(); // an answered cell holds its answer
    }
    label_job_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int kind = data[0] & 3;
    if (kind == 2) {
        replay(data + 1, size - 1);
        return 0;
    }
    if (kind == 3) {
        const char *path = fuzz_file(data + 1, size - 1, data[0] & 4 ? ".jsonl" : ".csv");
        struct rl_texts texts, refs;
        char err[RL_ERRBUF_SIZE];
        if (rl_texts_load_pairs(path, NULL, "answer", &texts, &refs, err) == RL_OK) {
            if (texts.n != refs.n)
                abort();
            for (size_t i = 0; i < refs.n; i++)
                if (!refs.items[i][0])
                    abort(); // an empty reference is refused, never kept
            rl_texts_free(&texts);
            rl_texts_free(&refs);
        }
        return 0;
    }
    char *s = fuzz_string(data + 1, size - 1);
    if (kind == 0) {
        double score;
        if (label_parse_score(s, &score) == RL_OK && !(score >= 1 && score <= 10))
            abort();
        fuzz_sink = (uint8_t)label_parse_pair(s);
    } else {
        grade_all(s);
    }
    free(s);
    return 0;
}
