// BERT WordPiece tokenizer with the semantics of Hugging Face `tokenizers` as configured by a
// model's tokenizer.json: added (special) tokens matched in the raw text, then BertNormalizer
// (clean, CJK spacing, NFD + strip Mn, lowercase), BertPreTokenizer (whitespace split, punctuation
// isolated), WordPiece (greedy longest match, "##" continuations), and [CLS] ... [SEP] with
// truncation. Encoding streams through the input one character at a time with fixed-size
// state on the stack: no allocation, no limit on input length, and it stops as soon as max_ids
// is reached.
// It does not pad, make pairs, return offsets, or support other normalizers/pre-tokenizers.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/json.h"
#include "rl/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

// Longest word (in characters) that WordPiece may be configured to split; longer settings of
// max_input_chars_per_word are rejected at load. It sizes the per-call state.
#define MAX_WORD_CHARS 512
#define MAX_WORD_BYTES (4 * MAX_WORD_CHARS)
#define MAX_PREFIX     16 // bytes of continuing_subword_prefix
#define MAX_ADDED      256
#define MAX_JSON_FILE  (256u << 20)

struct added_token {
    char *text; // matched byte for byte in the raw input
    size_t len;
    int32_t id;
};

struct rl_tokenizer {
    struct rl__vocab vocab;
    // BertNormalizer settings.
    bool clean_text;
    bool handle_chinese_chars;
    bool strip_accents;
    bool lowercase;
    // WordPiece settings.
    int32_t unk_id;
    char prefix[MAX_PREFIX + 1];
    size_t prefix_len;
    size_t max_word_chars;
    // Post-processing.
    int32_t cls_id;
    int32_t sep_id;
    // Added tokens, and which bytes can start one.
    struct added_token *added;
    size_t n_added;
    bool added_first[256];
};

// ----------------------------------------------------------------------------
// Encoding: the per-call state

// Non-starters kept for canonical reordering; more than MAX_WORD_CHARS of them make the word
// too long for WordPiece, whatever their order.
#define RUN_CAP (MAX_WORD_CHARS + 1)

struct enc {
    const struct rl_tokenizer *t;
    int32_t *out; // content ids (between [CLS] and [SEP])
    size_t n;
    size_t cap;
    bool full;
    char word[MAX_WORD_BYTES]; // UTF-8 of the current word, while it fits max_word_chars
    size_t word_len;
    size_t word_chars;
    int32_t run[RUN_CAP]; // pending non-starters of the NFD stage
    uint8_t run_ccc[RUN_CAP];
    size_t n_run;
};

static void emit(struct enc *e, int32_t id) {
    if (e->n < e->cap)
        e->out[e->n++] = id;
    e->full = e->n >= e->cap;
}

static bool is_continuation_byte(char c) {
    return ((unsigned char)c & 0xC0) == 0x80;
}

// WordPiece on one word: greedy longest-match-first from the left; continuation pieces carry the
// prefix. If any position has no match the whole word becomes the unknown token. Candidates
// longer than the longest vocabulary entry cannot match, so the search starts there.
static void wordpiece(struct enc *e) {
    const struct rl_tokenizer *t = e->t;
    const char *w = e->word;
    size_t n = e->word_len;
    int32_t pieces[MAX_WORD_CHARS];
    size_t n_pieces = 0;
    for (size_t start = 0; start < n;) {
        const char *prefix = start > 0 ? t->prefix : "";
        size_t np = start > 0 ? t->prefix_len : 0;
        size_t end = n;
        if (t->vocab.max_len < np + (end - start))
            end = t->vocab.max_len > np ? start + (t->vocab.max_len - np) : start;
        while (end > start && end < n && is_continuation_byte(w[end]))
            end--;
        int32_t id = -1;
        while (end > start) {
            id = rl__vocab_find(&t->vocab, prefix, np, w + start, end - start);
            if (id >= 0)
                break;
            do
                end--;
            while (end > start && is_continuation_byte(w[end]));
        }
        if (id < 0) {
            emit(e, t->unk_id);
            return;
        }
        pieces[n_pieces++] = id;
        start = end;
    }
    for (size_t i = 0; i < n_pieces; i++)
        emit(e, pieces[i]);
}

