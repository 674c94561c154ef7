// Dataset readers: turn the public preference and correctness datasets into battles (formats in
// include/rl/battle.h). Every reader bounds its input, validates each row and reports a bad row
// as "file:line: reason"; in lenient mode it skips the row and goes on, in strict mode it stops.
// They never print. They do not embed prompts or deduplicate battles. The shared plumbing (specs,
// row loops) is reader.c.
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "data/data.h"
#include "data/reader.h"
#include "rl/battle.h"

#define MAX_PROMPT_ID 10000000L

// Add a row's battle, weighted by the spec's weight; a bad prompt or model name is a failed row.
static int rd_add(struct rl__reader *r, long line, const char *prompt, size_t len, const char *ma,
                  const char *mb, enum rl_outcome o, float w) {
    if (memchr(prompt, '\0', len))
        return rl__row_fail(r, line, "prompt contains a NUL byte");
    int rc = rl_battles_add(r->b, prompt, len, ma, mb, o, w * r->weight, r->source);
    if (rc == RL_EINVAL || rc == RL_ETOOBIG)
        return rl__row_fail(r, line, "bad model name '%s' or '%s'", ma, mb);
    if (rc < 0)
        return rl__errf(r->errbuf, rc, "%s:%ld: %s", r->path, line, rl_strerror(rc));
    r->added += rc;
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Chatbot Arena 55k CSV (lmsys/lmsys-arena-human-preference-55k)

enum { A55_MODEL_A, A55_MODEL_B, A55_PROMPT, A55_WIN_A, A55_WIN_B, A55_WIN_TIE, A55_N };

static int flag01(const char *s, int *out) {
    if (strcmp(s, "1") == 0 || strcmp(s, "1.0") == 0 || strcasecmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "0") == 0 || strcmp(s, "0.0") == 0 || strcasecmp(s, "false") == 0)
        *out = 0;
    else
        return RL_EFORMAT;
    return RL_OK;
}

static int arena55k_row(struct rl__reader *r, const struct rl__dcsv_row *row, const int *cols) {
    int w[3];
    for (int i = 0; i < 3; i++)
        if (flag01(row->field[cols[A55_WIN_A + i]], &w[i]) != RL_OK)
            return rl__row_fail(r, row->line, "winner flag '%s' is not 0 or 1",
                                row->field[cols[A55_WIN_A + i]]);
    if (w[0] + w[1] + w[2] != 1)
        return rl__row_fail(r, row->line, "exactly one of winner_model_a/b/tie must be 1");
    enum rl_outcome o = w[0] ? RL_OUTCOME_A_WINS : w[1] ? RL_OUTCOME_B_WINS : RL_OUTCOME_TIE;
    json_error_t err;
    json_t *turns = json_loadb(row->field[cols[A55_PROMPT]], row->len[cols[A55_PROMPT]], 0, &err);
    size_t len = 0;
    const char *p = rl__json_first_turn(turns, &len);
    int rc =
        p ? rd_add(r, row->line, p, len, row->field[cols[A55_MODEL_A]],
                   row->field[cols[A55_MODEL_B]], o, 1.0f)
          : rl__row_fail(r, row->line, "prompt is not a JSON list whose first turn is a string");
    json_decref(turns);
    return rc;
}

static int read_arena55k(struct rl__reader *r, char *data, size_t len) {
    static const char *const names[] = {"model_a",        "model_b",        "prompt",
                                        "winner_model_a", "winner_model_b", "winner_tie"};
    struct rl__dcsv c;
    struct rl__dcsv_row h;
    int cols[A55_N];
    rl__dcsv_init(&c, data, len);
    int rc = rl__csv_header(r, &c, &h);
    if (rc == RL_OK)
        rc = rl__csv_need_cols(r, &h, names, A55_N, cols);
    if (rc == RL_OK)
        rc = rl__csv_rows(r, &c, A55_N, cols, arena55k_row);
    return rc;
}

// ----------------------------------------------------------------------------
// Arena conversations (lmsys/chatbot_arena_conversations and the later arena dumps)

