// Counts heap allocations of the whole process, so benchmarks can report mallocs per packet.
#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

/// Number of malloc/calloc/realloc/memalign calls since the process started.
uint64_t lvs_malloc_count(void);

#endif
