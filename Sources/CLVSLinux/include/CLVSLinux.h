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

/* ===== LVSVRRP section (VRRP sockets, AF_PACKET send, netlink, script spawning) ===== */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* glibc declares these only under _GNU_SOURCE; same layouts as the kernel's. */
struct clvs_vrrp_in6_pktinfo { struct in6_addr addr; unsigned int ifindex; };
struct clvs_vrrp_in_pktinfo { int ifindex; struct in_addr spec_dst; struct in_addr addr; };
extern int setns(int fd, int nstype);
#define CLVS_VRRP_CLONE_NEWNET 0x40000000

/// Joins (join != 0) or leaves an IPv4 multicast group on an interface index (ip_mreqn).
static inline int clvs_vrrp_ip4_membership(int fd, uint32_t group_be, int ifindex, int join) {
    struct ip_mreqn m;
    memset(&m, 0, sizeof(m));
    m.imr_multiaddr.s_addr = group_be;
    m.imr_ifindex = ifindex;
    return setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof(m));
}

/// Sets IP_MULTICAST_IF by interface index (ip_mreqn).
static inline int clvs_vrrp_ip4_multicast_if(int fd, int ifindex) {
    struct ip_mreqn m;
    memset(&m, 0, sizeof(m));
    m.imr_ifindex = ifindex;
    return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m));
}

/// Joins or leaves an IPv6 multicast group (16 bytes, network order) on an interface index.
static inline int clvs_vrrp_ip6_membership(int fd, const uint8_t *group16, int ifindex, int join) {
    struct ipv6_mreq m;
    memset(&m, 0, sizeof(m));
    memcpy(&m.ipv6mr_multiaddr, group16, 16);
    m.ipv6mr_interface = (unsigned)ifindex;
    return setsockopt(fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m, sizeof(m));
}

/// Sends `len` bytes to an IPv4 destination (network-order address) with sendto.
static inline ssize_t clvs_vrrp_sendto4(int fd, const void *buf, size_t len, uint32_t dst_be, int flags) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = dst_be;
    return sendto(fd, buf, len, flags, (struct sockaddr *)&sa, sizeof(sa));
}

/// Receives one IPv4 raw datagram (IP header included) with recvfrom; returns the length or -1.
static inline ssize_t clvs_vrrp_recv4(int fd, void *buf, size_t len, int *ifindex_out) {
    char cbuf[256] __attribute__((aligned(8)));
    struct iovec iov = { buf, len };
    struct sockaddr_in sa;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &sa;
    msg.msg_namelen = sizeof(sa);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return n;
    *ifindex_out = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct clvs_vrrp_in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            *ifindex_out = pi.ifindex;
        }
    }
    return n;
}

/// Sends an IPv6 datagram to `dst16` with IPV6_PKTINFO (source `src16` unless all-zero, interface
/// `ifindex`) and, when hoplimit >= 0, an IPV6_HOPLIMIT ancillary item.
static inline ssize_t clvs_vrrp_send6(int fd, const void *buf, size_t len, const uint8_t *dst16,
                                      const uint8_t *src16, int ifindex, int hoplimit) {
    char cbuf[CMSG_SPACE(sizeof(struct clvs_vrrp_in6_pktinfo)) + CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
    memset(cbuf, 0, sizeof(cbuf));
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    memcpy(&sa.sin6_addr, dst16, 16);
    if (dst16[0] == 0xfe && (dst16[1] & 0xc0) == 0x80) sa.sin6_scope_id = (uint32_t)ifindex;
    if (dst16[0] == 0xff && (dst16[1] & 0x0f) <= 2) sa.sin6_scope_id = (uint32_t)ifindex;
    struct iovec iov = { (void *)buf, len };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &sa;
    msg.msg_namelen = sizeof(sa);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(struct clvs_vrrp_in6_pktinfo));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct clvs_vrrp_in6_pktinfo));
    struct clvs_vrrp_in6_pktinfo pi;
    memset(&pi, 0, sizeof(pi));
    memcpy(&pi.addr, src16, 16);
    pi.ifindex = (unsigned)ifindex;
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    if (hoplimit >= 0) {
        msg.msg_controllen += CMSG_SPACE(sizeof(int));
        c = CMSG_NXTHDR(&msg, c);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_HOPLIMIT;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &hoplimit, sizeof(int));
    }
    return sendmsg(fd, &msg, 0);
}

/// Receives one IPv6 raw datagram (payload only) with recvmsg, returning the source, the
/// destination (IPV6_PKTINFO), the hop limit (IPV6_HOPLIMIT, -1 if absent) and the interface.
static inline ssize_t clvs_vrrp_recv6(int fd, void *buf, size_t len, uint8_t *src16, uint8_t *dst16,
                                      int *hoplimit_out, int *ifindex_out) {
    char cbuf[512] __attribute__((aligned(8)));
    struct iovec iov = { buf, len };
    struct sockaddr_in6 sa;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &sa;
    msg.msg_namelen = sizeof(sa);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return n;
    memcpy(src16, &sa.sin6_addr, 16);
    memset(dst16, 0, 16);
    *hoplimit_out = -1;
    *ifindex_out = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_HOPLIMIT) {
            int h;
            memcpy(&h, CMSG_DATA(c), sizeof(int));
            *hoplimit_out = h;
        } else if (c->cmsg_type == IPV6_PKTINFO) {
            struct clvs_vrrp_in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            memcpy(dst16, &pi.addr, 16);
            *ifindex_out = (int)pi.ifindex;
        }
    }
    return n;
}

/// Sends one Ethernet frame on an interface through an AF_PACKET socket (sockaddr_ll).
static inline ssize_t clvs_vrrp_packet_send(int fd, int ifindex, const void *frame, size_t len) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_halen = 6;
    const uint8_t *f = (const uint8_t *)frame;
    memcpy(sll.sll_addr, f, 6);
    sll.sll_protocol = htons((uint16_t)((f[12] << 8) | f[13]));
    return sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll));
}

/// Opens a NETLINK_ROUTE socket bound to `groups` (0 for request/response only).
static inline int clvs_vrrp_netlink_open(uint32_t groups) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = groups;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { close(fd); return -1; }
    return fd;
}

/// Sends a netlink message to the kernel (pid 0).
static inline ssize_t clvs_vrrp_netlink_send(int fd, const void *buf, size_t len) {
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
}

/// Forks and executes `path` with `argv`/`envp` in a new process group; in the child, when
/// `set_ids` is non-zero, drops supplementary groups and switches to `gid`/`uid` first. Only
/// async-signal-safe calls run in the child. Returns the child's pid or -1 (errno set).
static inline pid_t clvs_vrrp_spawn(const char *path, char *const argv[], char *const envp[], int set_ids,
                                    uid_t uid, gid_t gid) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* lvsd ignores SIGPIPE; an ignored signal would survive execve */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
    if (set_ids) {
        if (setgroups(0, NULL) != 0 && errno != EPERM) _exit(126);
        if (setgid(gid) != 0) _exit(126);
        if (setuid(uid) != 0) _exit(126);
    }
    execve(path, argv, envp);
    _exit(127);
}

/// Moves the calling thread into the network namespace open at `fd` (setns CLONE_NEWNET).
static inline int clvs_vrrp_setns_net(int fd) { return setns(fd, CLVS_VRRP_CLONE_NEWNET); }
/* ===== end of LVSVRRP section ===== */

#endif