static int arena_row(struct rl__reader *r, json_t *o, long line) {
    const char *ma = rl__json_str(o, "model_a", NULL), *mb = rl__json_str(o, "model_b", NULL);
    const char *winner = rl__json_str(o, "winner", NULL);
    if (!ma || !mb || !winner)
        return rl__row_fail(r, line, "model_a, model_b and winner must be strings");
    enum rl_outcome o_;
    if (strcmp(winner, "model_a") == 0)
        o_ = RL_OUTCOME_A_WINS;
    else if (strcmp(winner, "model_b") == 0)
        o_ = RL_OUTCOME_B_WINS;
    else if (strcmp(winner, "tie") == 0)
        o_ = RL_OUTCOME_TIE;
    else if (strcmp(winner, "tie (bothbad)") == 0)
        o_ = RL_OUTCOME_BOTH_BAD;
    else
        return rl__row_fail(r, line, "winner '%s' is not model_a, model_b, tie or tie (bothbad)",
                            winner);
    // The first user turn of conversation_a (both conversations share the user turns).
    json_t *conv = json_object_get(o, "conversation_a");
    const char *p = NULL;
    size_t len = 0;
    for (size_t i = 0; json_is_array(conv) && i < json_array_size(conv) && !p; i++) {
        json_t *m = json_array_get(conv, i);
        const char *role = rl__json_str(m, "role", NULL);
        if (role && strcmp(role, "user") == 0)
            p = rl__json_str(m, "content", &len);
    }
    if (!p)
        return rl__row_fail(r, line, "conversation_a has no user turn with string content");
    return rd_add(r, line, p, len, ma, mb, o_, 1.0f);
}

// ----------------------------------------------------------------------------
// RouteLLM's GPT-4-judge set (routellm/gpt4_dataset): prompt, mixtral_score 1-5

static int judge_add(struct rl__reader *r, long line, const char *p, size_t len, double score) {
    if (!(score >= 1 && score <= 5))
        return rl__row_fail(r, line, "mixtral_score %g is not in 1..5", score);
    enum rl_outcome o = score >= r->judge.min_weak_win ? RL_OUTCOME_B_WINS : RL_OUTCOME_A_WINS;
    return rd_add(r, line, p, len, r->judge.strong, r->judge.weak, o, 1.0f);
}

static int judge_row(struct rl__reader *r, json_t *o, long line) {
    size_t len = 0;
    const char *p = rl__json_str(o, "prompt", &len);
    double score;
    if (!p)
        return rl__row_fail(r, line, "prompt must be a string");
    if (rl__json_num(json_object_get(o, "mixtral_score"), &score) != RL_OK)
        return rl__row_fail(r, line, "mixtral_score must be a number");
    return judge_add(r, line, p, len, score);
}

static int judge_csv_row(struct rl__reader *r, const struct rl__dcsv_row *row, const int *cols) {
    double score;
    if (rl__parse_double(row->field[cols[1]], row->len[cols[1]], &score) != RL_OK)
        return rl__row_fail(r, row->line, "mixtral_score '%s' is not a number",
                            row->field[cols[1]]);
    return judge_add(r, row->line, row->field[cols[0]], row->len[cols[0]], score);
}

// ----------------------------------------------------------------------------
// AlpacaEval annotations (battles.csv: prompt_id, annotator, model_1, model_2, preference)

static int alpaca_prompt_row(struct rl__reader *r, json_t *o, long line) {
    json_t *id = json_object_get(o, "prompt_id");
    size_t len = 0;
    const char *text = rl__json_str(o, "instruction", &len);
    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) >= MAX_PROMPT_ID || !text)
        return rl__row_fail(r, line, "expected {prompt_id: 0..%ld, instruction: string}",
                            MAX_PROMPT_ID - 1);
    long k = (long)json_integer_value(id);
    if (k >= r->alpaca.n) {
        long n = k + 1 > 2 * r->alpaca.n ? k + 1 : 2 * r->alpaca.n;
        char **t = realloc(r->alpaca.text, (size_t)n * sizeof *t);
        if (!t)
            return RL_ENOMEM;
        memset(t + r->alpaca.n, 0, (size_t)(n - r->alpaca.n) * sizeof *t);
        r->alpaca.text = t;
        r->alpaca.n = n;
    }
    free(r->alpaca.text[k]);
    r->alpaca.text[k] = strndup(text, len);
    return r->alpaca.text[k] ? RL_OK : RL_ENOMEM;
}

