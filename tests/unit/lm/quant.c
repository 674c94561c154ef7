// The dequantisers against the `gguf` package's numpy reference (tools/make_dequant_golden.py):
// random blocks of every type read back to the same float32 values, to a relative 1e-6 (the two
// sides may round a product of three factors in another order); unknown types are refused.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm/gguf.h"
#include "lm/quant.h"
#include "test.h"

#define GOLDEN RL_TEST_DATA "/lm/dequant_golden.jsonl.gz"

static uint8_t *hex_bytes(const char *hex, size_t *n) {
    *n = strlen(hex) / 2;
    uint8_t *out = malloc(*n ? *n : 1);
    for (size_t i = 0; out && i < *n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return out;
}

TEST(quant_dequantize_matches_gguf_reference) {
    char err[RL_ERRBUF_SIZE], *data;
    size_t len;
    ASSERT_OK(rl_file_read(GOLDEN, 16u << 20, &data, &len, err));
    int types_seen = 0;
    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        ASSERT_NOT_NULL(j);
        const char *name = json_string_value(json_object_get(j, "type"));
        uint32_t type = 0;
        while (type < 64 && strcmp(rl__ggml_type_name(type), name) != 0)
            type++;
        ASSERT(type < 64 && rl__ggml_dequantizable(type));
        int64_t n = json_integer_value(json_object_get(j, "n"));
        size_t nbytes;
        uint8_t *raw = hex_bytes(json_string_value(json_object_get(j, "hex")), &nbytes);
        int elems, bytes;
        ASSERT(rl__ggml_block(type, &elems, &bytes));
        ASSERT_EQ(nbytes, (size_t)(n / elems * bytes));
        float *got = malloc((size_t)n * sizeof *got);
        ASSERT(raw && got);
        ASSERT_OK(rl__ggml_dequantize(type, raw, got, n));
        json_t *want = json_object_get(j, "values");
        ASSERT_EQ(json_array_size(want), (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            double w = json_number_value(json_array_get(want, (size_t)i));
            if (fabs(got[i] - w) > 1e-6 * fmax(1, fabs(w)))
                TEST_FAIL_("%s value %lld: %.9g, reference %.9g", name, (long long)i, got[i], w);
        }
        types_seen++;
        free(raw);
        free(got);
        json_decref(j);
    }
    free(data);
    ASSERT_EQ(types_seen, 9);
    float out[256];
    uint8_t block[292] = {0};
    ASSERT_EQ(rl__ggml_dequantize(RL_GGML_Q8_K, block, out, 256), RL_EUNSUPPORTED);
    ASSERT_EQ(rl__ggml_dequantize(99, block, out, 32), RL_EUNSUPPORTED);
    return 0;
}
