// Robustness of rl_tokenizer_encode on seeded random bytes (run it under ASan/UBSan): it never
// fails on any input, always frames the ids as [CLS] ... [SEP] with ids inside the vocabulary,
// truncation is a prefix of the full result, and threads sharing one tokenizer agree.
#include <pthread.h>
#include <stdlib.h>

#include "core/core.h"
#include "rl/tokenizer.h"
#include "test.h"

#define N_STRINGS 6000
#define MAX_BYTES 400
#define FULL_IDS  1024

static uint64_t rng_next(uint64_t *s) {
    // xorshift64*
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

// Bytes drawn from a mix of sources: uniform bytes, UTF-8 lead and continuation bytes, ASCII
// letters, spaces and fragments of added tokens, and valid multi-byte characters.
static size_t random_text(uint64_t *s, char *out) {
    static const char *const pieces[] = {
        "[CLS]",
        "[SEP]",
        "[",
        "]",
        "[MASK",
        " ",
        "a",
        "\xc3\xa9",
        "\xcc\x81",
        "\xe4\xb8\xad",
        "\xf0\x9f\x98\x80",
        "\xe2\x80\x8d",
        "\xef\xbf\xbd",
        "\xed\x95\x9c",
        "\xf0\x9d\x85\xa5",
        "\xe1\x99\xad",
        "\x00",
    };
    size_t n = rng_next(s) % MAX_BYTES, len = 0;
    unsigned mode = (unsigned)(rng_next(s) % 4);
    while (len < n) {
        uint64_t r = rng_next(s);
        if (mode == 0 || (mode == 3 && r % 3 == 0)) {
            out[len++] = (char)(r >> 8);
        } else if (mode == 1) {
            static const unsigned char hi[] = {0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                                               0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x90, 0x8F};
            out[len++] = (char)((r >> 8) % 2 ? hi[(r >> 16) % sizeof hi] : 'a' + (r >> 16) % 26);
        } else {
            const char *p = pieces[(r >> 8) % RL_COUNTOF(pieces)];
            size_t k = p[0] ? strlen(p) : 1;
            if (len + k > MAX_BYTES)
                break;
            memcpy(out + len, p, k);
            len += k;
        }
    }
    return len;
}

TEST(tokenizer_fuzz_random_bytes) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s", err);
    size_t n_vocab = rl_tokenizer_n_vocab(t);
    int32_t cls = rl_tokenizer_token_id(t, "[CLS]"), sep = rl_tokenizer_token_id(t, "[SEP]");
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char text[MAX_BYTES];
    int32_t full[FULL_IDS], ids[FULL_IDS];
    for (int i = 0; i < N_STRINGS; i++) {
        size_t len = random_text(&seed, text);
        int n = rl_tokenizer_encode(t, text, len, full, FULL_IDS);
        ASSERT(n >= 2 && n <= FULL_IDS);
        ASSERT_EQ(full[0], cls);
        ASSERT_EQ(full[n - 1], sep);
        for (int k = 0; k < n; k++)
            ASSERT(full[k] >= 0 && (size_t)full[k] < n_vocab);
        size_t max = 2 + rng_next(&seed) % (size_t)(n - 1); // 2 .. n
        int m = rl_tokenizer_encode(t, text, len, ids, max);
        ASSERT_EQ(m, (int)max);
        ASSERT_EQ(ids[m - 1], sep);
        if (memcmp(ids, full, (size_t)(m - 1) * sizeof *ids) != 0)
            TEST_FAIL_("string %d: truncation to %zu is not a prefix of the full ids", i, max);
    }
    rl_tokenizer_free(t);
    return 0;
}

struct worker {
    const struct rl_tokenizer *t;
    uint64_t seed;
    uint64_t checksum;
};

// Tokenize the same seeded strings as every other worker and fold the ids into a checksum.
static void *work(void *arg) {
    struct worker *w = arg;
    char text[MAX_BYTES];
    int32_t ids[FULL_IDS];
    uint64_t seed = w->seed, sum = 0;
    for (int i = 0; i < N_STRINGS / 2; i++) {
        size_t len = random_text(&seed, text);
        int n = rl_tokenizer_encode(w->t, text, len, ids, FULL_IDS);
        for (int k = 0; k < n; k++)
            sum = sum * 1000003u + (uint64_t)ids[k];
    }
    w->checksum = sum;
    return NULL;
}

TEST(tokenizer_threads_share_one_tokenizer) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s", err);
    struct worker solo = {t, 42, 0}, w[4];
    work(&solo);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){t, 42, 0};
        ASSERT_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    rl_tokenizer_free(t);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(w[i].checksum, solo.checksum);
    return 0;
}