// Whether a "a|b|c" list names name. A field item ("gpt-4|cost": rl__model_field_known) is the
// field of the model before it and names nothing.
static bool list_has(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t m = bar ? (size_t)(bar - p) : strlen(p);
        if (m == n && strncmp(p, name, n) == 0 && !(p > list && rl__model_field_known(p, m)))
            return true;
        p = bar ? bar + 1 : p + m;
    }
    return false;
}

enum { AE_ID, AE_ANNOTATOR, AE_MODEL_1, AE_MODEL_2, AE_PREF, AE_N };

// A fractional preference p (weighted annotators) is P(model_2 better) + 1; it becomes two
// battles weighted 1 - (p - 1) and p - 1, which is the soft label in Bradley-Terry and BCE terms.
static int alpaca_row(struct rl__reader *r, const struct rl__dcsv_row *row, const int *cols) {
    if (r->alpaca.annotators && !list_has(r->alpaca.annotators, row->field[cols[AE_ANNOTATOR]]))
        return RL_OK;
    if (r->alpaca.models && !(list_has(r->alpaca.models, row->field[cols[AE_MODEL_1]]) &&
                              list_has(r->alpaca.models, row->field[cols[AE_MODEL_2]])))
        return RL_OK;
    double id, pref;
    if (rl__parse_double(row->field[cols[AE_ID]], row->len[cols[AE_ID]], &id) != RL_OK || id < 0 ||
        id != floor(id) || id >= (double)r->alpaca.n || !r->alpaca.text[(long)id])
        return rl__row_fail(r, row->line, "prompt_id '%s' is not a known prompt",
                            row->field[cols[AE_ID]]);
    if (row->len[cols[AE_PREF]] == 0)
        return RL_OK; // the judge failed on this example: no label, not a malformed row
    if (rl__parse_double(row->field[cols[AE_PREF]], row->len[cols[AE_PREF]], &pref) != RL_OK ||
        !(pref == 0 || (pref >= 1 && pref <= 2)))
        return rl__row_fail(r, row->line, "preference '%s' is not 0 or in [1, 2]",
                            row->field[cols[AE_PREF]]);
    const char *p = r->alpaca.text[(long)id];
    const char *m1 = row->field[cols[AE_MODEL_1]], *m2 = row->field[cols[AE_MODEL_2]];
    size_t len = strlen(p);
    if (pref == 0 || pref == 1.5)
        return rd_add(r, row->line, p, len, m1, m2, RL_OUTCOME_TIE, 1.0f);
    if (pref == 1 || pref == 2)
        return rd_add(r, row->line, p, len, m1, m2,
                      pref == 1 ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1.0f);
    int rc = rd_add(r, row->line, p, len, m1, m2, RL_OUTCOME_A_WINS, (float)(2 - pref));
    if (rc == RL_OK)
        rc = rd_add(r, row->line, p, len, m1, m2, RL_OUTCOME_B_WINS, (float)(pref - 1));
    return rc;
}