static void end_word(struct enc *e) {
    if (e->word_chars == 0)
        return;
    if (e->word_chars > e->t->max_word_chars)
        emit(e, e->t->unk_id);
    else
        wordpiece(e);
    e->word_len = 0;
    e->word_chars = 0;
}

static void append_char(struct enc *e, int32_t cp) {
    e->word_chars++;
    if (e->word_chars <= e->t->max_word_chars)
        e->word_len += rl__utf8_encode(cp, e->word + e->word_len);
}

// ----------------------------------------------------------------------------
// Encoding: the stages, last first. Each takes one code point and feeds the next stage.

// BertPreTokenizer: split on whitespace, and make each punctuation character its own word.
static void pretokenize(struct enc *e, int32_t cp) {
    if (rl__uni_is_whitespace(cp)) {
        end_word(e);
    } else if (rl__uni_is_punctuation(cp)) {
        end_word(e);
        append_char(e, cp);
        end_word(e);
    } else {
        append_char(e, cp);
    }
}

static void lower(struct enc *e, int32_t cp) {
    if (!e->t->lowercase) {
        pretokenize(e, cp);
        return;
    }
    int32_t m[2];
    size_t k = rl__uni_lower(cp, m);
    for (size_t i = 0; i < k; i++)
        pretokenize(e, m[i]);
}

// Canonical ordering: a run of non-starters is stably sorted by combining class (Unicode §3.11).
static void flush_run(struct enc *e) {
    for (size_t i = 1; i < e->n_run; i++) {
        int32_t cp = e->run[i];
        uint8_t ccc = e->run_ccc[i];
        size_t j = i;
        for (; j > 0 && e->run_ccc[j - 1] > ccc; j--) {
            e->run[j] = e->run[j - 1];
            e->run_ccc[j] = e->run_ccc[j - 1];
        }
        e->run[j] = cp;
        e->run_ccc[j] = ccc;
    }
    size_t n = e->n_run;
    e->n_run = 0;
    for (size_t i = 0; i < n; i++)
        lower(e, e->run[i]);
}

// strip_accents: NFD, then drop nonspacing marks. Marks are dropped wherever they sort to, so
// only the surviving non-starters are kept for reordering; every starter (a dropped one too)
// ends a run.
static void strip_accents(struct enc *e, int32_t cp) {
    if (!e->t->strip_accents) {
        lower(e, cp);
        return;
    }
    if (cp < 0x80) {
        if (e->n_run > 0)
            flush_run(e);
        lower(e, cp);
        return;
    }
    int32_t d[RL_UNI_MAX_DECOMP];
    size_t k = rl__uni_decompose(cp, d);
    for (size_t i = 0; i < k; i++) {
        int ccc = rl__uni_combining_class(d[i]);
        bool mark = rl__uni_is_nonspacing_mark(d[i]);
        if (ccc == 0) {
            if (e->n_run > 0)
                flush_run(e);
            if (!mark)
                lower(e, d[i]);
        } else if (!mark) {
            if (e->n_run == RUN_CAP)
                flush_run(e);
            e->run[e->n_run] = d[i];
            e->run_ccc[e->n_run] = (uint8_t)ccc;
            e->n_run++;
        }
    }
}

// BertNormalizer's clean_text and handle_chinese_chars.
static void clean(struct enc *e, int32_t cp) {
    const struct rl_tokenizer *t = e->t;
    if (t->clean_text) {
        if (cp == 0 || cp == RL_UNI_REPLACEMENT || rl__uni_is_control(cp))
            return;
        if (rl__uni_is_whitespace(cp))
            cp = ' ';
    }
    if (t->handle_chinese_chars && cp >= 0x3400 && rl__uni_is_chinese(cp)) {
        strip_accents(e, ' ');
        strip_accents(e, cp);
        strip_accents(e, ' ');
        return;
    }
    strip_accents(e, cp);
}

