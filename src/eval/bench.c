// Benchmark loaders: RouteLLM's MT-Bench (questions + GPT-4 single-answer judgments), MMLU and
// GSM8K (per-question correctness), each with its contamination list applied exactly as the
// original does (ROUTELLM.md §1.6), and user tables (CSV or JSONL with a prompt column and one
// quality column per model). Files may be gzip-compressed. Nothing here scores or routes.
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "eval/eval_impl.h"

// The routed pair of the shipped data (ROUTELLM.md §3), spelled as its files' column keys spell
// them (RL_MODEL_DEFAULT_WEAK is the canonical name of the weak one).
#define STRONG_MODEL "gpt-4-1106-preview"
#define WEAK_MODEL   "mistralai/Mixtral-8x7B-Instruct-v0.1"

const char *const rl_bench_names[] = {"mt-bench", "mmlu", "gsm8k", NULL};

// ----------------------------------------------------------------------------
// Builder

int rl__bench_builder_init(struct rl__bench_builder *bb, const char *name, const char *strong,
                           const char *weak, bool has_cost) {
    memset(bb, 0, sizeof *bb);
    bb->has_cost = has_cost;
    bb->b = calloc(1, sizeof *bb->b);
    if (!bb->b)
        return RL_ENOMEM;
    bb->b->name = strdup(name);
    bb->b->strong = strdup(strong);
    bb->b->weak = strdup(weak);
    if (!bb->b->name || !bb->b->strong || !bb->b->weak) {
        rl__bench_builder_free(bb);
        return RL_ENOMEM;
    }
    return RL_OK;
}

static int grow(void **p, size_t elem, size_t cap) {
    void *q = realloc(*p, elem * cap);
    if (!q)
        return RL_ENOMEM;
    *p = q;
    return RL_OK;
}

int rl__bench_builder_add(struct rl__bench_builder *bb, const char *prompt, double q_strong,
                          double q_weak, double c_strong, double c_weak) {
    struct rl_bench *b = bb->b;
    if (b->n == bb->cap) {
        if (bb->cap >= RL_EVAL_MAX_ROWS)
            return RL_ETOOBIG;
        size_t cap = bb->cap ? bb->cap * 2 : 256;
        if (grow((void **)&b->prompts, sizeof *b->prompts, cap) ||
            grow((void **)&b->q_strong, sizeof *b->q_strong, cap) ||
            grow((void **)&b->q_weak, sizeof *b->q_weak, cap))
            return RL_ENOMEM;
        if (bb->has_cost && (grow((void **)&b->c_strong, sizeof *b->c_strong, cap) ||
                             grow((void **)&b->c_weak, sizeof *b->c_weak, cap)))
            return RL_ENOMEM;
        bb->cap = cap;
    }
    char *copy = strdup(prompt);
    if (!copy)
        return RL_ENOMEM;
    b->prompts[b->n] = copy;
    b->q_strong[b->n] = q_strong;
    b->q_weak[b->n] = q_weak;
    if (bb->has_cost) {
        b->c_strong[b->n] = c_strong;
        b->c_weak[b->n] = c_weak;
    }
    b->n++;
    return RL_OK;
}

struct rl_bench *rl__bench_builder_take(struct rl__bench_builder *bb) {
    struct rl_bench *b = bb->b;
    bb->b = NULL;
    bb->cap = 0;
    return b;
}

void rl__bench_builder_free(struct rl__bench_builder *bb) {
    rl_bench_free(bb->b);
    bb->b = NULL;
    bb->cap = 0;
}

void rl_bench_free(struct rl_bench *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->prompts[i]);
    free(b->prompts);
    free(b->q_strong);
    free(b->q_weak);
    free(b->c_strong);
    free(b->c_weak);
    free(b->c_strong_col);
    free(b->c_weak_col);
    free(b->name);
    free(b->strong);
    free(b->weak);
    free(b);
}

