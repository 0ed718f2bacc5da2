/* CLVSXDP: lvsd's XDP program as bytes, its loader (libbpf), map access, BPF_PROG_TEST_RUN and AF_XDP
 * sockets (libxdp's xsk API), behind small C functions Swift imports. libbpf and libxdp types stay in
 * the .c files: Swift sees opaque handles and plain structs. */
#ifndef CLVSXDP_H
#define CLVSXDP_H

#include <stddef.h>
#include <stdint.h>

#include "lvs_xdp_shared.h"

/* ---- the object ------------------------------------------------------------------------------ */

/* The compiled program (bpf/lvs_xdp.bpf.c, by scripts/build-bpf): an ELF BPF object. */
extern const unsigned char clvs_xdp_object[];
extern const size_t clvs_xdp_object_len;
/* The same bytes, for Swift (which cannot import an array of unknown size). */
const void *clvs_xdp_object_bytes(void);

/* ---- loading --------------------------------------------------------------------------------- */

/* Map sizes chosen before loading (0 = the default of lvs_xdp_shared.h). */
struct clvs_xdp_limits {
    uint32_t flows;
    uint32_t services;
    uint32_t addresses;
    uint32_t server_slots;
    uint32_t sockets;
};

struct clvs_xdp_loaded; /* opaque: a loaded bpf_object */

/* Opens `len` bytes of ELF object and loads it into the kernel. On failure returns NULL with
 * *error set to a negative errno, and `log` holds the reason: the tail of the verifier log (the
 * refusal is on its last lines; *refused = 1) or libbpf's messages (*refused = 0). */
struct clvs_xdp_loaded *clvs_xdp_load(const void *object, size_t len, const struct clvs_xdp_limits *limits,
                                      char *log, size_t log_size, int *error, int *refused);
/* The program's fd, or -1. */
int clvs_xdp_program_fd(const struct clvs_xdp_loaded *loaded);
/* A map's fd by name, or -1. */
int clvs_xdp_map_fd(const struct clvs_xdp_loaded *loaded, const char *name);
/* Unloads (maps and program go when no interface holds them). */
void clvs_xdp_unload(struct clvs_xdp_loaded *loaded);

/* Attach modes. */
#define CLVS_XDP_MODE_NATIVE 1  /* driver mode (XDP_FLAGS_DRV_MODE) */
#define CLVS_XDP_MODE_GENERIC 2 /* SKB mode (XDP_FLAGS_SKB_MODE) */

/* Attaches `program_fd` to `ifindex` (of the calling thread's network namespace) in `mode` through
 * a BPF link (fails with -EBUSY if another program is attached). Returns the link's fd or a
 * negative errno. The link holds the attachment: it goes when the fd is closed or the process
 * ends, from whatever namespace. */
int clvs_xdp_attach(int ifindex, int program_fd, int mode);
/* Detaches (bpf_link_detach) and closes the link. Returns 0 or a negative errno. */
int clvs_xdp_detach(int link_fd);
/* The program id attached to ifindex in `mode` (0 if none), or a negative errno. */
int clvs_xdp_attached_id(int ifindex, int mode);
/* The id of a program fd, or 0. */
uint32_t clvs_xdp_program_id(int program_fd);

/* ---- maps ------------------------------------------------------------------------------------ */

/* bpf_map_update_elem / delete / lookup: 0 or a negative errno. `flags`: 0 any, 1 BPF_NOEXIST, 2 BPF_EXIST. */
int clvs_xdp_map_update(int fd, const void *key, const void *value, uint64_t flags);
int clvs_xdp_map_delete(int fd, const void *key);
int clvs_xdp_map_lookup(int fd, const void *key, void *value);
/* Next key after `key` (NULL: the first); 0, -ENOENT at the end, or a negative errno. */
int clvs_xdp_map_next_key(int fd, const void *key, void *next);
/* The number of possible CPUs (the stride of per-CPU map values). */
int clvs_xdp_possible_cpus(void);

/* ---- BPF_PROG_TEST_RUN ----------------------------------------------------------------------- */

struct clvs_xdp_test_run {
    const void *data_in;
    uint32_t data_size_in;
    void *data_out;
    uint32_t data_size_out; /* in: capacity; out: the output frame's length */
    uint32_t ingress_ifindex; /* 0: the loopback device of the calling thread's namespace */
    uint32_t rx_queue_index;
    uint32_t repeat;
    uint32_t retval;   /* out: the XDP action */
    uint32_t duration; /* out: ns per run, as the kernel measured it */
};

/* Runs the program on one frame. Returns 0 or a negative errno. */
int clvs_xdp_test_run(int program_fd, struct clvs_xdp_test_run *run);

/* ---- AF_XDP ---------------------------------------------------------------------------------- */

struct clvs_xsk_umem;   /* opaque: libxdp's umem and its first fill/completion rings */
struct clvs_xsk_socket; /* opaque: a socket and its rx/tx (and, when shared, fill/completion) rings */

/* A descriptor: UMEM offset and length. */
struct clvs_xsk_desc {
    uint64_t addr;
    uint32_t len;
    uint32_t options;
};