// The end of a stretch of text between added tokens: everything pending becomes tokens.
static void end_segment(struct enc *e) {
    if (e->n_run > 0)
        flush_run(e);
    end_word(e);
}

// The longest added token at s[0..n), as the leftmost-longest matching of `tokenizers`.
static const struct added_token *match_added(const struct rl_tokenizer *t, const char *s,
                                             size_t n) {
    const struct added_token *best = NULL;
    for (size_t i = 0; i < t->n_added; i++) {
        const struct added_token *a = &t->added[i];
        if (a->len <= n && (!best || a->len > best->len) && memcmp(s, a->text, a->len) == 0)
            best = a;
    }
    return best;
}

long rl_tokenizer_encode(const struct rl_tokenizer *t, const char *text, size_t len, int32_t *ids,
                         size_t max_ids) {
    if (!t || !ids || max_ids < 2 || (!text && len > 0))
        return RL_EINVAL;
    if (max_ids > INT_MAX)
        max_ids = INT_MAX;
    struct enc e;
    e.t = t;
    e.out = ids + 1;
    e.n = 0;
    e.cap = max_ids - 2;
    e.full = e.cap == 0;
    e.word_len = 0;
    e.word_chars = 0;
    e.n_run = 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len && !e.full) {
        if (t->added_first[s[i]]) {
            const struct added_token *a = match_added(t, text + i, len - i);
            if (a) {
                end_segment(&e);
                emit(&e, a->id);
                i += a->len;
                continue;
            }
        }
        int32_t cp;
        i += rl__utf8_decode(s + i, len - i, &cp);
        clean(&e, cp);
    }
    if (!e.full)
        end_segment(&e);
    ids[0] = t->cls_id;
    ids[e.n + 1] = t->sep_id;
    return (int)(e.n + 2);
}

// ----------------------------------------------------------------------------
// Accessors

size_t rl_tokenizer_n_vocab(const struct rl_tokenizer *t) {
    return t->vocab.n;
}

int32_t rl_tokenizer_token_id(const struct rl_tokenizer *t, const char *token) {
    return rl__vocab_find(&t->vocab, "", 0, token, strlen(token));
}

const char *rl_tokenizer_token(const struct rl_tokenizer *t, int32_t id) {
    if (id < 0 || (size_t)id >= t->vocab.n)
        return NULL;
    return t->vocab.text + t->vocab.offset[id];
}

// ----------------------------------------------------------------------------
// Loading: settings

// Settings named in files; resolved to ids once the vocabulary is known.
struct settings {
    char unk[RL_VOCAB_MAX_TOKEN + 1];
    char cls[RL_VOCAB_MAX_TOKEN + 1];
    char sep[RL_VOCAB_MAX_TOKEN + 1];
    int32_t cls_id; // from a post-processor, else -1: look up cls
    int32_t sep_id;
    int strip_accents; // -1: follow lowercase
};

static int copy_token(char *dst, const char *src, const char *path, const char *key, char *errbuf) {
    size_t n = strlen(src);
    if (n == 0 || n > RL_VOCAB_MAX_TOKEN)
        return rl__errf(errbuf, RL_EFORMAT, "%s: %s: token of %zu bytes, expected 1 to %d", path,
                        key, n, RL_VOCAB_MAX_TOKEN);
    memcpy(dst, src, n + 1);
    return RL_OK;
}

// A boolean member that may be absent (keeps *out); strip_accents may also be null (-1).
static int get_bool(json_t *obj, const char *key, int *out, bool nullable, const char *path,
                    const char *where, char *errbuf) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return RL_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return RL_OK;
    }
    if (nullable && json_is_null(v)) {
        *out = -1;
        return RL_OK;
    }
    return rl__errf(errbuf, RL_EFORMAT, "%s: %s.%s: expected %s", path, where, key,
                    nullable ? "true, false or null" : "true or false");
}