struct rl_bench *rl_bench_new_subset(const struct rl_bench *b, const bool *keep) {
    struct rl__bench_builder bb;
    if (rl__bench_builder_init(&bb, b->name, b->strong, b->weak, b->c_strong != NULL) != RL_OK)
        return NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (!keep[i])
            continue;
        if (rl__bench_builder_add(&bb, b->prompts[i], b->q_strong[i], b->q_weak[i],
                                  b->c_strong ? b->c_strong[i] : 0,
                                  b->c_weak ? b->c_weak[i] : 0) != RL_OK) {
            rl__bench_builder_free(&bb);
            return NULL;
        }
    }
    struct rl_bench *s = rl__bench_builder_take(&bb);
    s->n_total = b->n_total;
    s->n_dropped = b->n_dropped;
    s->n_missing = b->n_missing;
    if ((b->c_strong_col && !(s->c_strong_col = strdup(b->c_strong_col))) ||
        (b->c_weak_col && !(s->c_weak_col = strdup(b->c_weak_col)))) {
        rl_bench_free(s);
        return NULL;
    }
    return s;
}

double rl_bench_quality(const struct rl_bench *b, bool strong) {
    const double *q = strong ? b->q_strong : b->q_weak;
    double sum = 0;
    for (size_t i = 0; i < b->n; i++)
        sum += q[i];
    return b->n ? sum / (double)b->n : 0;
}

// The range is taken over both models together: it is the scale of the table (0/1 correctness,
// 0-100, 1-10 judge scores) as far as the prompts show it, so the minimum gap follows the scale.
double rl_bench_min_gap(const struct rl_bench *b) {
    if (b->n == 0)
        return 0;
    double lo = b->q_strong[0], hi = b->q_strong[0];
    for (size_t i = 0; i < b->n; i++) {
        lo = fmin(lo, fmin(b->q_strong[i], b->q_weak[i]));
        hi = fmax(hi, fmax(b->q_strong[i], b->q_weak[i]));
    }
    return RL_EVAL_MIN_GAP * (hi - lo);
}

bool rl_bench_pair_ordered(const struct rl_bench *b) {
    return rl__pgr_defined(rl_bench_quality(b, false), rl_bench_quality(b, true),
                           rl_bench_min_gap(b));
}

double rl_bench_cost(const struct rl_bench *b, const struct rl_eval_prices *prices, bool strong) {
    const double *c = strong ? b->c_strong : b->c_weak;
    if (!c)
        return strong ? prices->strong : prices->weak;
    double sum = 0;
    for (size_t i = 0; i < b->n; i++)
        sum += c[i];
    return b->n ? sum / (double)b->n : 0;
}

// ----------------------------------------------------------------------------
// Cells and files

int rl__parse_quality(const char *s, double *v, bool *is_bool) {
    if (strcmp(s, "True") == 0 || strcmp(s, "true") == 0) {
        *v = 100;
        *is_bool = true;
        return RL_OK;
    }
    if (strcmp(s, "False") == 0 || strcmp(s, "false") == 0) {
        *v = 0;
        *is_bool = true;
        return RL_OK;
    }
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(x))
        return RL_EFORMAT;
    *v = x;
    *is_bool = false;
    return RL_OK;
}

// A shipped file may be stored compressed: try "<dir>/<rel>.gz", then "<dir>/<rel>".
static int find_file(const char *dir, const char *rel, char *out, size_t out_size, char *errbuf) {
    char gz[512];
    if ((size_t)snprintf(gz, sizeof gz, "%s.gz", rel) >= sizeof gz ||
        rl_path_join(out, out_size, dir, gz) != RL_OK)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
    if (rl_file_exists(out))
        return RL_OK;
    if (rl_path_join(out, out_size, dir, rel) != RL_OK)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
    if (rl_file_exists(out))
        return RL_OK;
    return rl__errf(errbuf, RL_EIO,
                    "%s: missing (nor %s.gz); is the evaluation data shipped in %s?", out, out,
                    dir);
}

