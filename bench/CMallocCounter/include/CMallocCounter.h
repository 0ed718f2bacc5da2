// Counts heap allocations of the whole process and of each thread, so benchmarks can report mallocs per packet.
#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

/// Number of malloc/calloc/realloc/memalign calls since the process started.
uint64_t lvs_malloc_count(void);

/// Number of those calls made by the calling thread (a thread's own allocations, whatever the
/// other threads do meanwhile).
uint64_t lvs_malloc_thread_count(void);

#endif