// A token member given as a string or, in newer transformers files, as {"content": "..."}.
static int get_token(json_t *obj, const char *key, char *dst, const char *path, char *errbuf) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return RL_OK;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v))
        return rl__errf(errbuf, RL_EFORMAT, "%s: %s: expected a string", path, key);
    return copy_token(dst, json_string_value(v), path, key, errbuf);
}

static int load_json(const char *path, json_t **root, char *errbuf) {
    int rc = rl__json_load(path, MAX_JSON_FILE, 0, root, errbuf);
    if (rc != RL_OK)
        return rc;
    if (!json_is_object(*root)) {
        json_decref(*root);
        return rl__errf(errbuf, RL_EFORMAT, "%s: expected a JSON object", path);
    }
    return RL_OK;
}

static bool has_type(json_t *obj, const char *type) {
    json_t *v = json_object_get(obj, "type");
    return json_is_string(v) && strcmp(json_string_value(v), type) == 0;
}

static const char *type_of(json_t *obj) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, "type") : NULL;
    return json_is_string(v) ? json_string_value(v) : "(none)";
}

static int parse_normalizer(struct rl_tokenizer *t, struct settings *s, json_t *norm,
                            const char *path, char *errbuf) {
    if (!norm || json_is_null(norm)) {
        t->clean_text = t->handle_chinese_chars = t->lowercase = false;
        s->strip_accents = 0;
        return RL_OK;
    }
    if (!json_is_object(norm) || !has_type(norm, "BertNormalizer"))
        return rl__errf(errbuf, RL_EUNSUPPORTED, "%s: normalizer: type %s, expected BertNormalizer",
                        path, type_of(norm));
    int clean = 1, chinese = 1, lowercase = 1;
    int rc = get_bool(norm, "clean_text", &clean, false, path, "normalizer", errbuf);
    if (rc == RL_OK)
        rc = get_bool(norm, "handle_chinese_chars", &chinese, false, path, "normalizer", errbuf);
    if (rc == RL_OK)
        rc = get_bool(norm, "lowercase", &lowercase, false, path, "normalizer", errbuf);
    if (rc == RL_OK)
        rc = get_bool(norm, "strip_accents", &s->strip_accents, true, path, "normalizer", errbuf);
    t->clean_text = clean;
    t->handle_chinese_chars = chinese;
    t->lowercase = lowercase;
    return rc;
}

static int parse_model(struct rl_tokenizer *t, struct settings *s, json_t *model, const char *path,
                       char *errbuf) {
    if (!json_is_object(model) || !has_type(model, "WordPiece"))
        return rl__errf(errbuf, RL_EUNSUPPORTED, "%s: model: type %s, expected WordPiece", path,
                        type_of(model));
    int rc = get_token(model, "unk_token", s->unk, path, errbuf);
    if (rc < 0)
        return rc;
    json_t *v = json_object_get(model, "continuing_subword_prefix");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || strlen(json_string_value(v)) > MAX_PREFIX)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: model.continuing_subword_prefix: expected a string of at most %d "
                            "bytes",
                            path, MAX_PREFIX);
        t->prefix_len = strlen(json_string_value(v));
        memcpy(t->prefix, json_string_value(v), t->prefix_len + 1);
    }
    v = json_object_get(model, "max_input_chars_per_word");
    if (v && !json_is_null(v)) {
        json_int_t m = json_is_integer(v) ? json_integer_value(v) : -1;
        if (m < 1 || m > MAX_WORD_CHARS)
            return rl__errf(errbuf, RL_EUNSUPPORTED,
                            "%s: model.max_input_chars_per_word: expected 1 to %d", path,
                            MAX_WORD_CHARS);
        t->max_word_chars = (size_t)m;
    }
    return RL_OK;
}