// ----------------------------------------------------------------------------
// Contamination lists

static int strcmp_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_contaminated(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct rl__strset *s = ctx;
    const char *prompt = json_string_value(json_object_get(obj, "eval_prompt"));
    if (!prompt)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no string \"eval_prompt\"", path, line);
    if (s->n % 64 == 0 && grow((void **)&s->items, sizeof *s->items, s->n + 64) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    if (!(s->items[s->n] = strdup(prompt)))
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    s->n++;
    return RL_OK;
}

int rl__strset_load_contaminated(struct rl__strset *s, const char *path, char *errbuf) {
    memset(s, 0, sizeof *s);
    int rc = rl__jsonl_read(path, RL_EVAL_MAX_FILE, add_contaminated, s, errbuf);
    if (rc != RL_OK) {
        rl__strset_free(s);
        return rc;
    }
    if (s->n)
        qsort(s->items, s->n, sizeof *s->items, strcmp_ptr);
    return RL_OK;
}

bool rl__strset_has(const struct rl__strset *s, const char *item) {
    return s->n && bsearch(&item, s->items, s->n, sizeof *s->items, strcmp_ptr) != NULL;
}

void rl__strset_free(struct rl__strset *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

// ----------------------------------------------------------------------------
// MT-Bench: route on turn 1; the routed model's judge scores of both turns count, so a prompt's
// quality is the mean of its two turn scores (ROUTELLM.md §1.6).

#define MT_MAX_QUESTIONS 100000

struct mt_question {
    long id;
    char *turn1, *turn2;
    double score[2][2]; // [strong = 0, weak = 1][turn - 1]
    bool have[2][2];
};

struct mt_state {
    struct mt_question *q;
    size_t n;
};

static int mt_add_question(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct mt_state *st = ctx;
    json_t *id = json_object_get(obj, "question_id"), *turns = json_object_get(obj, "turns");
    if (!json_is_integer(id))
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no integer \"question_id\"", path, line);
    if (!json_is_array(turns) || json_array_size(turns) < 2 ||
        !json_is_string(json_array_get(turns, 0)) || !json_is_string(json_array_get(turns, 1)))
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: \"turns\" must hold two strings", path, line);
    if (st->n == MT_MAX_QUESTIONS)
        return rl__errf(errbuf, RL_ETOOBIG, "%s:%zu: more than %d questions", path, line,
                        MT_MAX_QUESTIONS);
    for (size_t i = 0; i < st->n; i++)
        if (st->q[i].id == json_integer_value(id))
            return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: question_id %lld repeated", path, line,
                            (long long)json_integer_value(id));
    if (st->n % 64 == 0 && grow((void **)&st->q, sizeof *st->q, st->n + 64) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    struct mt_question *q = &st->q[st->n];
    memset(q, 0, sizeof *q);
    q->id = (long)json_integer_value(id);
    q->turn1 = strdup(json_string_value(json_array_get(turns, 0)));
    q->turn2 = strdup(json_string_value(json_array_get(turns, 1)));
    st->n++;
    if (!q->turn1 || !q->turn2)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    return RL_OK;
}

static int mt_add_judgment(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct mt_state *st = ctx;
    json_t *id = json_object_get(obj, "question_id"), *turn = json_object_get(obj, "turn"),
           *score = json_object_get(obj, "score");
    const char *model = json_string_value(json_object_get(obj, "model"));
    if (!json_is_integer(id) || !json_is_integer(turn) || !json_is_number(score) || !model)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s:%zu: a judgment needs integer question_id and turn, string model "
                        "and numeric score",
                        path, line);
    int m = strcmp(model, STRONG_MODEL) == 0 ? 0 : strcmp(model, WEAK_MODEL) == 0 ? 1 : -1;
    if (m < 0)
        return RL_OK;
    long long t = json_integer_value(turn);
    double s = json_number_value(score);
    if (t != 1 && t != 2)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: turn %lld (expected 1 or 2)", path, line, t);
    if (!isfinite(s) || s < 0 || s > 10)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: score %g outside [0, 10]", path, line, s);
    for (size_t i = 0; i < st->n; i++) {
        struct mt_question *q = &st->q[i];
        if (q->id != json_integer_value(id))
            continue;
        if (q->have[m][t - 1])
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s:%zu: second judgment of question %ld turn %lld for %s", path, line,
                            q->id, t, model);
        q->have[m][t - 1] = true;
        q->score[m][t - 1] = s;
        return RL_OK;
    }
    return RL_OK; // a judgment of a question not in question.jsonl cannot be routed; ignored
}

