// The monotonic clock behind progress bars, benchmarks and test timings.
#include <time.h>

#include "core/core.h"

double rl_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
