// Linux interfaces Swift cannot import directly, wrapped as static inline functions.
#ifndef CLVSLINUX_H
#define CLVSLINUX_H

#include <stdint.h>
#include <time.h>

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
static inline uint64_t clvs_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