// The id a post-processor gives a special token: TemplateProcessing's special_tokens[name].ids[0]
// or BertProcessing's [name, id].
static int template_special(json_t *pp, json_t *piece, char *name, int32_t *id, const char *path,
                            const char *key, char *errbuf) {
    json_t *st = json_object_get(piece, "SpecialToken");
    json_t *tok = json_is_object(st) ? json_object_get(st, "id") : NULL;
    if (!json_is_string(tok))
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: post_processor.single: expected [CLS] $A [SEP] (%s is not a special "
                        "token)",
                        path, key);
    json_t *spec = json_object_get(json_object_get(pp, "special_tokens"), json_string_value(tok));
    json_t *ids = json_object_get(spec, "ids");
    if (!json_is_array(ids) || json_array_size(ids) != 1 ||
        !json_is_integer(json_array_get(ids, 0)))
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: post_processor.special_tokens[\"%s\"].ids: expected one integer", path,
                        json_string_value(tok));
    json_int_t v = json_integer_value(json_array_get(ids, 0));
    *id = v >= 0 && v <= INT32_MAX ? (int32_t)v : -2;
    return copy_token(name, json_string_value(tok), path, key, errbuf);
}

static int bert_special(json_t *pp, const char *key, char *name, int32_t *id, const char *path,
                        char *errbuf) {
    json_t *v = json_object_get(pp, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1)))
        return rl__errf(errbuf, RL_EFORMAT, "%s: post_processor.%s: expected [token, id]", path,
                        key);
    json_int_t i = json_integer_value(json_array_get(v, 1));
    *id = i >= 0 && i <= INT32_MAX ? (int32_t)i : -2;
    return copy_token(name, json_string_value(json_array_get(v, 0)), path, key, errbuf);
}

static int parse_post_processor(struct settings *s, json_t *pp, const char *path, char *errbuf) {
    if (json_is_object(pp) && has_type(pp, "BertProcessing")) {
        int rc = bert_special(pp, "cls", s->cls, &s->cls_id, path, errbuf);
        return rc < 0 ? rc : bert_special(pp, "sep", s->sep, &s->sep_id, path, errbuf);
    }
    if (!json_is_object(pp) || !has_type(pp, "TemplateProcessing"))
        return rl__errf(
            errbuf, RL_EUNSUPPORTED,
            "%s: post_processor: type %s, expected TemplateProcessing or BertProcessing", path,
            type_of(pp));
    json_t *single = json_object_get(pp, "single");
    json_t *seq = json_object_get(json_array_get(single, 1), "Sequence");
    if (!json_is_array(single) || json_array_size(single) != 3 || !json_is_object(seq))
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: post_processor.single: expected [CLS] $A [SEP]", path);
    int rc =
        template_special(pp, json_array_get(single, 0), s->cls, &s->cls_id, path, "first", errbuf);
    if (rc < 0)
        return rc;
    return template_special(pp, json_array_get(single, 2), s->sep, &s->sep_id, path, "last",
                            errbuf);
}

static int add_token(struct rl_tokenizer *t, const char *text, int32_t id, const char *path,
                     char *errbuf) {
    if (t->n_added == MAX_ADDED)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: more than %d added tokens", path, MAX_ADDED);
    size_t n = strlen(text);
    if (n == 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s: added token %d is empty", path, (int)id);
    struct added_token *a = &t->added[t->n_added];
    a->text = malloc(n + 1);
    if (!a->text)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    memcpy(a->text, text, n + 1);
    a->len = n;
    a->id = id;
    t->n_added++;
    t->added_first[(unsigned char)text[0]] = true;
    return RL_OK;
}

// added_tokens: matched in the raw text before normalization. Only the form BERT files use is
// supported (not normalized, no stripping, not restricted to single words).
static int parse_added(struct rl_tokenizer *t, json_t *list, const char *path, char *errbuf) {
    if (!list || json_is_null(list))
        return RL_OK;
    if (!json_is_array(list))
        return rl__errf(errbuf, RL_EFORMAT, "%s: added_tokens: expected an array", path);
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content))
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: added_tokens[%zu]: expected an object with id and content", path,
                            i);
        json_int_t v = json_integer_value(id);
        if (v < 0 || (size_t)v >= t->vocab.n)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: added_tokens[%zu]: id %lld outside the vocabulary of %zu", path, i,
                            (long long)v, t->vocab.n);
        static const char *const unsupported[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (size_t k = 0; k < RL_COUNTOF(unsupported); k++)
            if (json_is_true(json_object_get(a, unsupported[k])))
                return rl__errf(errbuf, RL_EUNSUPPORTED,
                                "%s: added_tokens[%zu].%s: only false is supported", path, i,
                                unsupported[k]);
        int rc = add_token(t, json_string_value(content), (int32_t)v, path, errbuf);
        if (rc < 0)
            return rc;
    }
    return RL_OK;
}