static int read_alpaca(struct rl__reader *r, char *data, size_t len) {
    static const char *const names[] = {"prompt_id", "annotator", "model_1", "model_2",
                                        "preference"};
    char ppath[4096];
    const char *given = rl__spec_get(r->spec, "prompts");
    r->alpaca.annotators = rl__spec_get(r->spec, "annotators");
    r->alpaca.models = rl__spec_get(r->spec, "models");
    if (given) {
        snprintf(ppath, sizeof ppath, "%s", given);
    } else {
        // prompts.jsonl.gz (or .jsonl) in the folder of the battles file.
        const char *slash = strrchr(r->path, '/');
        int dir = slash ? (int)(slash - r->path + 1) : 0;
        snprintf(ppath, sizeof ppath, "%.*sprompts.jsonl.gz", dir, r->path);
        if (!rl_file_exists(ppath))
            snprintf(ppath, sizeof ppath, "%.*sprompts.jsonl", dir, r->path);
    }
    char *pdata = NULL;
    size_t plen = 0;
    int rc = rl__data_read(ppath, &pdata, &plen, r->errbuf);
    if (rc != RL_OK)
        return rc;
    // The prompts file is read strictly: a bad prompt table is not a row-level problem.
    struct rl_battles_read_opts strict = {.strict = true};
    struct rl__reader pr = {.opts = &strict, .path = ppath, .errbuf = r->errbuf, .limit = -1};
    rc = rl__json_rows(&pr, pdata, plen, alpaca_prompt_row);
    free(pdata);
    r->alpaca.text = pr.alpaca.text;
    r->alpaca.n = pr.alpaca.n;
    if (rc == RL_OK && pr.rows == 0)
        rc = rl__errf(r->errbuf, RL_EFORMAT, "%s: no prompts", ppath);

    struct rl__dcsv c;
    struct rl__dcsv_row h;
    int cols[AE_N];
    rl__dcsv_init(&c, data, len);
    if (rc == RL_OK)
        rc = rl__csv_header(r, &c, &h);
    if (rc == RL_OK)
        rc = rl__csv_need_cols(r, &h, names, AE_N, cols);
    if (rc == RL_OK)
        rc = rl__csv_rows(r, &c, AE_N, cols, alpaca_row);
    for (long i = 0; i < r->alpaca.n; i++)
        free(r->alpaca.text[i]);
    free(r->alpaca.text);
    r->alpaca.text = NULL;
    r->alpaca.n = 0;
    return rc;
}

// ----------------------------------------------------------------------------
// Per-prompt result tables -> gold battles

// Cells mode: one cell per scored model, the raw score kept until the file is read (read_table
// rescales them).
static int table_cells(struct rl__reader *r, long line, const char *p, size_t len,
                       const char *const *names, const double *scores, const bool *have, int n) {
    if (memchr(p, '\0', len))
        return rl__row_fail(r, line, "prompt contains a NUL byte");
    const char *s;
    if (rl__prompt_clean(p, len, &s) < RL_BATTLE_MIN_PROMPT) {
        r->b->n_dropped_short++;
        return RL_OK;
    }
    long prompt = rl__battles_prompt(r->b, p, len);
    if (prompt < 0)
        return rl__errf(r->errbuf, (int)prompt, "%s:%ld: %s", r->path, line,
                        rl_strerror((int)prompt));
    for (int i = 0; i < n; i++) {
        if (!have[i])
            continue;
        if (!isfinite(scores[i]))
            return rl__row_fail(r, line, "score of '%s' is not finite", names[i]);
        int m = rl_battles_model(r->b, names[i]);
        if (m < 0)
            return rl__row_fail(r, line, "bad model name '%s'", names[i]);
        int rc = rl__battles_push_cell(r->b, (uint32_t)prompt, m, scores[i], r->source);
        if (rc < 0)
            return rl__errf(r->errbuf, rc, "%s:%ld: %s", r->path, line, rl_strerror(rc));
        r->added++;
    }
    return RL_OK;
}

// Every pair of scored models gives a battle: the higher score wins when the gap is at least the
// margin; equal scores give a tie (both good) or a both-bad tie when ties are on.
static int table_battles(struct rl__reader *r, long line, const char *p, size_t len,
                         const char *const *names, const double *scores, const bool *have, int n) {
    if (r->opts && r->opts->cells)
        return table_cells(r, line, p, len, names, scores, have, n);
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (!have[i] || !have[j])
                continue;
            double d = scores[i] - scores[j];
            int rc = RL_OK;
            if (fabs(d) >= r->table.margin)
                rc = rd_add(r, line, p, len, names[i], names[j],
                            d > 0 ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1.0f);
            else if (r->table.ties && d == 0)
                rc = rd_add(r, line, p, len, names[i], names[j],
                            scores[i] >= 0.5 ? RL_OUTCOME_TIE : RL_OUTCOME_BOTH_BAD, 1.0f);
            if (rc < 0)
                return rc;
        }
    }
    return RL_OK;
}