static void mt_free(struct mt_state *st) {
    for (size_t i = 0; i < st->n; i++) {
        free(st->q[i].turn1);
        free(st->q[i].turn2);
    }
    free(st->q);
}

static struct rl_bench *load_mt_bench(const char *dir, char *errbuf) {
    struct mt_state st = {0};
    struct rl__strset bad = {0};
    struct rl__bench_builder bb = {0};
    char path[4096];
    int rc = find_file(dir, "mt_bench/question.jsonl", path, sizeof path, errbuf);
    if (rc == RL_OK)
        rc = rl__jsonl_read(path, RL_EVAL_MAX_FILE, mt_add_question, &st, errbuf);
    if (rc == RL_OK)
        rc = find_file(dir, "mt_bench/judgements.jsonl", path, sizeof path, errbuf);
    if (rc == RL_OK)
        rc = rl__jsonl_read(path, RL_EVAL_MAX_FILE, mt_add_judgment, &st, errbuf);
    if (rc == RL_OK)
        rc = find_file(dir, "mt_bench/contaminated_prompts.jsonl", path, sizeof path, errbuf);
    if (rc == RL_OK)
        rc = rl__strset_load_contaminated(&bad, path, errbuf);
    if (rc == RL_OK &&
        (rc = rl__bench_builder_init(&bb, "mt-bench", STRONG_MODEL, WEAK_MODEL, false)) != RL_OK)
        rl__errf(errbuf, rc, "mt-bench: out of memory");
    size_t dropped = 0;
    for (size_t i = 0; rc == RL_OK && i < st.n; i++) {
        struct mt_question *q = &st.q[i];
        // The original drops a question when either of its turns is a contaminated prompt.
        if (rl__strset_has(&bad, q->turn1) || rl__strset_has(&bad, q->turn2)) {
            dropped++;
            continue;
        }
        for (int m = 0; m < 2 && rc == RL_OK; m++)
            for (int t = 0; t < 2 && rc == RL_OK; t++)
                if (!q->have[m][t])
                    rc = rl__errf(errbuf, RL_EFORMAT,
                                  "%s/mt_bench/judgements: no score for question %ld turn %d of "
                                  "%s",
                                  dir, q->id, t + 1, m == 0 ? STRONG_MODEL : WEAK_MODEL);
        if (rc != RL_OK)
            break;
        double qs = (q->score[0][0] + q->score[0][1]) / 2;
        double qw = (q->score[1][0] + q->score[1][1]) / 2;
        if ((rc = rl__bench_builder_add(&bb, q->turn1, qs, qw, 0, 0)) != RL_OK)
            rl__errf(errbuf, rc, "mt-bench: out of memory");
    }
    struct rl_bench *b = NULL;
    if (rc == RL_OK) {
        b = rl__bench_builder_take(&bb);
        b->n_total = st.n;
        b->n_dropped = dropped;
    }
    rl__bench_builder_free(&bb);
    rl__strset_free(&bad);
    mt_free(&st);
    return b;
}

// ----------------------------------------------------------------------------
// Correctness tables (MMLU, GSM8K) and user CSV tables: a header line, then a prompt column and
// one quality column per model (True/False or numbers), optionally one cost column per model.

