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

/* ===== LVSVRRP section (VRRP sockets, AF_PACKET send) ===== */
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

/// Zeroes `msg` and points it at the one buffer `iov`, the address `name` and the ancillary
/// data buffer `control`, for sendmsg/recvmsg.
static inline void clvs_msghdr_init(struct msghdr *msg, struct iovec *iov, void *name, socklen_t namelen,
                                    void *control, size_t controllen) {
    memset(msg, 0, sizeof(*msg));
    msg->msg_name = name;
    msg->msg_namelen = namelen;
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    msg->msg_control = control;
    msg->msg_controllen = controllen;
}

/// Receives one IPv4 raw datagram (IP header included) with recvfrom; returns the length or -1.
static inline ssize_t clvs_vrrp_recv4(int fd, void *buf, size_t len, int *ifindex_out) {
    char cbuf[256] __attribute__((aligned(8)));
    struct iovec iov = { buf, len };
    struct sockaddr_in sa;
    struct msghdr msg;
    clvs_msghdr_init(&msg, &iov, &sa, sizeof(sa), cbuf, sizeof(cbuf));
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
    clvs_msghdr_init(&msg, &iov, &sa, sizeof(sa), cbuf, CMSG_SPACE(sizeof(struct clvs_vrrp_in6_pktinfo)));
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
    clvs_msghdr_init(&msg, &iov, &sa, sizeof(sa), cbuf, sizeof(cbuf));
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

/* ===== end of LVSVRRP section ===== */

/* ===== LVSDataPlane section (TPACKET_V2 rings, sendmmsg, rtnetlink, TUN) ===== */
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/virtio_net.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* glibc declares these only under _GNU_SOURCE; same layout as the kernel's. */
struct clvs_dp_mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
extern int sendmmsg(int fd, struct clvs_dp_mmsghdr *vmessages, unsigned int vlen, int flags);

/// One frame to transmit: its bytes, its length and the interface to send it on.
struct clvs_dp_tx {
    const void *data;
    uint32_t len;
    int32_t ifindex;
};

/// A packet socket for protocol `proto` (host order, e.g. ETH_P_ALL), non-blocking, close-on-exec.
static inline int clvs_dp_packet_socket(int proto) {
    return socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons((uint16_t)proto));
}

/// Binds a packet socket to `ifindex` (0 = every interface) and protocol `proto` (host order).
static inline int clvs_dp_bind(int fd, int ifindex, int proto) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons((uint16_t)proto);
    return bind(fd, (struct sockaddr *)&sll, sizeof(sll));
}

static inline int clvs_dp_setint(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

/// SOL_PACKET options by name, so Swift needs no constants.
static inline int clvs_dp_set_reserve(int fd, int bytes) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_RESERVE, bytes); }
static inline int clvs_dp_set_vnet_hdr(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_VNET_HDR, 1); }
static inline int clvs_dp_set_ignore_outgoing(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1); }
static inline int clvs_dp_set_qdisc_bypass(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1); }
static inline int clvs_dp_set_auxdata(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_AUXDATA, 1); }
static inline int clvs_dp_set_fanout(int fd, int group_id, int mode) {
    return clvs_dp_setint(fd, SOL_PACKET, PACKET_FANOUT, (group_id & 0xffff) | (mode << 16));
}
static inline int clvs_dp_fanout_hash(void) { return PACKET_FANOUT_HASH; }
static inline int clvs_dp_set_rcvbuf(int fd, int bytes) { return clvs_dp_setint(fd, SOL_SOCKET, SO_RCVBUF, bytes); }

/// Asks for a TPACKET_V2 receive ring of `frame_nr` slots of `frame_size` bytes (in blocks of
/// `block_size`, a multiple of both the page size and `frame_size`, so slot i sits at
/// i * frame_size) and maps it; returns the mapping or NULL (errno set).
static inline void *clvs_dp_rx_ring(int fd, unsigned block_size, unsigned frame_size, unsigned frame_nr) {
    struct tpacket_req req;
    memset(&req, 0, sizeof(req));
    unsigned per_block = block_size / frame_size;
    if (per_block == 0) { errno = EINVAL; return NULL; }
    req.tp_block_size = block_size;
    req.tp_block_nr = (frame_nr + per_block - 1) / per_block;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = req.tp_block_nr * per_block;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) return NULL;
    size_t len = (size_t)req.tp_block_size * req.tp_block_nr;
    void *ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
    if (ring == MAP_FAILED) {
        ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (ring == MAP_FAILED) return NULL;
    }
    return ring;
}