static int table_csv_row(struct rl__reader *r, const struct rl__dcsv_row *row, const int *cols) {
    double scores[RL_TABLE_MAX_MODELS];
    bool have[RL_TABLE_MAX_MODELS];
    for (int i = 0; i < r->table.n_models; i++) {
        int c = cols[i + 1];
        have[i] = row->len[c] > 0;
        if (have[i] && rl__parse_double(row->field[c], row->len[c], &scores[i]) != RL_OK)
            return rl__row_fail(r, row->line, "column '%s': '%.40s' is not a number or boolean",
                                r->table.names[i], row->field[c]);
    }
    return table_battles(r, row->line, row->field[cols[0]], row->len[cols[0]], r->table.names,
                         scores, have, r->table.n_models);
}

static int read_table_csv(struct rl__reader *r, char *data, size_t len, const char *prompt_col) {
    struct rl__dcsv c;
    struct rl__dcsv_row h;
    rl__dcsv_init(&c, data, len);
    int rc = rl__csv_header(r, &c, &h);
    if (rc != RL_OK)
        return rc;
    const char *pc = prompt_col                           ? prompt_col
                     : rl__dcsv_column(&h, "prompt") >= 0 ? "prompt"
                                                          : "question";
    r->table.cols[0] = rl__dcsv_column(&h, pc);
    if (r->table.cols[0] < 0)
        return rl__errf(r->errbuf, RL_EFORMAT, "%s:1: no prompt column '%s'", r->path, pc);
    r->table.n_models = 0;
    for (int i = 0; i < h.n; i++) {
        if (i == r->table.cols[0] || (r->table.models && !list_has(r->table.models, h.field[i])) ||
            (r->table.skip && list_has(r->table.skip, h.field[i])))
            continue;
        if (rl__model_field(h.field[i], NULL) > 0) // "gpt-4|cost": a field, not a model
            continue;
        if (r->table.n_models >= RL_TABLE_MAX_MODELS)
            return rl__errf(r->errbuf, RL_ETOOBIG, "%s:1: more than %d model columns", r->path,
                            RL_TABLE_MAX_MODELS);
        r->table.names[r->table.n_models] = h.field[i];
        r->table.cols[++r->table.n_models] = i;
    }
    if (r->table.n_models < 2)
        return rl__errf(r->errbuf, RL_EFORMAT, "%s:1: need at least two model columns", r->path);
    return rl__csv_rows(r, &c, r->table.n_models + 1, r->table.cols, table_csv_row);
}

static int table_json_row(struct rl__reader *r, json_t *o, long line) {
    size_t len = 0;
    const char *p = r->table.prompt_key ? rl__json_str(o, r->table.prompt_key, &len) : NULL;
    if (!r->table.prompt_key) {
        p = rl__json_str(o, "prompt", &len);
        if (!p)
            p = rl__json_str(o, "question", &len);
    }
    if (!p)
        return rl__row_fail(r, line, "no string prompt/question member");
    json_t *scores = json_object_get(o, "scores");
    json_t *owned = NULL;
    if (json_is_string(scores)) {
        json_error_t err;
        scores = owned = json_loads(json_string_value(scores), 0, &err);
    }
    json_t *src = json_is_object(scores) ? scores : o;
    if (src == o && !r->table.models) {
        json_decref(owned);
        return rl__row_fail(r, line, "no scores object (give models=a|b|... to read members)");
    }
    const char *names[RL_TABLE_MAX_MODELS];
    double vals[RL_TABLE_MAX_MODELS];
    bool have[RL_TABLE_MAX_MODELS];
    int n = 0, rc = RL_OK;
    const char *key;
    json_t *v;
    json_object_foreach(src, key, v) {
        if (rl__model_field(key, NULL) > 0) // "gpt-4|cost": a field, not a model
            continue;
        if (r->table.models ? !list_has(r->table.models, key)
                            : (src == o && (key == p || strcmp(key, "prompt") == 0)))
            continue;
        if (n >= RL_TABLE_MAX_MODELS) {
            rc = rl__row_fail(r, line, "more than %d models", RL_TABLE_MAX_MODELS);
            break;
        }
        names[n] = key;
        have[n] = !json_is_null(v);
        if (have[n] && rl__json_num(v, &vals[n]) != RL_OK) {
            rc = rl__row_fail(r, line, "score of '%s' is not a number or boolean", key);
            break;
        }
        n++;
    }
    if (rc == RL_OK)
        rc = n < 2 ? rl__row_fail(r, line, "fewer than two model scores")
                   : table_battles(r, line, p, len, names, vals, have, n);
    json_decref(owned);
    return rc;
}

