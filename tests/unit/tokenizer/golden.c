// The tokenizer against Hugging Face `tokenizers` on the committed golden corpus
// (tests/data/tokenizer/golden.jsonl.gz, made by tools/make_tokenizer_golden.py): every record
// must give exactly the reference ids. Mismatches are reported with the record's kind, line,
// text and the first differing token.
#include <jansson.h>
#include <stdlib.h>

#include "core/core.h"
#include "rl/tokenizer.h"
#include "test.h"

#define GOLDEN        RL_TEST_DATA "/tokenizer/golden.jsonl.gz"
#define MAX_IDS       16384
#define SHOW_MISMATCH 5
#define MIN_RECORDS   2000

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

// Decode a "hex" field into a heap buffer; NULL when the field is malformed.
static char *from_hex(const char *hex, size_t *len) {
    size_t n = strlen(hex);
    if (n % 2)
        return NULL;
    char *out = malloc(n / 2 + 1);
    for (size_t i = 0; out && i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi * 16 + lo);
    }
    *len = n / 2;
    return out;
}

// Print text with non-printable and non-ASCII bytes escaped, cut at 100 bytes.
static void print_text(const char *s, size_t n) {
    fputs("    text: \"", stderr);
    for (size_t i = 0; i < n && i < 100; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\"%s (%zu bytes)\n", n > 100 ? "..." : "", n);
}

static void print_ids(const struct rl_tokenizer *t, const char *label, const int32_t *ids, size_t n,
                      size_t from) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = from; i < n && i < from + 8; i++) {
        const char *tok = rl_tokenizer_token(t, ids[i]);
        fprintf(stderr, " %d(%s)", (int)ids[i], tok ? tok : "?");
    }
    fprintf(stderr, "%s (%zu ids)\n", n > from + 8 ? " ..." : "", n);
}

static void report(const struct rl_tokenizer *t, size_t line, const char *kind, const char *text,
                   size_t len, const int32_t *want, size_t n_want, const int32_t *got,
                   size_t n_got) {
    size_t at = 0;
    while (at < n_want && at < n_got && want[at] == got[at])
        at++;
    fprintf(stderr, "  mismatch: %s line %zu (%s), first difference at id %zu\n", GOLDEN, line,
            kind, at);
    print_text(text, len);
    size_t from = at > 2 ? at - 2 : 0;
    print_ids(t, "want", want, n_want, from);
    print_ids(t, "got ", got, n_got, from);
}

TEST(tokenizer_golden_corpus) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s (run `make models`)", err);
    char *data;
    size_t len;
    int rc = rl_file_read(GOLDEN, 64u << 20, &data, &len, err);
    if (rc < 0) {
        rl_tokenizer_free(t);
        TEST_FAIL_("%s", err);
    }
    int32_t *want = malloc(MAX_IDS * sizeof *want), *got = malloc(MAX_IDS * sizeof *got);
    size_t n_records = 0, n_bad = 0, n_ids = 0, line = 0;
    const char *bad_fixture = NULL;
    for (char *p = data; p < data + len && !bad_fixture && want && got;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        line++;
        json_error_t jerr;
        json_t *rec = json_loadb(p, n, JSON_ALLOW_NUL, &jerr);
        p += n + 1;
        json_t *text = json_object_get(rec, "text"), *hex = json_object_get(rec, "hex");
        json_t *ids = json_object_get(rec, "ids"), *max = json_object_get(rec, "max");
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        if (!rec || !(json_is_string(text) || json_is_string(hex)) || !json_is_array(ids) ||
            !json_is_integer(max) || json_integer_value(max) < 2 ||
            json_integer_value(max) > MAX_IDS || json_array_size(ids) > MAX_IDS || !kind) {
            bad_fixture = "malformed record";
            json_decref(rec);
            break;
        }
        size_t n_text;
        char *owned = NULL;
        const char *s;
        if (json_is_string(text)) {
            s = json_string_value(text);
            n_text = json_string_length(text);
        } else {
            s = owned = from_hex(json_string_value(hex), &n_text);
            if (!s)
                bad_fixture = "bad hex";
        }
        size_t n_want = json_array_size(ids);
        for (size_t i = 0; i < n_want; i++)
            want[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        if (s) {
            int n_got = rl_tokenizer_encode(t, s, n_text, got, (size_t)json_integer_value(max));
            bool same = n_got == (int)n_want && memcmp(want, got, n_want * sizeof *got) == 0;
            if (!same && n_bad++ < SHOW_MISMATCH)
                report(t, line, kind, s, n_text, want, n_want, got, n_got > 0 ? (size_t)n_got : 0);
            n_records++;
            n_ids += n_want;
        }
        free(owned);
        json_decref(rec);
    }
    free(data);
    free(want);
    free(got);
    rl_tokenizer_free(t);
    if (bad_fixture)
        TEST_FAIL_("%s line %zu: %s", GOLDEN, line, bad_fixture);
    if (n_bad > 0)
        TEST_FAIL_("%zu of %zu golden records differ from tokenizers", n_bad, n_records);
    ASSERT(n_records >= MIN_RECORDS);
    ASSERT(n_ids > 100000);
    return 0;
}
