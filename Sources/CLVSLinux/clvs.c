// Out-of-line helpers of CLVSLinux.
#include "CLVSLinux.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <linux/filter.h>

/* The affinity mask through the raw system call (CPU_* need _GNU_SOURCE, which clashes with
 * CLVSLinux.h's own sendmmsg declaration). */
static int affinity(uint64_t mask[16])
{
    memset(mask, 0, 16 * sizeof(uint64_t));
    long r = syscall(SYS_sched_getaffinity, 0, 16 * sizeof(uint64_t), mask);
    return r > 0 ? 0 : -1;
}

int clvs_affinity_cpus(void)
{
    uint64_t mask[16];
    if (affinity(mask) != 0)
        return 1;
    int n = 0;
    for (int i = 0; i < 16; i++)
        n += __builtin_popcountll(mask[i]);
    return n > 0 ? n : 1;
}

int clvs_pin_cpu_of(int nth)
{
    uint64_t mask[16];
    if (affinity(mask) != 0)
        return -1;
    int seen = 0;
    for (int c = 0; c < 1024; c++) {
        if (!(mask[c / 64] >> (c % 64) & 1))
            continue;
        if (seen++ == nth)
            return c;
    }
    return -1;
}

int clvs_pin_thread(int cpu)
{
    if (cpu < 0 || cpu >= 1024)
        return -1;
    uint64_t mask[16];
    memset(mask, 0, sizeof(mask));
    mask[cpu / 64] = 1ULL << (cpu % 64);
    return (int)syscall(SYS_sched_setaffinity, 0, sizeof(mask), mask);
}

int clvs_epoll_pair(int a, int b)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -1;
    int fds[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) {
            close(ep);
            return -1;
        }
    }
    return ep;
}

int clvs_dp_filter_interfaces(int fd, const int32_t *ifindexes, int count)
{
    /* ld ifidx; for each: jeq idx → accept; ret 0; accept: ret 0xffffffff */
    if (count < 0 || count > 200)
        return -1;
    struct sock_filter code[2 + 200 + 2];
    int n = 0;
    code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX);
    for (int i = 0; i < count; i++) {
        /* jt: to the accept instruction at the end. */
        int jt = count - i; /* instructions left after this one, the reject included */
        code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ifindexes[i], jt, 0);
    }
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}