// tokenizer.json's model.vocab must be vocab.txt: the ids are what the encoder's weights index.
static int check_json_vocab(const struct rl_tokenizer *t, json_t *model, const char *path,
                            char *errbuf) {
    json_t *vocab = json_object_get(model, "vocab");
    if (!vocab)
        return RL_OK;
    if (!json_is_object(vocab) || json_object_size(vocab) != t->vocab.n)
        return rl__errf(errbuf, RL_EFORMAT, "%s: model.vocab has %zu tokens, vocab.txt has %zu",
                        path, json_is_object(vocab) ? json_object_size(vocab) : 0, t->vocab.n);
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        int32_t id = rl__vocab_find(&t->vocab, "", 0, key, strlen(key));
        if (!json_is_integer(v) || json_integer_value(v) != id)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: model.vocab[\"%s\"] disagrees with vocab.txt (id %d there)", path,
                            key, (int)id);
    }
    return RL_OK;
}

static int load_tokenizer_json(struct rl_tokenizer *t, struct settings *s, const char *path,
                               char *errbuf) {
    json_t *root;
    int rc = load_json(path, &root, errbuf);
    if (rc < 0)
        return rc;
    json_t *model = json_object_get(root, "model");
    rc = parse_normalizer(t, s, json_object_get(root, "normalizer"), path, errbuf);
    if (rc == RL_OK && !has_type(json_object_get(root, "pre_tokenizer"), "BertPreTokenizer"))
        rc = rl__errf(errbuf, RL_EUNSUPPORTED,
                      "%s: pre_tokenizer: type %s, expected BertPreTokenizer", path,
                      type_of(json_object_get(root, "pre_tokenizer")));
    if (rc == RL_OK)
        rc = parse_model(t, s, model, path, errbuf);
    if (rc == RL_OK)
        rc = check_json_vocab(t, model, path, errbuf);
    if (rc == RL_OK)
        rc = parse_post_processor(s, json_object_get(root, "post_processor"), path, errbuf);
    if (rc == RL_OK)
        rc = parse_added(t, json_object_get(root, "added_tokens"), path, errbuf);
    json_decref(root);
    return rc;
}

// Without tokenizer.json the special tokens that are in the vocabulary are added tokens, as
// BertTokenizerFast makes them.
static int add_specials(struct rl_tokenizer *t, const char *const *names, size_t n,
                        const char *path, char *errbuf) {
    for (size_t i = 0; i < n; i++) {
        int32_t id = rl__vocab_find(&t->vocab, "", 0, names[i], strlen(names[i]));
        int rc = id >= 0 ? add_token(t, names[i], id, path, errbuf) : RL_OK;
        if (rc < 0)
            return rc;
    }
    return RL_OK;
}

// transformers' tokenizer_config.json, for folders without tokenizer.json. As in
// BertTokenizerFast, the special tokens are matched in the raw text.
static int load_tokenizer_config(struct rl_tokenizer *t, struct settings *s, const char *path,
                                 char *errbuf) {
    json_t *root;
    int rc = load_json(path, &root, errbuf);
    if (rc < 0)
        return rc;
    int lowercase = 1, chinese = 1;
    char pad[RL_VOCAB_MAX_TOKEN + 1] = "[PAD]", mask[RL_VOCAB_MAX_TOKEN + 1] = "[MASK]";
    rc = get_bool(root, "do_lower_case", &lowercase, false, path, "config", errbuf);
    if (rc == RL_OK)
        rc = get_bool(root, "tokenize_chinese_chars", &chinese, false, path, "config", errbuf);
    if (rc == RL_OK)
        rc = get_bool(root, "strip_accents", &s->strip_accents, true, path, "config", errbuf);
    const char *keys[] = {"unk_token", "cls_token", "sep_token", "pad_token", "mask_token"};
    char *dsts[] = {s->unk, s->cls, s->sep, pad, mask};
    for (size_t i = 0; i < RL_COUNTOF(keys) && rc == RL_OK; i++)
        rc = get_token(root, keys[i], dsts[i], path, errbuf);
    json_decref(root);
    t->lowercase = lowercase;
    t->handle_chinese_chars = chinese;
    return rc < 0 ? rc : add_specials(t, (const char *const *)dsts, RL_COUNTOF(dsts), path, errbuf);
}