struct table_cols {
    int prompt, strong, weak, c_strong, c_weak;
};

int rl__table_column(const char *path, const struct rl__dcsv_row *header, const char *name,
                     int *col, char *errbuf) {
    *col = name ? rl__dcsv_column(header, name) : -1;
    if (name && *col < 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%ld: no column \"%s\" in the header", path,
                        header->line, name);
    return RL_OK;
}

int rl__table_csv_open(const char *path, char **data, struct rl__dcsv *c,
                       struct rl__dcsv_row **header, char *errbuf) {
    size_t len;
    int rc = rl_file_read(path, RL_EVAL_MAX_FILE, data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    *header = malloc(sizeof **header);
    if (!*header)
        rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    if (rc == RL_OK) {
        rl__dcsv_init(c, *data, len);
        rc = rl__dcsv_read(c, *header, path, errbuf);
        rc = rc == 1 ? RL_OK
             : rc == 0
                 ? rl__errf(errbuf, RL_EFORMAT, "%s: empty file (expected a header line)", path)
                 : rc;
    }
    if (rc != RL_OK) {
        free(*header);
        free(*data);
        *header = NULL;
        *data = NULL;
    }
    return rc;
}

static int cell_number(const char *path, const struct rl__dcsv_row *row, int col, const char *what,
                       double *v, char *errbuf) {
    bool is_bool;
    if (col >= row->n)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%ld: %d fields, the %s column is number %d", path,
                        row->line, row->n, what, col + 1);
    if (rl__parse_quality(row->field[col], v, &is_bool) != RL_OK)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s:%ld: %s value \"%.40s\" is neither a number nor True/False", path,
                        row->line, what, row->field[col]);
    return RL_OK;
}

int rl__model_cost_col(const char *const *names, int n, const char *model) {
    size_t len = strlen(model);
    for (int i = 0; i < n; i++) {
        const char *field;
        if (rl__model_field(names[i], &field) == len && strncmp(names[i], model, len) == 0 &&
            rl__model_field_is_cost(field))
            return i;
    }
    return -1;
}

// Read costs from the columns cs and cw: the builder takes costs from now on, and the bench
// records the columns' names.
static int use_cost(struct rl__bench_builder *bb, const char *cs, const char *cw) {
    bb->has_cost = true;
    bb->b->c_strong_col = strdup(cs);
    bb->b->c_weak_col = strdup(cw);
    return bb->b->c_strong_col && bb->b->c_weak_col ? RL_OK : RL_ENOMEM;
}