static inline int clvs_dp_unmap(void *p, size_t len) { return munmap(p, len); }

static inline int clvs_dp_set_version2(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2); }
/// Frames larger than a ring slot are queued whole on the socket (TP_STATUS_COPY in the slot).
static inline int clvs_dp_set_copy_thresh(int fd) { return clvs_dp_setint(fd, SOL_PACKET, PACKET_COPY_THRESH, 1); }
/// SO_RCVBUFFORCE / SO_SNDBUFFORCE (root), falling back to the capped SO_RCVBUF / SO_SNDBUF.
static inline int clvs_dp_force_rcvbuf(int fd, int bytes) {
    if (clvs_dp_setint(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) == 0) return 0;
    return clvs_dp_setint(fd, SOL_SOCKET, SO_RCVBUF, bytes);
}
static inline int clvs_dp_force_sndbuf(int fd, int bytes) {
    if (clvs_dp_setint(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes) == 0) return 0;
    return clvs_dp_setint(fd, SOL_SOCKET, SO_SNDBUF, bytes);
}

/// True when the kernel handed slot `h` to user space.
static inline int clvs_dp_frame_ready(const void *h) {
    const struct tpacket2_hdr *p = (const struct tpacket2_hdr *)h;
    return (__atomic_load_n(&p->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}
/// Gives slot `h` back to the kernel.
static inline void clvs_dp_frame_release(void *h) {
    struct tpacket2_hdr *p = (struct tpacket2_hdr *)h;
    __atomic_store_n(&p->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/// What user space needs of one received packet.
struct clvs_dp_pkt {
    uint32_t snaplen;      /* bytes captured */
    uint32_t len;          /* bytes on the wire */
    uint32_t mac;          /* offset of the frame from the slot's start */
    uint32_t status;       /* TP_STATUS_* bits */
    int32_t ifindex;
    uint8_t pkttype;       /* PACKET_HOST, PACKET_BROADCAST, ... */
    uint8_t copied;        /* TP_STATUS_COPY: the whole frame waits on the socket */
    uint8_t vnet_flags;    /* VIRTIO_NET_HDR_F_* */
    uint8_t gso_type;      /* VIRTIO_NET_HDR_GSO_* */
    uint16_t gso_size;
    uint16_t csum_start;   /* frame-relative */
    uint16_t csum_offset;
};

/// Fills the offload fields from the virtio_net_hdr at `v`.
static inline void clvs_dp_read_vnet(const void *v, struct clvs_dp_pkt *out) {
    struct virtio_net_hdr h;
    memcpy(&h, v, sizeof(h));
    out->vnet_flags = h.flags;
    out->gso_type = h.gso_type;
    out->gso_size = h.gso_size;
    out->csum_start = h.csum_start;
    out->csum_offset = h.csum_offset;
}

/// Reads slot `h` of a V2 ring whose socket has PACKET_VNET_HDR (the header precedes the frame).
static inline void clvs_dp_read_pkt(const void *h, struct clvs_dp_pkt *out) {
    const struct tpacket2_hdr *p = (const struct tpacket2_hdr *)h;
    const struct sockaddr_ll *sll = (const struct sockaddr_ll *)((const uint8_t *)h + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
    out->snaplen = p->tp_snaplen;
    out->len = p->tp_len;
    out->mac = p->tp_mac;
    out->status = p->tp_status;
    out->ifindex = sll->sll_ifindex;
    out->pkttype = sll->sll_pkttype;
    out->copied = (p->tp_status & TP_STATUS_COPY) ? 1 : 0;
    if (p->tp_mac >= sizeof(struct virtio_net_hdr) + TPACKET2_HDRLEN && p->tp_snaplen > 0) {
        clvs_dp_read_vnet((const uint8_t *)h + p->tp_mac - sizeof(struct virtio_net_hdr), out);
    } else {
        out->vnet_flags = 0; out->gso_type = 0; out->gso_size = 0; out->csum_start = 0; out->csum_offset = 0;
    }
}

/// The bytes at the start of a V2 slot that the packet header and its sockaddr_ll occupy.
static inline uint32_t clvs_dp_pkt_header_bytes(void) { return TPACKET2_HDRLEN; }
/// The size of the virtio_net_hdr in front of every frame.
static inline uint32_t clvs_dp_vnet_bytes(void) { return sizeof(struct virtio_net_hdr); }

/// Takes the next frame queued whole on the socket (a TP_STATUS_COPY slot's): virtio_net_hdr then
/// the frame, into `buf`. Returns the bytes it had (more than `len` if cut) or -1.
static inline ssize_t clvs_dp_recv_copy(int fd, void *buf, size_t len) {
    return recv(fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
}

/// Frames the ring dropped since the last call (PACKET_STATISTICS resets on read), or 0.
static inline uint64_t clvs_dp_ring_drops(int fd) {
    struct tpacket_stats st;
    socklen_t len = sizeof(st);
    memset(&st, 0, sizeof(st));
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return 0;
    return st.tp_drops;
}

/* glibc declares pipe2 only under _GNU_SOURCE. */
extern int pipe2(int pipefd[2], int flags);
/// A pipe whose two ends are close-on-exec (no other child inherits them).
static inline int clvs_dp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/// Waits up to `timeout_ms` for `fd` to accept more frames; 1 if it does.
static inline int clvs_dp_wait_writable(int fd, int timeout_ms) {
    struct pollfd p = { fd, POLLOUT, 0 };
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLOUT) ? 1 : 0;
}

/// Sends up to 256 frames with one sendmmsg on a packet socket; returns how many went out or -1.
static inline int clvs_dp_send_batch(int fd, const struct clvs_dp_tx *tx, int n) {
    if (n > 256) n = 256;
    struct clvs_dp_mmsghdr msgs[256];
    struct iovec iov[256];
    struct sockaddr_ll sll[256];
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = (void *)tx[i].data;
        iov[i].iov_len = tx[i].len;
        memset(&sll[i], 0, sizeof(sll[i]));
        sll[i].sll_family = AF_PACKET;
        sll[i].sll_ifindex = tx[i].ifindex;
        sll[i].sll_halen = 6;
        const uint8_t *f = (const uint8_t *)tx[i].data;
        memcpy(sll[i].sll_addr, f, 6);
        sll[i].sll_protocol = htons((uint16_t)((f[12] << 8) | f[13]));
        clvs_msghdr_init(&msgs[i].msg_hdr, &iov[i], &sll[i], sizeof(sll[i]), NULL, 0);
        msgs[i].msg_len = 0;
    }
    int sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* One frame the interface refuses (down, too big) must not stall the rest. */
            if (errno == EAGAIN || errno == ENOBUFS) return sent;
            sent += 1;
            continue;
        }
        if (r == 0) break;
        sent += r;
    }
    return sent;
}

/// Waits up to `timeout_ms` for any of two descriptors (-1 = unused) to become readable;
/// returns a bit mask (1 = first, 2 = second) or 0.
static inline int clvs_dp_poll2(int a, int b, int timeout_ms) {
    struct pollfd p[2];
    int n = 0;
    if (a >= 0) { p[n].fd = a; p[n].events = POLLIN; p[n].revents = 0; n++; }
    if (b >= 0) { p[n].fd = b; p[n].events = POLLIN; p[n].revents = 0; n++; }
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r <= 0) return 0;
    int mask = 0;
    int i = 0;
    if (a >= 0) { if (p[i].revents) mask |= 1; i++; }
    if (b >= 0) { if (p[i].revents) mask |= 2; }
    return mask;
}

/// Waits for three descriptors; bit i set when descriptor i is readable.
static inline int clvs_dp_poll3(int a, int b, int c, int timeout_ms) {
    struct pollfd p[3] = { { a, POLLIN, 0 }, { b, POLLIN, 0 }, { c, POLLIN, 0 } };
    int r = poll(p, 3, timeout_ms);
    if (r <= 0) return 0;
    return (p[0].revents ? 1 : 0) | (p[1].revents ? 2 : 0) | (p[2].revents ? 4 : 0);
}

/// Opens /dev/net/tun as a TUN device (IFF_TUN | IFF_NO_PI) named `name` (may be changed by the
/// kernel: the actual name is written back). Returns the descriptor or -1.
static inline int clvs_tun_open(char *name, size_t name_cap) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); errno = e; return -1; }
    strncpy(name, ifr.ifr_name, name_cap - 1);
    name[name_cap - 1] = 0;
    return fd;
}