// ----------------------------------------------------------------------------
// Loading

static int resolve_special(const struct rl_tokenizer *t, const char *name, int32_t given,
                           int32_t *id, const char *dir, const char *what, char *errbuf) {
    if (given != -1) {
        *id = given;
        if (given < 0 || (size_t)given >= t->vocab.n)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s/tokenizer.json: %s token \"%s\" has an id outside the vocabulary "
                            "of %zu",
                            dir, what, name, t->vocab.n);
        return RL_OK;
    }
    *id = rl__vocab_find(&t->vocab, "", 0, name, strlen(name));
    if (*id < 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s/vocab.txt: no %s token \"%s\"", dir, what, name);
    return RL_OK;
}

static int load(struct rl_tokenizer *t, const char *dir, char *errbuf) {
    char path[4096];
    int rc = rl_path_join(path, sizeof path, dir, "vocab.txt");
    if (rc < 0)
        return rl__errf(errbuf, rc, "%s: path too long", dir);
    if (!rl_file_exists(path))
        return rl__errf(errbuf, RL_EIO, "%s: missing (is %s a BERT model folder?)", path, dir);
    rc = rl__vocab_load(&t->vocab, path, errbuf);
    if (rc < 0)
        return rc;

    // Defaults are those of an uncased BERT (BertTokenizer's).
    struct settings s = {"[UNK]", "[CLS]", "[SEP]", -1, -1, -1};
    t->clean_text = t->handle_chinese_chars = t->lowercase = true;
    memcpy(t->prefix, "##", 3);
    t->prefix_len = 2;
    t->max_word_chars = 100;
    t->added = calloc(MAX_ADDED, sizeof *t->added);
    if (!t->added)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", dir);

    char json_path[4096], config_path[4096];
    if (rl_path_join(json_path, sizeof json_path, dir, "tokenizer.json") < 0 ||
        rl_path_join(config_path, sizeof config_path, dir, "tokenizer_config.json") < 0)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
    if (rl_file_exists(json_path))
        rc = load_tokenizer_json(t, &s, json_path, errbuf);
    else if (rl_file_exists(config_path))
        rc = load_tokenizer_config(t, &s, config_path, errbuf);
    else
        rc = add_specials(t, (const char *const[]){"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"}, 5,
                          path, errbuf);
    if (rc < 0)
        return rc;
    // strip_accents null means "as lowercase" (BertNormalizer and BasicTokenizer agree).
    t->strip_accents = s.strip_accents < 0 ? t->lowercase : s.strip_accents;

    rc = resolve_special(t, s.unk, -1, &t->unk_id, dir, "unknown", errbuf);
    if (rc == RL_OK)
        rc = resolve_special(t, s.cls, s.cls_id, &t->cls_id, dir, "classifier", errbuf);
    if (rc == RL_OK)
        rc = resolve_special(t, s.sep, s.sep_id, &t->sep_id, dir, "separator", errbuf);
    return rc;
}

struct rl_tokenizer *rl_tokenizer_load(const char *model_dir, char *errbuf) {
    struct rl_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", model_dir);
        return NULL;
    }
    if (load(t, model_dir, errbuf) < 0) {
        rl_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void rl_tokenizer_free(struct rl_tokenizer *t) {
    if (!t)
        return;
    rl__vocab_free(&t->vocab);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].text);
    free(t->added);
    free(t);
}
