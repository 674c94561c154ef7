// The test harness: TEST(name) defines a case, ASSERT_* macros report both values with file and
// line and fail the case. Cases are collected from tests/unit/**/*.c by the Makefile into a
// generated list, so adding a case needs no registration.
#ifndef RL_TEST_H
#define RL_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rl/core.h"

#define TEST(name)                                                                                 \
    int test_##name(void);                                                                         \
    int test_##name(void)

// Directory of committed fixtures (tests/data) and of the real model, set by the Makefile.
#ifndef RL_TEST_DATA
#define RL_TEST_DATA "tests/data"
#endif
#ifndef RL_TEST_MODEL
#define RL_TEST_MODEL "models/all-MiniLM-L6-v2"
#endif

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return 1;                                                                                  \
    } while (0)

#define ASSERT(x)                                                                                  \
    do {                                                                                           \
        if (!(x))                                                                                  \
            TEST_FAIL_("assertion failed: %s", #x);                                                \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                  \
    } while (0)

#define ASSERT_OK(x)                                                                               \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != RL_OK)                                                                          \
            TEST_FAIL_("%s returned %d (%s)", #x, rc_, rl_strerror(rc_));                          \
    } while (0)

#define ASSERT_NULL(x)                                                                             \
    do {                                                                                           \
        if ((x) != NULL)                                                                           \
            TEST_FAIL_("%s is not NULL", #x);                                                      \
    } while (0)

#define ASSERT_NOT_NULL(x)                                                                         \
    do {                                                                                           \
        if ((x) == NULL)                                                                           \
            TEST_FAIL_("%s is NULL", #x);                                                          \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            TEST_FAIL_("%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol));           \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                   \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            TEST_FAIL_("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);                  \
    } while (0)

#endif