// Cells mode: bring the scores of the cells a file gave (from index `first`) into [0, 1]. Kept as
// they are when they already lie there; else scale=LO:HI maps LO..HI to 0..1 (values beyond it
// clamped), or the file's own lowest and highest score do.
static int scale_cells(struct rl__reader *r, size_t first) {
    struct rl_battles *b = r->b;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = first; i < b->n_cells; i++) {
        lo = fmin(lo, b->cells[i].score);
        hi = fmax(hi, b->cells[i].score);
    }
    const char *scale = rl__spec_get(r->spec, "scale");
    if (scale) {
        char *end;
        lo = strtod(scale, &end);
        hi = *end == ':' ? strtod(end + 1, &end) : NAN;
        if (*end || !(hi > lo) || !isfinite(lo) || !isfinite(hi))
            return rl__errf(r->errbuf, RL_EINVAL, "%s: scale '%s' is not LO:HI with LO < HI",
                            r->path, scale);
    } else if (first == b->n_cells || (lo >= 0 && hi <= 1)) {
        return RL_OK;
    } else if (!(hi > lo)) {
        return rl__errf(r->errbuf, RL_EFORMAT, "%s: every score is %g; give scale=LO:HI", r->path,
                        lo);
    }
    for (size_t i = first; i < b->n_cells; i++) {
        double v = (b->cells[i].score - lo) / (hi - lo);
        b->cells[i].score = (float)fmin(1, fmax(0, v));
    }
    return RL_OK;
}

static int read_table_rows(struct rl__reader *r, char *data, size_t len) {
    int rc = rl__spec_double(r->spec, "margin", 0.5, 0, 1e300, &r->table.margin, r->errbuf);
    if (rc != RL_OK)
        return rc;
    if (r->table.margin <= 0)
        return rl__errf(r->errbuf, RL_EINVAL, "%s: margin must be > 0", r->path);
    const char *ties = rl__spec_get(r->spec, "ties");
    r->table.ties = ties && strcmp(ties, "1") == 0;
    r->table.models = rl__spec_get(r->spec, "models");
    r->table.skip = rl__spec_get(r->spec, "skip");
    const char *prompt_col = rl__spec_get(r->spec, "prompt");
    const char *p = data;
    while (p < data + len && isspace((unsigned char)*p))
        p++;
    if (p < data + len && (*p == '[' || *p == '{')) {
        r->table.prompt_key = prompt_col;
        return rl__json_rows(r, data, len, table_json_row);
    }
    return read_table_csv(r, data, len, prompt_col);
}

static int read_table(struct rl__reader *r, char *data, size_t len) {
    if (r->opts && r->opts->cells) {
        size_t first = r->b->n_cells;
        int rc = read_table_rows(r, data, len);
        return rc == RL_OK ? scale_cells(r, first) : rc;
    }
    return read_table_rows(r, data, len);
}

// ----------------------------------------------------------------------------
// Entry point

