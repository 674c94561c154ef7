// Whole-file reads (plain and gzip), their limits, and error messages that name the path.
#include <stdlib.h>
#include <zlib.h>

#include "core/core.h"
#include "test.h"

TEST(core_file_roundtrip_and_gzip) {
    char err[RL_ERRBUF_SIZE];
    const char *plain = "build/test_file_plain.txt";
    ASSERT_OK(rl_file_write(plain, "hello\n", 6, err));
    char *data;
    size_t len;
    ASSERT_OK(rl_file_read(plain, 100, &data, &len, err));
    ASSERT_EQ(len, 6);
    ASSERT_STR_EQ(data, "hello\n");
    free(data);
    ASSERT_EQ(rl_file_read(plain, 5, &data, &len, err), RL_ETOOBIG);
    ASSERT_STR_CONTAINS(err, plain);

    const char *gz = "build/test_file.txt.gz";
    gzFile f = gzopen(gz, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(gzputs(f, "compressed text"), 15);
    gzclose(f);
    ASSERT_OK(rl_file_read(gz, 100, &data, &len, err));
    ASSERT_STR_EQ(data, "compressed text");
    free(data);
    return 0;
}

TEST(core_file_missing_names_path) {
    char err[RL_ERRBUF_SIZE];
    char *data;
    size_t len;
    ASSERT_EQ(rl_file_read("build/no/such/file", 100, &data, &len, err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "build/no/such/file");
    struct rl_mmap m;
    ASSERT_EQ(rl_mmap_open(&m, "build/no/such/file", err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "No such file");
    return 0;
}
