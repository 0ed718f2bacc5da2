/* AF_XDP sockets for lvsd (libxdp 1.3's xsk API): UMEM, rings, wake-ups, statistics. */
#define _GNU_SOURCE
#include "CLVSXDP.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

struct clvs_xsk_umem {
    struct xsk_umem *umem;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    int rings_taken; /* the first socket uses these rings */
};

struct clvs_xsk_socket {
    struct xsk_socket *xsk;
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    struct xsk_ring_prod fill_own;
    struct xsk_ring_cons comp_own;
    struct xsk_ring_prod *fill;
    struct xsk_ring_cons *comp;
    uint32_t queue;
    /* Bound in copy mode (XDP_OPTIONS says no zero-copy): every TX batch needs a sendto. */
    int copy_mode;
};

struct clvs_xsk_umem *clvs_xsk_umem_create(void *area, uint64_t size, uint32_t frame_size, uint32_t headroom,
                                           uint32_t fill_size, uint32_t comp_size, int *error)
{
    struct clvs_xsk_umem *u = calloc(1, sizeof(*u));
    if (!u) {
        *error = -ENOMEM;
        return NULL;
    }
    struct xsk_umem_config cfg = {
        .fill_size = fill_size,
        .comp_size = comp_size,
        .frame_size = frame_size,
        .frame_headroom = headroom,
        .flags = 0,
    };
    int r = xsk_umem__create(&u->umem, area, size, &u->fill, &u->comp, &cfg);
    if (r) {
        free(u);
        *error = r < 0 ? r : -r;
        return NULL;
    }
    *error = 0;
    return u;
}

int clvs_xsk_umem_delete(struct clvs_xsk_umem *u)
{
    if (!u)
        return 0;
    int r = xsk_umem__delete(u->umem);
    if (r == 0)
        free(u);
    return r;
}

struct clvs_xsk_socket *clvs_xsk_socket_create(struct clvs_xsk_umem *u, const char *ifname, uint32_t queue,
                                               uint32_t rx_size, uint32_t tx_size, uint16_t bind_flags,
                                               int *error)
{
    struct clvs_xsk_socket *s = calloc(1, sizeof(*s));
    if (!s) {
        *error = -ENOMEM;
        return NULL;
    }
    struct xsk_socket_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_size = rx_size;
    cfg.tx_size = tx_size;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    cfg.bind_flags = bind_flags;
    int r;
    if (!u->rings_taken) {
        s->fill = &u->fill;
        s->comp = &u->comp;
        r = xsk_socket__create_shared(&s->xsk, ifname, queue, u->umem, &s->rx, &s->tx, s->fill, s->comp, &cfg);
        if (r == 0)
            u->rings_taken = 1;
    } else {
        s->fill = &s->fill_own;
        s->comp = &s->comp_own;
        r = xsk_socket__create_shared(&s->xsk, ifname, queue, u->umem, &s->rx, &s->tx, s->fill, s->comp, &cfg);
    }
    if (r) {
        free(s);
        *error = r < 0 ? r : -r;
        return NULL;
    }
    s->queue = queue;
    s->copy_mode = clvs_xsk_zero_copy(s) != 1;
    *error = 0;
    return s;
}

void clvs_xsk_socket_delete(struct clvs_xsk_socket *s)
{
    if (!s)
        return;
    xsk_socket__delete(s->xsk);
    free(s);
}

int clvs_xsk_fd(const struct clvs_xsk_socket *s)
{
    return xsk_socket__fd(s->xsk);
}

int clvs_xsk_zero_copy(const struct clvs_xsk_socket *s)
{
    struct xdp_options opts;
    socklen_t len = sizeof(opts);
    if (getsockopt(xsk_socket__fd(s->xsk), SOL_XDP, XDP_OPTIONS, &opts, &len) != 0)
        return 0;
    return (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
}

int clvs_xsk_insert(const struct clvs_xsk_socket *s, int map_fd, uint32_t key)
{
    int fd = xsk_socket__fd(s->xsk);
    return bpf_map_update_elem(map_fd, &key, &fd, 0) ? -errno : 0;
}

int clvs_xsk_busy_poll(const struct clvs_xsk_socket *s, int usec, int budget)
{
    int fd = xsk_socket__fd(s->xsk);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) != 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usec, sizeof(usec)) != 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)) != 0)
        return -errno;
    return 0;
}

