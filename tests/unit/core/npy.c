// .npy: round trips through both writers, a file written by numpy itself, and a table of corrupt
// headers each rejected with its own message.
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/npy.h"
#include "test.h"

#define TMP_NPY "build/test_npy.npy"

TEST(core_npy_roundtrip) {
    char err[RL_ERRBUF_SIZE];
    float in[6] = {1.5f, -2, 3, 1e-30f, 5, 6};
    ASSERT_OK(rl_npy_write_f32(TMP_NPY, in, 2, 3, err));
    float *out;
    size_t rows, cols;
    ASSERT_OK(rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err));
    ASSERT_EQ(rows, 2);
    ASSERT_EQ(cols, 3);
    ASSERT(memcmp(in, out, sizeof in) == 0);
    free(out);

    // The header numpy expects: version 1.0, a preamble that is a multiple of 64 bytes.
    char *raw;
    size_t len;
    ASSERT_OK(rl_file_read(TMP_NPY, 1 << 20, &raw, &len, err));
    ASSERT_EQ(len, 128 + sizeof in);
    ASSERT(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0);
    ASSERT_STR_CONTAINS(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    ASSERT_EQ(raw[127], '\n');
    free(raw);

    // Streaming, including an empty append and zero rows in total.
    struct rl_npy_writer *w = rl_npy_writer_open(TMP_NPY, 3, err);
    ASSERT_NOT_NULL(w);
    ASSERT_OK(rl_npy_writer_append(w, in, 1, err));
    ASSERT_OK(rl_npy_writer_append(w, in, 0, err));
    ASSERT_OK(rl_npy_writer_append(w, in + 3, 1, err));
    ASSERT_OK(rl_npy_writer_commit(w, err));
    ASSERT_OK(rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err));
    ASSERT_EQ(rows, 2);
    ASSERT(memcmp(in, out, sizeof in) == 0);
    free(out);
    ASSERT_OK(rl_npy_write_f32(TMP_NPY, NULL, 0, 384, err));
    ASSERT_OK(rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err));
    ASSERT_EQ(rows, 0);
    ASSERT_EQ(cols, 384);
    free(out);

    w = rl_npy_writer_open("build/no/such/dir/x.npy", 3, err);
    ASSERT_NULL(w);
    ASSERT_STR_CONTAINS(err, "build/no/such/dir/x.npy");
    rl_npy_writer_abort(NULL);
    return 0;
}

// tools/make_tiny_bert.py saves the tiny model's golden embeddings with numpy.save.
TEST(core_npy_reads_numpy_output) {
    char err[RL_ERRBUF_SIZE];
    float *out;
    size_t rows, cols;
    ASSERT_OK(
        rl_npy_read_f32(RL_TEST_DATA "/encoder/tiny-bert/golden.npy", &out, &rows, &cols, err));
    ASSERT(rows > 0);
    ASSERT_EQ(cols, 32);
    double norm = 0;
    for (size_t j = 0; j < cols; j++)
        norm += (double)out[j] * out[j];
    ASSERT_NEAR(norm, 1.0, 1e-5);
    free(out);
    return 0;
}

TEST(core_npy_corrupt_files) {
    static const struct {
        /* input */
        const char *preamble; // magic and version (8 bytes)
        const char *dict;
        size_t data_len;
        /* output */
        const char *want;
    } cases[] = {
        {"\x93NUMPZ\x01\x00", "{}", 0, "bad magic"},
        {"\x93NUMPY\x09\x00", "{}", 0, "unsupported .npy format version 9.0"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False}", 0, "malformed header"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), 'x': 1}",
         8, "malformed header"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 2)}", 8,
         "malformed header"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}", 8,
         "malformed header"},
        {"\x93NUMPY\x01\x00",
         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2)}", 8,
         "malformed header"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)} junk", 8,
         "malformed header"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", 16,
         "expected a 2-D '<f4' array in C order, found another dtype, 2-D"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", 8,
         "found 2-D, Fortran order"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }", 32,
         "found 1-D"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 24,
         "found 3-D"},
        {"\x93NUMPY\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 12,
         "shape (2, 2) does not match the file size"},
        {"\x93NUMPY\x01\x00",
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 0,
         "does not match the file size"},
    };
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        size_t n = strlen(cases[i].dict);
        size_t total = 10 + n + cases[i].data_len;
        char *buf = calloc(1, total);
        ASSERT_NOT_NULL(buf);
        memcpy(buf, cases[i].preamble, 8);
        buf[8] = (char)(n & 0xff);
        buf[9] = (char)(n >> 8);
        memcpy(buf + 10, cases[i].dict, n);
        int rc = rl_file_write(TMP_NPY, buf, total, err);
        free(buf);
        ASSERT_OK(rc);
        float *out = NULL;
        size_t rows, cols;
        err[0] = '\0';
        if (rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err) == RL_OK) {
            free(out);
            TEST_FAIL_("case %zu (%s) was accepted", i, cases[i].dict);
        }
        if (!strstr(err, cases[i].want) || !strstr(err, TMP_NPY))
            TEST_FAIL_("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].want);
    }
    // Truncated inside the header, and a header length over the cap.
    ASSERT_OK(rl_file_write(TMP_NPY, "\x93NUMPY\x01\x00\x40\x00{'descr'", 17, err));
    float *out;
    size_t rows, cols;
    ASSERT_EQ(rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "truncated header");
    ASSERT_OK(rl_file_write(TMP_NPY, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12, err));
    ASSERT_EQ(rl_npy_read_f32(TMP_NPY, &out, &rows, &cols, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "exceeds the limit");
    ASSERT_EQ(rl_npy_read_f32("build/no/such.npy", &out, &rows, &cols, err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "build/no/such.npy: cannot open");
    return 0;
}