long rl_battles_read(struct rl_battles *b, const char *spec_text,
                     const struct rl_battles_read_opts *opts, char *errbuf) {
    struct rl__spec spec;
    int rc = rl__spec_parse(spec_text, &spec, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl__reader r = {
        .b = b, .opts = opts, .spec = &spec, .path = spec.path, .errbuf = errbuf, .limit = -1};
    const char *src = rl__spec_get(&spec, "source");
    char label[4200];
    snprintf(label, sizeof label, "%s:%s", spec.format, spec.path);
    r.source = rl_battles_source(b, src ? src : label);
    if (r.source < 0)
        return rl__errf(errbuf, r.source, "%s: too many data sources", spec.path);
    double w, limit;
    rc = rl__spec_double(&spec, "weight", 1, 0, 1e6, &w, errbuf);
    if (rc == RL_OK)
        rc = rl__spec_double(&spec, "limit", -1, -1, 1e12, &limit, errbuf);
    if (rc != RL_OK)
        return rc;
    r.weight = (float)w;
    r.limit = (long)limit;

    if (strcmp(spec.format, "judge") == 0) {
        const char *s = rl__spec_get(&spec, "strong"), *wk = rl__spec_get(&spec, "weak");
        r.judge.strong = s ? s : RL_MODEL_DEFAULT_STRONG;
        r.judge.weak = wk ? wk : RL_MODEL_DEFAULT_WEAK;
        rc = rl__spec_double(&spec, "min_weak_win", 4, 1, 5, &r.judge.min_weak_win, errbuf);
        if (rc != RL_OK)
            return rc;
    }
    size_t before = opts && opts->cells ? b->n_cells : b->n;
    bool capture = strcmp(spec.format, "capture") == 0;
    double min_rating = 0.5;
    if (capture &&
        (rc = rl__spec_double(&spec, "min_rating", 0.5, 0, 1, &min_rating, errbuf)) != RL_OK)
        return rc;
    char *data = NULL;
    size_t len = 0;
    rc = capture ? RL_OK : rl__data_read(spec.path, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    if (opts && opts->cells && strcmp(spec.format, "table") != 0) {
        rc = rl__errf(errbuf, RL_EINVAL, "%s: format %s has no per-model scores (use table:)",
                      spec.path, spec.format);
    } else if (strcmp(spec.format, "arena55k") == 0) {
        rc = read_arena55k(&r, data, len);
    } else if (strcmp(spec.format, "arena") == 0) {
        rc = rl__json_rows(&r, data, len, arena_row);
    } else if (strcmp(spec.format, "judge") == 0) {
        const char *p = data;
        while (p < data + len && isspace((unsigned char)*p))
            p++;
        if (p < data + len && (*p == '[' || *p == '{')) {
            rc = rl__json_rows(&r, data, len, judge_row);
        } else {
            static const char *const names[] = {"prompt", "mixtral_score"};
            struct rl__dcsv c;
            struct rl__dcsv_row h;
            int cols[2];
            rl__dcsv_init(&c, data, len);
            rc = rl__csv_header(&r, &c, &h);
            if (rc == RL_OK)
                rc = rl__csv_need_cols(&r, &h, names, 2, cols);
            if (rc == RL_OK)
                rc = rl__csv_rows(&r, &c, 2, cols, judge_csv_row);
        }
    } else if (strcmp(spec.format, "alpaca_eval") == 0) {
        rc = read_alpaca(&r, data, len);
    } else if (capture) {
        rc = rl__capture_battles(&r, min_rating);
    } else {
        rc = read_table(&r, data, len);
    }
    free(data);
    if (rc < 0)
        return rc;
    for (int i = 0; i < spec.n_opts; i++)
        if (!(spec.used & (1u << i)))
            return rl__errf(errbuf, RL_EINVAL, "%s: unknown option '%s' for format %s", spec.path,
                            spec.key[i], spec.format);
    if (r.rows > 0 && r.rows == r.bad)
        return rl__errf(errbuf, RL_EFORMAT, "%s: no valid row (%ld malformed)", spec.path, r.bad);
    return (long)((opts && opts->cells ? b->n_cells : b->n) - before);
}
