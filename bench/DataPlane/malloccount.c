// LD_PRELOAD library that counts a process's heap allocations, per thread, into a file others can read.
//
//   LVS_MALLOC_COUNT_FILE=/tmp/x.bin LD_PRELOAD=./malloccount.so lvsd -n …
//
// The file is mmap'd shared; its layout (native-endian u64 words, read with `od -An -t u8 -v`):
//   word 0        magic 0x4c56534d414c4c43 ("LVSMALLC")
//   word 1        allocations of the whole process (malloc, calloc, realloc, memalign family)
//   word 2        allocations of threads that found no free slot
//   words 3…      SLOTS pairs {thread id, allocations of that thread}
// A reader takes two snapshots around a measured window and divides by the packets forwarded in it;
// thread ids map to names through /proc/PID/task/TID/comm (lvsd names its threads).
// Allocations made before the constructor ran (dynamic loader, early runtime) are not in the file.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLOTS 64
#define MAGIC 0x4c56534d414c4c43ull

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

struct counts {
    uint64_t magic;
    _Atomic uint64_t total;
    _Atomic uint64_t unslotted;
    struct {
        _Atomic uint64_t tid;
        _Atomic uint64_t count;
    } slot[SLOTS];
};

static struct counts early;  // used until the file is mapped
static struct counts *counts = &early;
static __thread int my_slot __attribute__((tls_model("initial-exec"))) = -1;

__attribute__((constructor)) static void map_counter_file(void) {
    const char *path = getenv("LVS_MALLOC_COUNT_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (ftruncate(fd, sizeof(struct counts)) == 0) {
        void *p = mmap(NULL, sizeof(struct counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            struct counts *c = p;
            c->magic = MAGIC;
            counts = c;
        }
    }
    close(fd);
}

static inline void count(void) {
    struct counts *c = counts;
    atomic_fetch_add_explicit(&c->total, 1, memory_order_relaxed);
    int s = my_slot;
    if (s == -2 || c == &early) {
        if (c != &early) atomic_fetch_add_explicit(&c->unslotted, 1, memory_order_relaxed);
        return;
    }
    if (s < 0) {
        uint64_t tid = (uint64_t)syscall(SYS_gettid);
        s = -2;
        for (int i = 0; i < SLOTS; i++) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&c->slot[i].tid, &expected, tid)) {
                s = i;
                break;
            }
        }
        my_slot = s;
        if (s < 0) {
            atomic_fetch_add_explicit(&c->unslotted, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&c->slot[s].count, 1, memory_order_relaxed);
}

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t al, size_t n) { count(); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { count(); return __libc_memalign(al, n); }
void *valloc(size_t n) { count(); return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n); }
int posix_memalign(void **out, size_t al, size_t n) {
    count();
    void *p = __libc_memalign(al, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
