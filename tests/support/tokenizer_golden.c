// The check of a tokenizer on a golden corpus, one record at a time, reporting the first few
// mismatches in full.
#include <stdlib.h>

#include "core/core.h"
#include "support/tokenizer_golden.h"
#include "test.h"

#define SHOW_MISMATCH 5
#define MIN_IDS       100000

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

static void print_ids(const struct tokenizer_golden *g, const char *label, const int32_t *ids,
                      size_t n, size_t from) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = from; i < n && i < from + 8; i++) {
        size_t len = 0;
        const char *tok = g->token(g->ctx, ids[i], &len);
        fprintf(stderr, " %d(%.*s)", (int)ids[i], tok ? (int)len : 1, tok ? tok : "?");
    }
    fprintf(stderr, "%s (%zu ids)\n", n > from + 8 ? " ..." : "", n);
}

static void report(const struct tokenizer_golden *g, size_t line, const char *kind,
                   const char *text, size_t len, const int32_t *want, size_t n_want,
                   const int32_t *got, size_t n_got) {
    size_t at = 0;
    while (at < n_want && at < n_got && want[at] == got[at])
        at++;
    fprintf(stderr, "  mismatch: %s line %zu (%s), first difference at id %zu\n", g->path, line,
            kind, at);
    print_text(text, len);
    size_t from = at > 2 ? at - 2 : 0;
    print_ids(g, "want", want, n_want, from);
    print_ids(g, "got ", got, n_got, from);
}

int tokenizer_golden_check(const struct tokenizer_golden *g) {
    char err[RL_ERRBUF_SIZE];
    char *data;
    size_t len;
    if (rl_file_read(g->path, 64u << 20, &data, &len, err) != RL_OK)
        TEST_FAIL_("%s", err);
    int32_t *want = malloc(g->max_ids * sizeof *want), *got = malloc(g->max_ids * sizeof *got);
    size_t n_records = 0, n_bad = 0, n_ids = 0, line = 0;
    const char *bad_fixture = want && got ? NULL : "out of memory";
    for (char *p = data; p < data + len && !bad_fixture;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        line++;
        json_error_t jerr;
        json_t *rec = json_loadb(p, n, JSON_ALLOW_NUL, &jerr);
        p += n + 1;
        json_t *text = json_object_get(rec, "text"), *hex = json_object_get(rec, "hex");
        json_t *ids = json_object_get(rec, "ids");
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        if (!rec || !(json_is_string(text) || json_is_string(hex)) || !json_is_array(ids) ||
            json_array_size(ids) > g->max_ids || !kind) {
            bad_fixture = "malformed record";
            json_decref(rec);
            break;
        }
        size_t n_text = 0;
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
        long n_got = s ? g->encode(g->ctx, rec, s, n_text, got) : 0;
        if (n_got == TOKENIZER_GOLDEN_MALFORMED) {
            bad_fixture = "malformed record";
        } else if (s) {
            bool same = n_got == (long)n_want && memcmp(want, got, n_want * sizeof *got) == 0;
            if (!same && n_bad++ < SHOW_MISMATCH)
                report(g, line, kind, s, n_text, want, n_want, got,
                       n_got > 0 ? (size_t)n_got < g->max_ids ? (size_t)n_got : g->max_ids : 0);
            n_records++;
            n_ids += n_want;
        }
        free(owned);
        json_decref(rec);
    }
    free(data);
    free(want);
    free(got);
    if (bad_fixture)
        TEST_FAIL_("%s line %zu: %s", g->path, line, bad_fixture);
    if (n_bad > 0)
        TEST_FAIL_("%zu of %zu golden records differ from %s", n_bad, n_records, g->reference);
    ASSERT(n_records >= g->min_records);
    ASSERT(n_ids > MIN_IDS);
    return 0;
}