/// Receives one frame from a packet socket with its interface index and packet type.
static inline ssize_t clvs_dp_recv_frame(int fd, void *buf, size_t len, int *ifindex, int *pkttype) {
    struct sockaddr_ll sll;
    socklen_t sl = sizeof(sll);
    ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&sll, &sl);
    if (n >= 0) { *ifindex = sll.sll_ifindex; *pkttype = sll.sll_pkttype; }
    return n;
}

/// The inode of this thread's network namespace (identifies it for pid files), or 0.
static inline uint64_t clvs_netns_inode(void) {
    struct stat st;
    if (stat("/proc/self/ns/net", &st) != 0) return 0;
    return (uint64_t)st.st_ino;
}
/* ===== end of LVSDataPlane section ===== */

/* ===== LVSPlatform section (rtnetlink socket, eventfd, thread names, namespaces, scripts) ===== */
#include <sys/eventfd.h>

/// Opens a NETLINK_ROUTE socket bound to the multicast groups in `groups` (a bit mask of
/// 1 << (RTNLGRP - 1); 0 for requests only), non-blocking when `nonblocking`, with a receive
/// buffer of `rcvbuf` bytes when it is positive (SO_RCVBUFFORCE, else the capped SO_RCVBUF).
static inline int clvs_netlink_open(uint32_t groups, int nonblocking, int rcvbuf) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
    if (fd < 0) return -1;
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = groups;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { close(fd); return -1; }
    return fd;
}

