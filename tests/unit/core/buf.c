// Capped buffers: growth, the cap, and ownership transfer.
#include <stdlib.h>

#include "core/core.h"
#include "test.h"

TEST(core_buf_append_and_take) {
    struct rl_buf b;
    rl_buf_init(&b, 1000);
    for (int i = 0; i < 100; i++)
        ASSERT_OK(rl_buf_appendf(&b, "%d,", i % 10));
    ASSERT_EQ(b.len, 200);
    ASSERT_EQ(b.data[b.len], '\0');
    size_t len;
    char *s = rl_buf_take(&b, &len);
    ASSERT_EQ(len, 200);
    ASSERT(strncmp(s, "0,1,2,", 6) == 0);
    ASSERT_NULL(b.data);
    free(s);
    return 0;
}

TEST(core_buf_cap_frees) {
    struct rl_buf b;
    rl_buf_init(&b, 8);
    ASSERT_OK(rl_buf_append(&b, "12345678", 8));
    ASSERT_EQ(rl_buf_append(&b, "9", 1), RL_ETOOBIG);
    ASSERT_NULL(b.data);
    ASSERT_EQ(b.len, 0);
    return 0;
}
