// safetensors: round trip through the writer and reader, a table of corrupt headers each rejected
// with its own message, and random mutations of a valid file that must never crash the reader.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "test.h"

#define TMP_FILE "build/test_safetensors.safetensors"

// Write a file by hand: the 8-byte length field, the header text and data_len bytes of data.
static int write_raw(const char *path, uint64_t len_field, const char *header, size_t header_len,
                     size_t data_len) {
    size_t total = 8 + header_len + data_len;
    unsigned char *buf = calloc(1, total);
    if (!buf)
        return RL_ENOMEM;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len_field >> (8 * i));
    memcpy(buf + 8, header, header_len);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + header_len + i] = (unsigned char)i;
    int rc = rl_file_write(path, buf, total, NULL);
    free(buf);
    return rc;
}

TEST(core_safetensors_roundtrip) {
    char err[RL_ERRBUF_SIZE] = "";
    float w[6] = {1, -2, 3.5f, 4, 5, 6};
    int64_t ids[4] = {0, 1, 2, -3};
    uint8_t bytes[3] = {7, 8, 9};
    uint16_t half = 0x3c00;
    const struct rl_tensor in[] = {
        {.name = "bytes", .dtype = RL_DTYPE_U8, .n_dims = 1, .shape = {3}, bytes, 3},
        {.name = "w", .dtype = RL_DTYPE_F32, .n_dims = 2, .shape = {2, 3}, w, sizeof w},
        {.name = "one", .dtype = RL_DTYPE_F16, .n_dims = 0, .shape = {0}, &half, 2},
        {.name = "ids", .dtype = RL_DTYPE_I64, .n_dims = 1, .shape = {4}, ids, sizeof ids},
        {.name = "empty", .dtype = RL_DTYPE_F32, .n_dims = 2, .shape = {0, 5}, NULL, 0},
    };
    const char *meta[] = {"kind", "mf", "encoder", "all-MiniLM-L6-v2", NULL};
    ASSERT_OK(rl_safetensors_write(TMP_FILE, in, RL_COUNTOF(in), meta, err));

    struct rl_safetensors *st = rl_safetensors_open(TMP_FILE, err);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ(rl_safetensors_n_tensors(st), RL_COUNTOF(in));
    ASSERT_STR_EQ(rl_safetensors_meta(st, "kind"), "mf");
    ASSERT_STR_EQ(rl_safetensors_meta(st, "encoder"), "all-MiniLM-L6-v2");
    ASSERT_NULL(rl_safetensors_meta(st, "absent"));
    ASSERT_NULL(rl_safetensors_find(st, "absent"));
    ASSERT_NULL(rl_safetensors_tensor(st, RL_COUNTOF(in)));
    for (size_t i = 0; i < RL_COUNTOF(in); i++) {
        const struct rl_tensor *t = rl_safetensors_find(st, in[i].name);
        ASSERT_NOT_NULL(t);
        ASSERT_EQ(t->dtype, in[i].dtype);
        ASSERT_EQ(t->n_dims, in[i].n_dims);
        for (int d = 0; d < t->n_dims; d++)
            ASSERT_EQ(t->shape[d], in[i].shape[d]);
        ASSERT_EQ(t->nbytes, in[i].nbytes);
        ASSERT(t->nbytes == 0 || memcmp(t->data, in[i].data, t->nbytes) == 0);
        ASSERT_EQ((uintptr_t)t->data % rl_dtype_size(t->dtype), 0);
    }
    // Stored by decreasing element size: I64 first, U8 last.
    ASSERT_STR_EQ(rl_safetensors_tensor(st, 0)->name, "ids");
    ASSERT_STR_EQ(rl_safetensors_tensor(st, RL_COUNTOF(in) - 1)->name, "bytes");

    const struct rl_tensor *t;
    ASSERT_OK(rl_safetensors_expect(st, "w", RL_DTYPE_F32, 2, (const int64_t[]){2, -1}, &t, err));
    ASSERT_EQ(rl_safetensors_expect(st, "w", RL_DTYPE_F32, 2, (const int64_t[]){3, 2}, &t, err),
              RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "tensor \"w\" has shape [2, 3], expected [3, 2]");
    ASSERT_EQ(rl_safetensors_expect(st, "w", RL_DTYPE_F16, 2, (const int64_t[]){2, 3}, &t, err),
              RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "is F32, expected F16");
    ASSERT_EQ(rl_safetensors_expect(st, "nope", RL_DTYPE_F32, 0, NULL, &t, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "tensor \"nope\" is missing");
    ASSERT_STR_CONTAINS(err, TMP_FILE);
    rl_safetensors_free(st);
    rl_safetensors_free(NULL);
    return 0;
}

TEST(core_safetensors_writer_rejects_bad_input) {
    char err[RL_ERRBUF_SIZE] = "";
    float w[2] = {0};
    struct rl_tensor t = {.name = "w", .dtype = RL_DTYPE_F32, .n_dims = 1, .shape = {3}, w, 8};
    ASSERT_EQ(rl_safetensors_write(TMP_FILE, &t, 1, NULL, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "does not match its shape");
    t.shape[0] = 2;
    const struct rl_tensor two[] = {t, t};
    ASSERT_EQ(rl_safetensors_write(TMP_FILE, two, 2, NULL, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "duplicate tensor \"w\"");
    const char *odd_meta[] = {"key", NULL};
    ASSERT_EQ(rl_safetensors_write(TMP_FILE, &t, 1, odd_meta, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "has no value");
    ASSERT_EQ(rl_safetensors_write("build/no/such/dir/x.safetensors", &t, 1, NULL, err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "build/no/such/dir/x.safetensors");
    return 0;
}

TEST(core_safetensors_corrupt_files) {
    static const struct {
        /* input */
        const char *header;
        size_t data_len;
        /* output */
        const char *want;
    } cases[] = {
        {"[]", 0, "does not start with '{'"},
        {"{\"a\":", 0, "header JSON: "},
        {"{\"a\":1, \"a\":2}", 0, "duplicate object key"},
        {"{}", 4, "tensors cover 0 bytes of a 4-byte data area"},
        {"{\"a\":1}", 0, "tensor \"a\": entry is not an object"},
        {"{\"a\":{\"shape\":[],\"data_offsets\":[0,0]}}", 0, "\"dtype\" is missing"},
        {"{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
         "unknown dtype \"F8_E4M3\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
         "\"shape\" is missing or not an array"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
         "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
         "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
         "9 dimensions (max 8)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
         "\"data_offsets\" is not two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
         "\"data_offsets\" is not two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
         "data_offsets [8, 4] end before begin"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "shape needs 8 bytes but data_offsets span 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
         "\"data_offsets\":[0,4]}}",
         4, "shape size overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensor \"b\" overlaps tensor \"a\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "tensor \"b\" starts at 8, leaving a gap after 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
         "tensor \"a\" ends at 8, past the data area (4 bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
         "tensors cover 4 bytes of a 8-byte data area"},
        {"{\"__metadata__\":[]}", 0, "\"__metadata__\" is not an object"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata \"k\" is not a string"},
        {"{\"a\\u0000b\":{}}", 0, "header JSON: "},
    };
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        size_t n = strlen(cases[i].header);
        ASSERT_OK(write_raw(TMP_FILE, n, cases[i].header, n, cases[i].data_len));
        err[0] = '\0';
        struct rl_safetensors *st = rl_safetensors_open(TMP_FILE, err);
        if (st) {
            rl_safetensors_free(st);
            TEST_FAIL_("case %zu (%s) was accepted", i, cases[i].header);
        }
        if (!strstr(err, cases[i].want) || !strstr(err, TMP_FILE))
            TEST_FAIL_("case %zu (%s): \"%s\" does not contain \"%s\"", i, cases[i].header, err,
                       cases[i].want);
    }
    return 0;
}

TEST(core_safetensors_bad_length_field) {
    static const struct {
        /* input */
        uint64_t len_field;
        const char *header;
        size_t file_header_len;
        /* output */
        const char *want;
    } cases[] = {
        {0, "", 0, "header does not start with '{'"},
        {1ull << 40, "{}", 2, "header length 1099511627776 exceeds the limit"},
        {100, "{}", 2, "header length 100 runs past the end of the file (10 bytes)"},
    };
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        ASSERT_OK(
            write_raw(TMP_FILE, cases[i].len_field, cases[i].header, cases[i].file_header_len, 0));
        ASSERT_NULL(rl_safetensors_open(TMP_FILE, err));
        ASSERT_STR_CONTAINS(err, cases[i].want);
    }
    ASSERT_OK(rl_file_write(TMP_FILE, "abc", 3, err));
    ASSERT_NULL(rl_safetensors_open(TMP_FILE, err));
    ASSERT_STR_CONTAINS(err, "not a safetensors file: 3 bytes are too short");
    ASSERT_NULL(rl_safetensors_open("build/no/such.safetensors", err));
    ASSERT_STR_CONTAINS(err, "build/no/such.safetensors: cannot open");
    return 0;
}

// A header with no padding puts the F32 tensor at an odd address in the map; the reader must hand
// out an aligned copy.
TEST(core_safetensors_misaligned_data_is_copied) {
    const char *header = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                         "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}";
    size_t n = strlen(header);
    ASSERT_OK(write_raw(TMP_FILE, n, header, n, 5));
    char err[RL_ERRBUF_SIZE];
    struct rl_safetensors *st = rl_safetensors_open(TMP_FILE, err);
    ASSERT_NOT_NULL(st);
    const struct rl_tensor *f = rl_safetensors_find(st, "f");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ((uintptr_t)f->data % 4, 0);
    const unsigned char *p = f->data;
    ASSERT(p[0] == 1 && p[1] == 2 && p[2] == 3 && p[3] == 4);
    rl_safetensors_free(st);
    return 0;
}

// Write a file under a new name: replacing a file (rename or truncate) makes ext4 flush it, which
// costs a millisecond or more per write.
static int write_fresh(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return RL_EIO;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? RL_OK : RL_EIO;
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// Mutate bytes of a valid file (mostly in the header) and truncate it at random; every result must
// be rejected or opened cleanly, and every tensor handed out must lie inside readable memory
// (AddressSanitizer checks the reads of the sum below).
TEST(core_safetensors_random_mutations) {
    float w[12] = {0};
    int64_t ids[3] = {1, 2, 3};
    const struct rl_tensor in[] = {
        {.name = "layer.weight", .dtype = RL_DTYPE_F32, .n_dims = 2, .shape = {3, 4}, w, 48},
        {.name = "ids", .dtype = RL_DTYPE_I64, .n_dims = 1, .shape = {3}, ids, 24},
    };
    const char *meta[] = {"format", "pt", NULL};
    char err[RL_ERRBUF_SIZE];
    ASSERT_OK(rl_safetensors_write(TMP_FILE, in, 2, meta, err));
    char *orig;
    size_t len;
    ASSERT_OK(rl_file_read(TMP_FILE, 1 << 20, &orig, &len, err));
    unsigned char *buf = malloc(len);
    ASSERT_NOT_NULL(buf);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int opened = 0;
    char path[64];
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int n_mut = 1 + (int)(xorshift(&seed) % 4);
        for (int m = 0; m < n_mut; m++) {
            uint64_t r = xorshift(&seed);
            size_t pos = (r >> 8) % (len < 120 ? len : 120);
            static const char alphabet[] = "{}[]\":,0123456789-. eE\\xF";
            if (r & 1)
                buf[pos] = (unsigned char)alphabet[(r >> 32) % (sizeof alphabet - 1)];
            else
                buf[pos] ^= (unsigned char)(1u << ((r >> 40) % 8));
        }
        if (xorshift(&seed) % 4 == 0)
            n = xorshift(&seed) % (len + 1);
        snprintf(path, sizeof path, "build/test_safetensors_fuzz_%d", iter);
        ASSERT_OK(write_fresh(path, buf, n));
        struct rl_safetensors *st = rl_safetensors_open(path, err);
        remove(path); // the map stays valid
        if (!st) {
            ASSERT_STR_CONTAINS(err, path);
            continue;
        }
        opened++;
        unsigned sum = 0;
        for (size_t i = 0; i < rl_safetensors_n_tensors(st); i++) {
            const struct rl_tensor *t = rl_safetensors_tensor(st, i);
            for (size_t b = 0; b < t->nbytes; b++)
                sum += ((const unsigned char *)t->data)[b];
        }
        (void)sum;
        rl_safetensors_free(st);
    }
    free(buf);
    free(orig);
    // Some mutations (of padding spaces, digits of equal meaning) leave a valid file.
    ASSERT(opened > 0);
    return 0;
}

TEST(core_safetensors_real_model) {
    char err[RL_ERRBUF_SIZE];
    struct rl_safetensors *st = rl_safetensors_open(RL_TEST_MODEL "/model.safetensors", err);
    if (!st)
        TEST_FAIL_("%s (run `make models`)", err);
    ASSERT_STR_EQ(rl_safetensors_meta(st, "format"), "pt");
    const struct rl_tensor *t;
    ASSERT_OK(rl_safetensors_expect(st, "embeddings.word_embeddings.weight", RL_DTYPE_F32, 2,
                                    (const int64_t[]){30522, 384}, &t, err));
    ASSERT_OK(rl_safetensors_expect(st, "embeddings.position_ids", RL_DTYPE_I64, 2,
                                    (const int64_t[]){1, 512}, &t, err));
    ASSERT_EQ(((const int64_t *)t->data)[511], 511);
    rl_safetensors_free(st);
    return 0;
}