/// Opens a NETLINK_NETFILTER socket for nf_tables requests: blocking, close-on-exec (a child
/// must not keep a table owned by this socket alive), errors answered with the failing message's
/// header only (NETLINK_CAP_ACK) plus the kernel's reason (NETLINK_EXT_ACK), and a receive
/// buffer of `rcvbuf` bytes (SO_RCVBUFFORCE as root, else the capped SO_RCVBUF).
static inline int clvs_nfnetlink_open(int rcvbuf) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { close(fd); return -1; }
    return fd;
}

/// Sends a netlink message to the kernel (port 0).
static inline ssize_t clvs_netlink_send(int fd, const void *buf, size_t len) {
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
}

// ---- Process descriptors (pidfd_open(2)) -----------------------------------------------
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/// pidfd_open(2) through syscall(2), so that it needs no glibc 2.36: a descriptor that becomes
/// readable when the process ends, or -1 with errno (ENOSYS before Linux 5.3, EPERM under some
/// seccomp profiles, ESRCH when no such process).
static inline int clvs_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

/// Sets the calling thread's nice value (setpriority on its thread id: nice is per thread on
/// Linux). 0, or -1 with errno.
static inline int clvs_set_thread_nice(int value) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), value);
}

/// Whether process `pid` has ended, without reaping it: 1 ended, 0 running. A child is asked
/// with waitid(WNOWAIT) (a zombie has ended); any other process with kill(pid, 0).
static inline int clvs_process_ended(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) return info.si_pid == pid;
    if (errno != ECHILD) return 0;
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/// An eventfd (close-on-exec, non-blocking unless `blocking`; a counting semaphore when `semaphore`).
static inline int clvs_eventfd(int blocking, int semaphore) {
    return eventfd(0, EFD_CLOEXEC | (blocking ? 0 : EFD_NONBLOCK) | (semaphore ? EFD_SEMAPHORE : 0));
}

/// Names the calling thread (as `ps -L`, `top -H` and perf show it; 15 characters at most).
static inline void clvs_name_thread(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

extern int setns(int fd, int nstype);
/// Moves the calling thread into the network namespace open at `fd` (setns CLONE_NEWNET).
static inline int clvs_setns_net(int fd) { return setns(fd, 0x40000000); }

/// Forks and executes `path` with `argv`/`envp` in a new process group; in the child, when
/// `set_ids` is non-zero, drops supplementary groups and switches to `gid`/`uid` first. Only
/// async-signal-safe calls run in the child. Returns the child's pid or -1 (errno set).
static inline pid_t clvs_spawn_script(const char *path, char *const argv[], char *const envp[], int set_ids,
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

/* ===== end of LVSPlatform section ===== */

/* CPUs this process may run on (sched_getaffinity). */
int clvs_affinity_cpus(void);
/* The nth CPU (from 0) this process may run on, or -1. */
int clvs_pin_cpu_of(int nth);
/* Pins the calling thread to `cpu`. */
int clvs_pin_thread(int cpu);
/* An epoll descriptor watching `a` and `b` (-1 entries skipped) for reading, or -1. */
int clvs_epoll_pair(int a, int b);
/* A classic BPF filter on a packet socket: only frames of these interfaces reach it. */
int clvs_dp_filter_interfaces(int fd, const int32_t *ifindexes, int count);

#endif