// Append every row of one CSV file to bb, skipping prompts in `bad` (counted in *dropped) and
// rows whose strong or weak quality cell is empty (a missing label, counted in *missing). With
// find_cost, a table without named cost columns uses its models' own (rl__model_cost_col).
static int add_csv(struct rl__bench_builder *bb, const char *path,
                   const struct rl_bench_table_params *p, const struct rl__strset *bad,
                   bool find_cost, size_t *total, size_t *dropped, size_t *missing, char *errbuf) {
    char *data;
    struct rl__dcsv c;
    struct rl__dcsv_row *row;
    struct table_cols col = {0};
    int rc = rl__table_csv_open(path, &data, &c, &row, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = rl__table_column(path, row, p->prompt ? p->prompt : "prompt", &col.prompt, errbuf);
    if (rc == RL_OK)
        rc = rl__table_column(path, row, p->strong, &col.strong, errbuf);
    if (rc == RL_OK)
        rc = rl__table_column(path, row, p->weak, &col.weak, errbuf);
    if (rc == RL_OK)
        rc = rl__table_column(path, row, p->cost_strong, &col.c_strong, errbuf);
    if (rc == RL_OK)
        rc = rl__table_column(path, row, p->cost_weak, &col.c_weak, errbuf);
    const char *cs_name = p->cost_strong, *cw_name = p->cost_weak;
    if (rc == RL_OK && find_cost && !cs_name && !cw_name) {
        int s = rl__model_cost_col((const char *const *)row->field, row->n, p->strong);
        int w = rl__model_cost_col((const char *const *)row->field, row->n, p->weak);
        if (s >= 0 && w >= 0) {
            col.c_strong = s;
            col.c_weak = w;
            cs_name = row->field[s]; // parsed in place: the text outlives the header row
            cw_name = row->field[w];
            if ((rc = use_cost(bb, cs_name, cw_name)) != RL_OK)
                rl__errf(errbuf, rc, "%s: out of memory", path);
        }
    }
    while (rc == RL_OK) {
        int more = rl__dcsv_read(&c, row, path, errbuf);
        if (more <= 0) {
            rc = more;
            break;
        }
        double qs, qw, cs = 0, cw = 0;
        if (col.prompt >= row->n) {
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: %d fields, the prompt column is number %d",
                          path, row->line, row->n, col.prompt + 1);
            break;
        }
        if ((col.strong < row->n && row->len[col.strong] == 0) ||
            (col.weak < row->n && row->len[col.weak] == 0)) {
            (*total)++;
            (*missing)++;
            continue;
        }
        if ((rc = cell_number(path, row, col.strong, p->strong, &qs, errbuf)) != RL_OK ||
            (rc = cell_number(path, row, col.weak, p->weak, &qw, errbuf)) != RL_OK)
            break;
        if (col.c_strong >= 0 &&
            (rc = cell_number(path, row, col.c_strong, cs_name, &cs, errbuf)) != RL_OK)
            break;
        if (col.c_weak >= 0 &&
            (rc = cell_number(path, row, col.c_weak, cw_name, &cw, errbuf)) != RL_OK)
            break;
        if (cs < 0 || cw < 0) {
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: negative cost", path, row->line);
            break;
        }
        (*total)++;
        const char *prompt = row->field[col.prompt];
        if (strlen(prompt) != row->len[col.prompt]) {
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: NUL byte in the prompt", path, row->line);
            break;
        }
        if (bad && rl__strset_has(bad, prompt)) {
            (*dropped)++;
            continue;
        }
        if ((rc = rl__bench_builder_add(bb, prompt, qs, qw, cs, cw)) != RL_OK)
            rl__errf(errbuf, rc, "%s:%ld: too many rows or out of memory", path, row->line);
    }
    free(row);
    free(data);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// The MMLU responses are one CSV per subject; they are read in name order, which is the order of
// RouteLLM's ALL_MMLU_DOMAINS (alphabetical).
static int list_mmlu(const char *dir, char ***names, size_t *n, char *errbuf) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open the MMLU responses folder", dir);
    struct dirent *e;
    int rc = RL_OK;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        bool csv = (len > 9 && strcmp(e->d_name + len - 7, ".csv.gz") == 0) ||
                   (len > 6 && strcmp(e->d_name + len - 4, ".csv") == 0);
        if (!csv || strncmp(e->d_name, "mmlu_", 5) != 0)
            continue;
        if (*n % 64 == 0 && grow((void **)names, sizeof **names, *n + 64) != RL_OK) {
            rc = RL_ENOMEM;
            break;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            rc = RL_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc == RL_OK && *n == 0)
        rc = rl__errf(errbuf, RL_EIO, "%s: no mmlu_*.csv files", dir);
    if (rc == RL_ENOMEM)
        rl__errf(errbuf, rc, "%s: out of memory", dir);
    if (rc == RL_OK)
        qsort(*names, *n, sizeof **names, by_name);
    return rc;
}