uint32_t clvs_xsk_receive(struct clvs_xsk_socket *s, struct clvs_xsk_desc *out, uint32_t max)
{
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(&s->rx, max, &idx);
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, idx + i);
        out[i].addr = d->addr;
        out[i].len = d->len;
        out[i].options = d->options;
    }
    if (n)
        xsk_ring_cons__release(&s->rx, n);
    return n;
}

uint32_t clvs_xsk_fill(struct clvs_xsk_socket *s, const uint64_t *addrs, uint32_t n)
{
    uint32_t idx = 0;
    uint32_t free_slots = xsk_prod_nb_free(s->fill, n);
    if (n > free_slots)
        n = free_slots;
    if (n == 0)
        return 0;
    if (xsk_ring_prod__reserve(s->fill, n, &idx) != n)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(s->fill, idx + i) = addrs[i];
    xsk_ring_prod__submit(s->fill, n);
    return n;
}

uint32_t clvs_xsk_fill_free(struct clvs_xsk_socket *s)
{
    return xsk_prod_nb_free(s->fill, s->fill->size);
}

uint32_t clvs_xsk_complete(struct clvs_xsk_socket *s, uint64_t *out, uint32_t max)
{
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(s->comp, max, &idx);
    for (uint32_t i = 0; i < n; i++)
        out[i] = *xsk_ring_cons__comp_addr(s->comp, idx + i);
    if (n)
        xsk_ring_cons__release(s->comp, n);
    return n;
}

uint32_t clvs_xsk_transmit(struct clvs_xsk_socket *s, const struct clvs_xsk_desc *descs, uint32_t n)
{
    uint32_t idx = 0;
    uint32_t free_slots = xsk_prod_nb_free(&s->tx, n);
    if (n > free_slots)
        n = free_slots;
    if (n && xsk_ring_prod__reserve(&s->tx, n, &idx) == n) {
        for (uint32_t i = 0; i < n; i++) {
            struct xdp_desc *d = xsk_ring_prod__tx_desc(&s->tx, idx + i);
            d->addr = descs[i].addr;
            d->len = descs[i].len;
            d->options = 0;
        }
        xsk_ring_prod__submit(&s->tx, n);
    } else {
        n = 0;
    }
    /* Copy mode transmits only in sendto's context (or a later poll), whatever the ring's
     * need-wakeup flag says: a batch left in the ring waits for the worker's next poll and holds
     * its UMEM frames meanwhile. A zero-copy driver asks for a kick only when it sleeps
     * (XDP_USE_NEED_WAKEUP). */
    if (n && (s->copy_mode || xsk_ring_prod__needs_wakeup(&s->tx)))
        sendto(xsk_socket__fd(s->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);
    return n;
}

void clvs_xsk_wake_fill(struct clvs_xsk_socket *s)
{
    if (xsk_ring_prod__needs_wakeup(s->fill))
        recvfrom(xsk_socket__fd(s->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

int clvs_xsk_statistics(const struct clvs_xsk_socket *s, struct clvs_xsk_stats *out)
{
    struct xdp_statistics st;
    socklen_t len = sizeof(st);
    memset(&st, 0, sizeof(st));
    if (getsockopt(xsk_socket__fd(s->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
        return -errno;
    out->rx_dropped = st.rx_dropped;
    out->rx_invalid_descs = st.rx_invalid_descs;
    out->tx_invalid_descs = st.tx_invalid_descs;
    out->rx_ring_full = st.rx_ring_full;
    out->rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
    out->tx_ring_empty_descs = st.tx_ring_empty_descs;
    return 0;
}

int clvs_xsk_epoll_create(void)
{
    return epoll_create1(EPOLL_CLOEXEC);
}

int clvs_xsk_epoll_add(int epfd, int fd)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

uint32_t clvs_xsk_rx_ready(struct clvs_xsk_socket *s)
{
    /* xsk_cons_nb_avail without consuming: the producer index against our cached consumer. */
    uint32_t entries = *s->rx.producer - s->rx.cached_cons;
    return entries;
}