/* XDP_STATISTICS and the ring options. */
struct clvs_xsk_stats {
    uint64_t rx_dropped;
    uint64_t rx_invalid_descs;
    uint64_t tx_invalid_descs;
    uint64_t rx_ring_full;
    uint64_t rx_fill_ring_empty_descs;
    uint64_t tx_ring_empty_descs;
};

/* Registers `size` bytes at `area` (page aligned) as a UMEM of `frame_size` chunks, with
 * `headroom` bytes reserved in front of every received frame. NULL with *error on failure. */
struct clvs_xsk_umem *clvs_xsk_umem_create(void *area, uint64_t size, uint32_t frame_size, uint32_t headroom,
                                           uint32_t fill_size, uint32_t comp_size, int *error);
/* Frees the UMEM (after every socket on it is closed). */
int clvs_xsk_umem_delete(struct clvs_xsk_umem *umem);

/* Bind flags (linux/if_xdp.h). */
#define CLVS_XSK_COPY (1 << 1)
#define CLVS_XSK_ZEROCOPY (1 << 2)
#define CLVS_XSK_USE_NEED_WAKEUP (1 << 3)

/* A socket on ifname's queue, sharing `umem` (the first socket takes the UMEM's own fill and
 * completion rings; later ones get their own). No program is loaded (INHIBIT_PROG_LOAD): insert the
 * socket into lvsd's XSKMAP with clvs_xsk_insert. NULL with *error on failure. */
struct clvs_xsk_socket *clvs_xsk_socket_create(struct clvs_xsk_umem *umem, const char *ifname, uint32_t queue,
                                               uint32_t rx_size, uint32_t tx_size, uint16_t bind_flags,
                                               int *error);
void clvs_xsk_socket_delete(struct clvs_xsk_socket *s);
int clvs_xsk_fd(const struct clvs_xsk_socket *s);
/* 1 if the socket runs in zero-copy mode (XDP_OPTIONS), 0 in copy mode. */
int clvs_xsk_zero_copy(const struct clvs_xsk_socket *s);
/* Puts the socket into an XSKMAP at `key` (its queue). */
int clvs_xsk_insert(const struct clvs_xsk_socket *s, int map_fd, uint32_t key);
/* SO_PREFER_BUSY_POLL, SO_BUSY_POLL (µs) and SO_BUSY_POLL_BUDGET; 0 or a negative errno. */
int clvs_xsk_busy_poll(const struct clvs_xsk_socket *s, int usec, int budget);

/* Takes up to `max` received descriptors (the RX ring entries are released at once: the frames
 * stay the caller's until they go back to a fill ring or out on a TX ring). */
uint32_t clvs_xsk_receive(struct clvs_xsk_socket *s, struct clvs_xsk_desc *out, uint32_t max);
/* Gives up to `n` frames to the socket's fill ring; returns how many were taken. */
uint32_t clvs_xsk_fill(struct clvs_xsk_socket *s, const uint64_t *addrs, uint32_t n);
/* Free slots in the fill ring. */
uint32_t clvs_xsk_fill_free(struct clvs_xsk_socket *s);
/* Takes up to `max` completed transmissions (frames free again). */
uint32_t clvs_xsk_complete(struct clvs_xsk_socket *s, uint64_t *out, uint32_t max);
/* Queues up to `n` frames on the TX ring and kicks the kernel when it asks for it (always in copy
 * mode). Returns how many were queued. */
uint32_t clvs_xsk_transmit(struct clvs_xsk_socket *s, const struct clvs_xsk_desc *descs, uint32_t n);
/* With XDP_USE_NEED_WAKEUP: wakes the driver when the fill ring asks for it (recvfrom). */
void clvs_xsk_wake_fill(struct clvs_xsk_socket *s);
/* Reads XDP_STATISTICS; 0 or a negative errno. */
int clvs_xsk_statistics(const struct clvs_xsk_socket *s, struct clvs_xsk_stats *out);

/* ---- epoll over several sockets -------------------------------------------------------------- */

int clvs_xsk_epoll_create(void);
int clvs_xsk_epoll_add(int epfd, int fd);

/* The next RX descriptors waiting (without consuming them). */
uint32_t clvs_xsk_rx_ready(struct clvs_xsk_socket *s);

/* The interface's driver (ETHTOOL_GDRVINFO), or -errno. */
int clvs_xdp_driver_name(const char *ifname, char *out, size_t len);
/* The sum of the interface's ethtool statistics whose names end with `suffix`, or -errno
 * (-ENOENT: none). */
int clvs_xdp_ethtool_sum(const char *ifname, const char *suffix, uint64_t *sum);
/* Sends `count` throw-away frames into the interface the way the fast path does (XDP_TX of a
 * live BPF_PROG_TEST_RUN) and reports how many its `*_xdp_xmit` counters saw delivered (a veth
 * whose peer has no NAPI drops them silently: 0). 0 or -errno. */
int clvs_xdp_transmit_probe(int ifindex, const char *ifname, uint32_t count, uint64_t *delivered);

#endif