static struct rl_bench *load_correctness(const char *name, const char *dir, char *errbuf) {
    static const struct rl_bench_table_params params = {"prompt", STRONG_MODEL, WEAK_MODEL, NULL,
                                                        NULL};
    bool mmlu = strcmp(name, "mmlu") == 0;
    const char *sub = mmlu ? "mmlu" : "gsm8k";
    struct rl__strset bad = {0};
    struct rl__bench_builder bb = {0};
    char path[4096], rel[256], folder[4096];
    char **files = NULL;
    size_t n_files = 0, total = 0, dropped = 0, missing = 0;
    snprintf(rel, sizeof rel, "%s/contaminated_prompts.jsonl", sub);
    int rc = find_file(dir, rel, path, sizeof path, errbuf);
    if (rc == RL_OK)
        rc = rl__strset_load_contaminated(&bad, path, errbuf);
    if (rc == RL_OK &&
        (rc = rl__bench_builder_init(&bb, name, STRONG_MODEL, WEAK_MODEL, false)) != RL_OK)
        rl__errf(errbuf, rc, "%s: out of memory", name);
    if (rc == RL_OK && mmlu) {
        if (rl_path_join(folder, sizeof folder, dir, "mmlu/responses") != RL_OK)
            rc = rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
        if (rc == RL_OK)
            rc = list_mmlu(folder, &files, &n_files, errbuf);
        for (size_t i = 0; rc == RL_OK && i < n_files; i++) {
            if (rl_path_join(path, sizeof path, folder, files[i]) != RL_OK)
                rc = rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", folder);
            else
                rc = add_csv(&bb, path, &params, &bad, false, &total, &dropped, &missing, errbuf);
        }
    } else if (rc == RL_OK) {
        rc = find_file(dir, "gsm8k/gsm8k_responses.csv", path, sizeof path, errbuf);
        if (rc == RL_OK)
            rc = add_csv(&bb, path, &params, &bad, false, &total, &dropped, &missing, errbuf);
    }
    struct rl_bench *b = NULL;
    if (rc == RL_OK && bb.b->n == 0)
        rl__errf(errbuf, RL_EFORMAT, "%s: no prompts in %s", name, dir);
    else if (rc == RL_OK) {
        b = rl__bench_builder_take(&bb);
        b->n_total = total;
        b->n_dropped = dropped;
    }
    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    rl__bench_builder_free(&bb);
    rl__strset_free(&bad);
    return b;
}

struct rl_bench *rl_bench_load(const char *name, const char *data_dir, char *errbuf) {
    if (!name || !data_dir) {
        rl__errf(errbuf, RL_EINVAL, "benchmark name and data folder are required");
        return NULL;
    }
    if (strcmp(name, "mt-bench") == 0)
        return load_mt_bench(data_dir, errbuf);
    if (strcmp(name, "mmlu") == 0 || strcmp(name, "gsm8k") == 0)
        return load_correctness(name, data_dir, errbuf);
    rl__errf(errbuf, RL_EINVAL,
             "unknown benchmark '%s' (expected mt-bench, mmlu, gsm8k or "
             "table:FILE)",
             name);
    return NULL;
}

// ----------------------------------------------------------------------------
// User tables

struct jsonl_table {
    struct rl__bench_builder *bb;
    const struct rl_bench_table_params *p;
    size_t total, missing;
    const char *cost_strong, *cost_weak; // the cost keys: named, the first line's own, or NULL
};

static int json_cell(json_t *obj, const char *key, bool required, double *v, const char *path,
                     size_t line, char *errbuf) {
    json_t *x = key ? json_object_get(obj, key) : NULL;
    if (!x) {
        if (!required && !key)
            return RL_OK;
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no key \"%s\"", path, line, key);
    }
    if (json_is_boolean(x))
        *v = json_is_true(x) ? 100 : 0;
    else if (json_is_number(x) && isfinite(json_number_value(x)))
        *v = json_number_value(x);
    else
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: \"%s\" is neither a number nor a boolean",
                        path, line, key);
    return RL_OK;
}

// The first line's own cost keys of both models ("<model>|cost", as rl__model_cost_col), when no
// cost key was named.
static int jsonl_auto_cost(struct jsonl_table *t, json_t *obj) {
    const char *keys[RL_DCSV_MAX_FIELDS], *key;
    json_t *v;
    int n = 0;
    json_object_foreach(obj, key, v) {
        if (n < RL_DCSV_MAX_FIELDS)
            keys[n++] = key;
    }
    int s = rl__model_cost_col(keys, n, t->p->strong), w = rl__model_cost_col(keys, n, t->p->weak);
    if (s < 0 || w < 0)
        return RL_OK;
    int rc = use_cost(t->bb, keys[s], keys[w]);
    t->cost_strong = t->bb->b->c_strong_col;
    t->cost_weak = t->bb->b->c_weak_col;
    return rc;
}

static int jsonl_table_row(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct jsonl_table *t = ctx;
    if (t->total == 0 && !t->p->cost_strong && !t->p->cost_weak && jsonl_auto_cost(t, obj) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    const char *key = t->p->prompt ? t->p->prompt : "prompt";
    const char *prompt = json_string_value(json_object_get(obj, key));
    if (!prompt)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no string \"%s\"", path, line, key);
    double qs, qw, cs = 0, cw = 0;
    if (json_is_null(json_object_get(obj, t->p->strong)) ||
        json_is_null(json_object_get(obj, t->p->weak))) {
        t->total++;
        t->missing++;
        return RL_OK;
    }
    int rc = json_cell(obj, t->p->strong, true, &qs, path, line, errbuf);
    if (rc == RL_OK)
        rc = json_cell(obj, t->p->weak, true, &qw, path, line, errbuf);
    if (rc == RL_OK)
        rc = json_cell(obj, t->cost_strong, false, &cs, path, line, errbuf);
    if (rc == RL_OK)
        rc = json_cell(obj, t->cost_weak, false, &cw, path, line, errbuf);
    if (rc != RL_OK)
        return rc;
    if (cs < 0 || cw < 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: negative cost", path, line);
    t->total++;
    rc = rl__bench_builder_add(t->bb, prompt, qs, qw, cs, cw);
    if (rc != RL_OK)
        return rl__errf(errbuf, rc, "%s:%zu: too many rows or out of memory", path, line);
    return RL_OK;
}

struct rl_bench *rl_bench_load_table(const char *path, const struct rl_bench_table_params *p,
                                     char *errbuf) {
    if (!p || !p->strong || !p->weak) {
        rl__errf(errbuf, RL_EINVAL, "%s: a table benchmark needs --strong and --weak columns",
                 path);
        return NULL;
    }
    if ((p->cost_strong == NULL) != (p->cost_weak == NULL)) {
        rl__errf(errbuf, RL_EINVAL, "%s: give both cost columns or neither", path);
        return NULL;
    }
    struct rl__bench_builder bb;
    if (rl__bench_builder_init(&bb, path, p->strong, p->weak, false) != RL_OK ||
        (p->cost_strong && use_cost(&bb, p->cost_strong, p->cost_weak) != RL_OK)) {
        rl__bench_builder_free(&bb);
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t total = 0, dropped = 0, missing = 0;
    int rc;
    if (rl_has_suffix(path, ".jsonl") || rl_has_suffix(path, ".jsonl.gz")) {
        struct jsonl_table t = {&bb, p, 0, 0, p->cost_strong, p->cost_weak};
        rc = rl__jsonl_read(path, RL_EVAL_MAX_FILE, jsonl_table_row, &t, errbuf);
        total = t.total;
        missing = t.missing;
    } else {
        rc = add_csv(&bb, path, p, NULL, true, &total, &dropped, &missing, errbuf);
    }
    struct rl_bench *b = NULL;
    if (rc == RL_OK && bb.b->n == 0)
        rl__errf(errbuf, RL_EFORMAT, "%s: no rows", path);
    else if (rc == RL_OK) {
        b = rl__bench_builder_take(&bb);
        b->n_total = total;
        b->n_dropped = 0;
        b->n_missing = missing;
    }
    rl__bench_builder_free(&bb);
    return b;
}
