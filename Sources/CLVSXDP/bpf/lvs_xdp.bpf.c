/* lvsd's XDP program: steers the frames lvsd owns to its AF_XDP sockets and forwards established flows.
 *
 *  frame ─▶ parse (eth, one 802.1Q tag, IPv4/IPv6, TCP/UDP/SCTP ports, ICMP error quote)
 *            │ not IP / QinQ / malformed ─────────────────────────────────────────────▶ XDP_PASS
 *            ├─ TCP/UDP, not a fragment, in lvs_flows ─▶ fast path checks ─ ok ─▶ rewrite ─▶ XDP_TX / DEVMAP
 *            │                                               └─ SYN/FIN/RST, TTL≤1, MTU, … ─▶ XSKMAP (lvsd)
 *            ├─ ICMP error quoting a service or reply flow ───────────────────────────▶ XSKMAP
 *            ├─ fragment (no ports) to a VIP / from a reply source ────────────────────▶ XSKMAP
 *            ├─ to VIP:port (lvs_services, port 0 = any) ─ passive VIP ─▶ XDP_PASS, else ▶ XSKMAP
 *            │                                   └─ a SYN while the queue's worker is behind ─▶ XDP_DROP
 *            ├─ from a NAT/FULLNAT real server (lvs_reply_sources) ────────────────────▶ XSKMAP
 *            └─ anything else ─────────────────────────────────────────────────────────▶ XDP_PASS
 *
 * The rewrites are byte for byte those of LVSPacket's Swift transforms (Forwarding.directRoute,
 * translate's fast path, tunnel): TTL − 1, RFC 1624 incremental checksums with the same sums, the
 * same outer headers. Built by scripts/build-bpf; maps and structs in ../include/lvs_xdp_shared.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/lvs_xdp_shared.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Services (VIP, port, protocol), and in the same shape the NAT/FULLNAT real servers whose replies
 * the program takes (lvs_reply_sources). */
struct lvs_service_map {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LVS_XDP_SERVICES_MAX);
    __type(key, struct lvs_xdp_service_key);
    __type(value, struct lvs_xdp_service_value);
};
struct lvs_service_map lvs_services SEC(".maps");
struct lvs_service_map lvs_reply_sources SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LVS_XDP_ADDRS_MAX);
    __type(key, struct lvs_xdp_addr_key);
    __type(value, struct lvs_xdp_addr_value);
} lvs_addrs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LVS_XDP_FLOWS_MAX);
    __type(key, struct lvs_xdp_flow_key);
    __type(value, struct lvs_xdp_flow);
} lvs_flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LVS_XDP_SERVER_SLOTS);
    __type(key, __u32);
    __type(value, struct lvs_xdp_server_stats);
} lvs_server_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LVS_XDP_COUNTER_MAX);
    __type(key, __u32);
    __type(value, __u64);
} lvs_counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LVS_XDP_XSKS_MAX);
    __type(key, struct lvs_xdp_xsk_key);
    __type(value, __u32);
} lvs_xsk_index SEC(".maps");

/* Receive queues whose worker is behind, with the share of SYNs to drop in 1/65536ths (lvsd sets
 * it when its ring fills and clears it a moment after it has drained; 65536: every one): a SYN
 * that would open a new connection is dropped here, before the copy to the AF_XDP socket and the
 * worker's time are spent on it, at random like the kernel's drop_packet. Packets of connections
 * go on. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LVS_XDP_XSKS_MAX);
    __type(key, struct lvs_xdp_xsk_key);
    __type(value, __u32);
} lvs_xsk_shed SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, LVS_XDP_XSKS_MAX);
    __type(key, __u32);
    __type(value, __u32);
} lvs_xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
    __uint(max_entries, LVS_XDP_TX_PORTS_MAX);
    __type(key, __u32);
    __type(value, struct bpf_devmap_val);
} lvs_tx_ports SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* What the parser learnt (offsets from ctx->data). */
struct pkt {
    struct lvs_xdp_flow_key key; /* family, protocol, ports (0 without), addresses */
    __u32 l3;                    /* 14 or 18 */
    __u32 l4;                    /* offset of the upper-layer header */
    __u32 ip_len;                /* IPv4 total length / IPv6 40 + payload length */
    __u8 has_ports;
    __u8 fragment;               /* any fragment */
    __u8 ttl;
    __u8 tos;
    __u8 df;
    __u8 tcp_flags;
    __u8 ext_headers;            /* IPv6 extension headers were present (or not walked to the end) */
    __u8 icmp_error;             /* an ICMP error with a quote whose ports were read */
    struct lvs_xdp_flow_key quote; /* the quoted packet's flow, as it was sent */
};

/* ctx->data / data_end read afresh: after a call clang may otherwise reuse an earlier load
 * through a 32-bit move, which the verifier sees as a scalar. */
#define PKT_DATA(ctx) ((void *)(long)(*(volatile __u32 *)&(ctx)->data))
#define PKT_END(ctx) ((void *)(long)(*(volatile __u32 *)&(ctx)->data_end))

static __always_inline void count(__u32 reason)
{
    __u64 *c = bpf_map_lookup_elem(&lvs_counters, &reason);
    if (c)
        *c += 1;
}

static __always_inline int pass(__u32 reason)
{
    count(reason);
    return XDP_PASS;
}

/* To lvsd: the AF_XDP socket of this interface's receive queue. A frame lvsd owns never reaches
 * the kernel, so without a socket it is dropped (and counted) rather than answered with a RST. */
static __always_inline int steer(struct xdp_md *ctx, __u32 reason)
{
    count(reason);
    struct lvs_xdp_xsk_key k = {.ifindex = ctx->ingress_ifindex, .queue = ctx->rx_queue_index};
    __u32 *index = bpf_map_lookup_elem(&lvs_xsk_index, &k);
    int r = index ? bpf_redirect_map(&lvs_xsks, *index, XDP_DROP) : XDP_DROP;
    if (r != XDP_REDIRECT)
        count(LVS_XDP_STEER_NO_SOCKET);
    return r;
}

/* True for a SYN (no ACK, no RST) arriving on a queue whose worker sheds new connections, drawn
 * with the queue's share. */
static __always_inline int shed_new(struct xdp_md *ctx, const struct pkt *pi)
{
    if (pi->key.protocol != IPPROTO_TCP || (pi->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
        return 0;
    struct lvs_xdp_xsk_key k = {.ifindex = ctx->ingress_ifindex, .queue = ctx->rx_queue_index};
    __u32 *share = bpf_map_lookup_elem(&lvs_xsk_shed, &k);
    if (!share || *share == 0)
        return 0;
    return *share >= 65536 || (bpf_get_prandom_u32() & 0xffff) < *share;
}

static __always_inline __u16 fold(__u64 s)
{
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (__u16)s;
}

/* RFC 1624 eqn. 3 with a precomputed sum of (~old + new): HC' = ~(~HC + Σ). Host order. */
static __always_inline __u16 csum_apply(__u16 check, __u64 delta)
{
    return (__u16)~fold((__u64)(__u16)~check + delta);
}

/* ---- parsing --------------------------------------------------------------------------------- */

static __always_inline void copy4(__u8 *dst, const void *src)
{
    __builtin_memcpy(dst, src, 4);
}

static __always_inline void copy16(__u8 *dst, const void *src)
{
    __builtin_memcpy(dst, src, 16);
}

/* The ports of a transport header at `p` if 4 bytes are there (TCP/UDP/SCTP). */
static __always_inline int read_ports(void *p, void *end, __be16 *sport, __be16 *dport)
{
    if (p + 4 > end)
        return 0;
    *sport = *(__be16 *)p;
    *dport = *(__be16 *)(p + 2);
    return 1;
}

static __always_inline int is_port_protocol(__u8 proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* Ports, and TCP flags. */
static __always_inline void read_transport(__u8 *t, void *end, __u8 proto, struct pkt *pi)
{
    if ((void *)(t + 4) > end)
        return;
    pi->key.sport = *(__be16 *)t;
    pi->key.dport = *(__be16 *)(t + 2);
    pi->has_ports = 1;
    if (proto != IPPROTO_TCP)
        return;
    __u8 *f = t + 13;
    barrier_var(f); /* keep the checked pointer: clang would recompute data + l4 unchecked */
    if ((void *)(f + 1) > end)
        return;
    pi->tcp_flags = *f;
}

/* Returns 0 if the frame is parsed, else the PASS reason. */
static __always_inline int parse_ipv4(void *data, void *end, struct pkt *pi)
{
    __u8 *ip = data + pi->l3;
    if ((void *)(ip + 20) > end)
        return LVS_XDP_PASS_MALFORMED;
    if ((ip[0] >> 4) != 4)
        return LVS_XDP_PASS_MALFORMED;
    __u32 ihl = (ip[0] & 0xf) * 4;
    if (ihl < 20)
        return LVS_XDP_PASS_MALFORMED;
    __u32 total = bpf_ntohs(*(__be16 *)(ip + 2));
    if (total < ihl || data + pi->l3 + total > end)
        return LVS_XDP_PASS_MALFORMED;
    __u16 frag = bpf_ntohs(*(__be16 *)(ip + 6));
    pi->key.family = LVS_XDP_AF_INET;
    pi->key.protocol = ip[9];
    copy4(pi->key.saddr, ip + 12);
    copy4(pi->key.daddr, ip + 16);
    pi->ip_len = total;
    pi->l4 = pi->l3 + ihl;
    pi->ttl = ip[8];
    pi->tos = ip[1];
    pi->df = (frag & 0x4000) != 0;
    pi->fragment = (frag & 0x3fff) != 0;
    if (frag & 0x1fff)
        return 0; /* a later fragment: no transport header */
    __u8 *l4 = data + pi->l4;
    __u8 proto = ip[9];
    if (is_port_protocol(proto)) {
        read_transport(l4, end, proto, pi);
    } else if (proto == IPPROTO_ICMP && !pi->fragment) {
        /* K:ip_vs_core.c ip_vs_in_icmp: DEST_UNREACH, SOURCE_QUENCH, TIME_EXCEEDED. */
        if ((void *)(l4 + 8 + 20) > end)
            return 0;
        __u8 type = *(__u8 *)l4;
        if (type != 3 && type != 4 && type != 11)
            return 0;
        __u8 *q = l4 + 8;
        __u32 qihl = (q[0] & 0xf) * 4;
        if ((q[0] >> 4) != 4 || qihl < 20)
            return 0;
        if (bpf_ntohs(*(__be16 *)(q + 6)) & 0x1fff)
            return 0;
        if (!is_port_protocol(q[9]))
            return 0;
        pi->quote.family = LVS_XDP_AF_INET;
        pi->quote.protocol = q[9];
        copy4(pi->quote.saddr, q + 12);
        copy4(pi->quote.daddr, q + 16);
        pi->icmp_error = read_ports((void *)q + qihl, end, &pi->quote.sport, &pi->quote.dport);
    }
    return 0;
}

static __always_inline int parse_ipv6(void *data, void *end, struct pkt *pi)
{
    __u8 *ip = data + pi->l3;
    if ((void *)(ip + 40) > end)
        return LVS_XDP_PASS_MALFORMED;
    if ((ip[0] >> 4) != 6)
        return LVS_XDP_PASS_MALFORMED;
    __u32 plen = bpf_ntohs(*(__be16 *)(ip + 4));
    if (plen == 0 || data + pi->l3 + 40 + plen > end)
        return LVS_XDP_PASS_MALFORMED; /* jumbograms are not handled (LVSPacket drops them) */
    pi->key.family = LVS_XDP_AF_INET6;
    copy16(pi->key.saddr, ip + 8);
    copy16(pi->key.daddr, ip + 24);
    pi->ip_len = 40 + plen;
    pi->ttl = ip[7];
    pi->tos = (__u8)(bpf_ntohl(*(__be32 *)ip) >> 20);
    pi->df = 1;
    __u8 nh = ip[6];
    __u32 off = pi->l3 + 40;
    /* Extension headers (RFC 8200 §4): a few are walked; a longer chain leaves no ports. */
#pragma unroll
    for (int i = 0; i < 4; i++) {
        if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
            break;
        __u8 *h = data + off;
        if ((void *)(h + 8) > end)
            return 0;
        pi->ext_headers = 1;
        if (nh == 44) {
            __u16 fo = bpf_ntohs(*(__be16 *)(h + 2));
            if (fo & 0xfff9) /* offset or MF: RFC 6946 atomic fragments are whole packets */
                pi->fragment = 1;
            nh = h[0];
            off += 8;
            if (fo & 0xfff8) { /* a later fragment */
                pi->key.protocol = nh;
                pi->l4 = off;
                return 0;
            }
        } else if (nh == 51) {
            off += ((__u32)h[1] + 2) * 4;
            nh = h[0];
        } else {
            off += ((__u32)h[1] + 1) * 8;
            nh = h[0];
        }
        if (off > 512)
            return 0;
    }
    pi->key.protocol = nh;
    pi->l4 = off;
    if (nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51)
        return 0; /* chain too long for the program: lvsd's parser decides (address-level steering) */
    __u8 *l4 = data + (off & 0x3ff);
    if (is_port_protocol(nh)) {
        read_transport(l4, end, nh, pi);
    } else if (nh == 58 && !pi->fragment) {
        /* K:ip_vs_core.c ip_vs_in_icmp_v6: every error type (< 128). The quote's transport header
         * is read when it follows the quoted IPv6 header directly. */
        if ((void *)(l4 + 8 + 40) > end)
            return 0;
        if (*(__u8 *)l4 >= 128)
            return 0;
        __u8 *q = l4 + 8;
        if ((q[0] >> 4) != 6 || !is_port_protocol(q[6]))
            return 0;
        pi->quote.family = LVS_XDP_AF_INET6;
        pi->quote.protocol = q[6];
        copy16(pi->quote.saddr, q + 8);
        copy16(pi->quote.daddr, q + 24);
        pi->icmp_error = read_ports((void *)q + 40, end, &pi->quote.sport, &pi->quote.dport);
    }
    return 0;
}

/* ---- steering lookups ------------------------------------------------------------------------ */

static __always_inline __u32 addr_flags(__u8 family, const __u8 *addr)
{
    struct lvs_xdp_addr_key k;
    __builtin_memset(&k, 0, sizeof(k));
    k.family = family;
    __builtin_memcpy(k.addr, addr, 16);
    struct lvs_xdp_addr_value *v = bpf_map_lookup_elem(&lvs_addrs, &k);
    return v ? v->flags : 0;
}

/* addr:port (exact port, then port 0: every port) in a map of services' shape. */
static __always_inline int in_service_map(void *map, __u8 family, __u8 proto, const __u8 *addr, __be16 port)
{
    struct lvs_xdp_service_key k;
    __builtin_memset(&k, 0, sizeof(k));
    k.family = family;
    k.protocol = proto;
    k.port = port;
    __builtin_memcpy(k.addr, addr, 16);
    if (bpf_map_lookup_elem(map, &k))
        return 1;
    k.port = 0;
    return bpf_map_lookup_elem(map, &k) != 0;
}

/* A virtual service for addr:port. */
static __always_inline int is_service(__u8 family, __u8 proto, const __u8 *addr, __be16 port)
{
    return in_service_map(&lvs_services, family, proto, addr, port);
}

/* A NAT/FULLNAT real server's reply from addr:port (port 0: a server of a port-0 or firewall-mark
 * service, which answers from the client's port). */
static __always_inline int is_reply_source(__u8 family, __u8 proto, const __u8 *addr, __be16 port)
{
    return in_service_map(&lvs_reply_sources, family, proto, addr, port);
}

/* ---- whole-payload sums ---------------------------------------------------------------------- */

/* The sum of an address's 16-bit words, host order (4 or 16 bytes at a). */
static __always_inline __u64 addr_sum(const __u8 *a, int v6)
{
    __u64 s = ((__u32)a[0] << 8 | a[1]) + ((__u32)a[2] << 8 | a[3]);
    if (v6) {
#pragma unroll
        for (int i = 4; i < 16; i += 2)
            s += (__u32)a[i] << 8 | a[i + 1];
    }
    return s;
}

/* The one's complement sum of `len` bytes at packet offset `off`, folded to 16 bits in host order
 * (RFC 1071; an odd last byte padded with zero), or -1; in 256-byte chunks (bpf_csum_diff takes
 * at most 512). bpf_csum_diff sums memory order; the fold of that is the byte swap of the
 * host-order fold (RFC 1071 §2(B)). A global function: the verifier checks its loop once. */
__attribute__((noinline)) __s64 lvs_sum_region(struct xdp_md *ctx, __u32 off, __u32 len)
{
    __u8 buf[256];
    __s64 s = 0;
    for (int i = 0; i < 40; i++) { /* 40 × 256 bytes: a 9000-byte jumbo frame and more */
        if (len == 0)
            break;
        if (len >= sizeof(buf)) {
            if (bpf_xdp_load_bytes(ctx, off, buf, sizeof(buf)))
                return -1;
            s = bpf_csum_diff(0, 0, (__be32 *)buf, sizeof(buf), (__wsum)s);
            off += sizeof(buf);
            len -= sizeof(buf);
        } else {
            __builtin_memset(buf, 0, sizeof(buf));
            __u32 n = len;
            if (n == 0 || n >= sizeof(buf))
                return -1;
            if (bpf_xdp_load_bytes(ctx, off, buf, n))
                return -1;
            __u32 r = (n + 3) & ~3u; /* the zero padding is part of the sum: RFC 1071's pad */
            if (r > sizeof(buf))
                return -1;
            s = bpf_csum_diff(0, 0, (__be32 *)buf, r, (__wsum)s);
            len = 0;
        }
        if (s < 0)
            return -1;
    }
    if (len)
        return -1;
    return bpf_ntohs(fold((__u32)s));
}

/* ---- the fast path --------------------------------------------------------------------------- */

/* True if the IPv4 header at `ip` (ihl bytes) sums to 0xFFFF (LVSPacket: verifyIPv4Header). */
static __always_inline int ipv4_header_ok(__u8 *ip, void *end, __u32 ihl)
{
    __u64 s = 0;
#pragma unroll
    for (int i = 0; i < 15; i++) {
        if ((__u32)i * 4 >= ihl)
            break;
        if ((void *)(ip + i * 4 + 4) > end)
            return 0;
        s += *(__u32 *)(ip + i * 4);
    }
    return fold(s) == 0xffff;
}

static __always_inline __u16 tunnel_overhead(const struct lvs_xdp_flow *f)
{
    __u16 ip = (f->flags & LVS_XDP_FLOW_OUTER_V6) ? 40 : 20;
    if (f->method == LVS_XDP_METHOD_TUN_GUE)
        return ip + 12;
    if (f->method == LVS_XDP_METHOD_TUN_GRE)
        return ip + ((f->flags & LVS_XDP_FLOW_TUN_CSUM) ? 8 : 4);
    if (f->method == LVS_XDP_METHOD_TUN_IPIP)
        return ip;
    return 0;
}

/* The frame of an established flow: checks, then rewrite and transmit; anything the fast path does
 * not do exactly as lvsd would goes to lvsd untouched. */
static __always_inline int fast_path(struct xdp_md *ctx, struct pkt *pi, struct lvs_xdp_flow *f)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    int v6 = pi->key.family == LVS_XDP_AF_INET6;
    __u8 proto = pi->key.protocol;

    /* lvsd keeps the TCP state machine: SYN, FIN and RST go to it (K:ip_vs_proto_tcp.c). */
    if (proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)))
        return steer(ctx, LVS_XDP_SLOW_TCP_FLAGS);
    if (v6 && pi->ext_headers)
        return steer(ctx, LVS_XDP_SLOW_UNSUPPORTED);

    /* What LVSPacket's parser would refuse goes to lvsd, which counts the reason. */
    __u32 l4len = pi->ip_len - (pi->l4 - pi->l3);
    void *l4 = data + (pi->l4 & 0xff);
    if (proto == IPPROTO_TCP) {
        if (l4 + 20 > end)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
        __u32 doff = (*(__u8 *)(l4 + 12) >> 4) * 4;
        if (doff < 20 || doff > l4len)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
    } else {
        if (l4 + 8 > end)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
        __u32 ulen = bpf_ntohs(*(__be16 *)(l4 + 4));
        if (ulen < 8 || ulen > l4len)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
    }
    /* A checksum field holding exactly the pseudo-header sum is a partial checksum (a local
     * sender's tx checksum offload on a veth; XDP gets no CHECKSUM_PARTIAL flag): an incremental
     * update would send it wrong. lvsd verifies the whole sum and completes it (docs/xdp.md). A
     * complete checksum equal to it (odds 1 in 65,535) only costs this packet the slow path. */
    {
        __u32 len = l4len;
        __u16 field;
        if (proto == IPPROTO_TCP) {
            field = bpf_ntohs(*(__be16 *)(l4 + 16));
        } else {
            len = bpf_ntohs(*(__be16 *)(l4 + 4));
            field = bpf_ntohs(*(__be16 *)(l4 + 6));
        }
        __u64 ps = addr_sum(pi->key.saddr, v6) + addr_sum(pi->key.daddr, v6) + proto + len;
        if (field != 0 && field == fold(ps))
            return steer(ctx, LVS_XDP_SLOW_PARTIAL_CSUM);
    }
    if (!v6) {
        __u8 *ip = data + (pi->l3 & 0x1f);
        if (!ipv4_header_ok(ip, end, pi->l4 - pi->l3))
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
        /* K:route.c martian sources (LVSPacket drops them). */
        __u8 s0 = pi->key.saddr[0];
        if ((s0 >> 4) == 0xe || s0 == 127 || s0 == 0 || s0 == 0xff)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
    } else {
        if (pi->key.saddr[0] == 0xff)
            return steer(ctx, LVS_XDP_SLOW_MALFORMED);
    }

    /* K:ip_vs_xmit.c decrement_ttl: at 1, lvsd answers time exceeded. */
    if (pi->ttl <= 1)
        return steer(ctx, LVS_XDP_SLOW_TTL);

    __u8 method = f->method;
    int tunnel = method == LVS_XDP_METHOD_TUN_IPIP || method == LVS_XDP_METHOD_TUN_GUE ||
                 method == LVS_XDP_METHOD_TUN_GRE;
    int outer_v6 = (f->flags & LVS_XDP_FLOW_OUTER_V6) != 0;
    /* A UDP checksum of 0 is recomputed in full under NAT (K:ip_vs_proto_udp.c udp_snat_handler). */
    int udp_recompute = 0;
    if (method == LVS_XDP_METHOD_NAT) {
        if (proto == IPPROTO_UDP && *(__u16 *)(l4 + 6) == 0)
            udp_recompute = 1;
    } else if (!tunnel && method != LVS_XDP_METHOD_DR) {
        return steer(ctx, LVS_XDP_SLOW_UNSUPPORTED);
    }

    /* K:ip_vs_xmit.c ensure_mtu_is_adequate: fragmentation and frag-needed are lvsd's. */
    __u32 overhead = tunnel_overhead(f);
    __u32 mtu = f->mtu;
    if (tunnel && mtu < overhead + (outer_v6 ? 1280 : 68))
        return steer(ctx, LVS_XDP_SLOW_MTU);
    if (pi->ip_len + overhead > mtu)
        return steer(ctx, LVS_XDP_SLOW_MTU);

    __u32 ifindex = f->ifindex;
    int tx = ifindex == ctx->ingress_ifindex;
    if (!tx && !bpf_map_lookup_elem(&lvs_tx_ports, &ifindex))
        return steer(ctx, LVS_XDP_SLOW_NO_EGRESS);

    /* Room for the new link header and encapsulation; the IP packet stays where it is. */
    __u32 l2out = (f->flags & LVS_XDP_FLOW_VLAN) ? 18 : 14;
    int grow = (int)(l2out + overhead) - (int)pi->l3;
    if (grow != 0 && bpf_xdp_adjust_head(ctx, -grow))
        return steer(ctx, LVS_XDP_SLOW_ADJUST_FAILED);
    /* Ethernet padding beyond the IP packet is not forwarded. */
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    int trim = (int)(end - data) - (int)(l2out + overhead + pi->ip_len);
    if (trim > 0)
        bpf_xdp_adjust_tail(ctx, -trim);

    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    __u32 inner_off = l2out + overhead; /* ≤ 18 + 52 */
    if (inner_off > 80)
        return XDP_ABORTED;
    __u8 *ip = data + inner_off;
    __u8 *eth = data;
    if ((void *)(ip + 20) > end || (void *)(eth + 14) > end)
        return XDP_ABORTED;
    __u32 ihl = pi->l4 - pi->l3;
    if (ihl > 60)
        return XDP_ABORTED;
    __u8 *th = ip + ihl;

    /* The IP header: addresses (NAT/FULLNAT) and TTL, with the header checksum. */
    if (!v6) {
        __u64 ip_delta = 0xfeff; /* TTL − 1: (~(ttl<<8|p) + (ttl−1)<<8|p) as Swift sums it */
        if (method == LVS_XDP_METHOD_NAT) {
            ip_delta += f->l3_delta;
            if (f->flags & LVS_XDP_FLOW_REWRITE_SRC)
                __builtin_memcpy(ip + 12, f->new_saddr, 4);
            if (f->flags & LVS_XDP_FLOW_REWRITE_DST)
                __builtin_memcpy(ip + 16, f->new_daddr, 4);
        }
        ip[8] -= 1;
        __u16 c = bpf_ntohs(*(__be16 *)(ip + 10));
        *(__be16 *)(ip + 10) = bpf_htons(csum_apply(c, ip_delta));
    } else {
        if ((void *)(ip + 40) > end)
            return XDP_ABORTED;
        if (method == LVS_XDP_METHOD_NAT) {
            if (f->flags & LVS_XDP_FLOW_REWRITE_SRC)
                __builtin_memcpy(ip + 8, f->new_saddr, 16);
            if (f->flags & LVS_XDP_FLOW_REWRITE_DST)
                __builtin_memcpy(ip + 24, f->new_daddr, 16);
        }
        ip[7] -= 1;
    }

    /* The transport header: ports and checksum (NAT/FULLNAT). */
    if (method == LVS_XDP_METHOD_NAT) {
        if ((void *)(th + 8) > end)
            return XDP_ABORTED;
        if (f->flags & LVS_XDP_FLOW_REWRITE_SRC)
            *(__be16 *)th = f->new_sport;
        if (f->flags & LVS_XDP_FLOW_REWRITE_DST)
            *(__be16 *)(th + 2) = f->new_dport;
        if (proto == IPPROTO_TCP) {
            if ((void *)(th + 18) > end)
                return XDP_ABORTED;
            __u16 c = bpf_ntohs(*(__be16 *)(th + 16));
            *(__be16 *)(th + 16) = bpf_htons(csum_apply(c, f->l4_delta));
        } else if (!udp_recompute) {
            __u16 c = csum_apply(bpf_ntohs(*(__be16 *)(th + 6)), f->l4_delta);
            /* A UDP checksum that computes to 0 goes out as 0xFFFF (RFC 768, CSUM_MANGLED_0). */
            *(__be16 *)(th + 6) = bpf_htons(c == 0 ? 0xffff : c);
        }
    }

    /* The tunnel header (K:ip_vs_xmit.c ip_vs_tunnel_xmit): outer TTL = inner TTL after the
     * decrement, DS copied with CE → ECT(0) (RFC 6040), DF from an IPv4 inner packet. */
    __u16 outer_proto_eth = v6 ? 0x86dd : 0x0800;
    if (tunnel) {
        __u8 *o = data + l2out;
        if ((void *)(o + 52) > end)
            return XDP_ABORTED;
        __u8 inner_proto = v6 ? 41 : 4;
        __u8 ecn = pi->tos & 3;
        __u8 tos = (pi->tos & 0xfc) | (ecn == 3 ? 2 : ecn);
        __u8 ttl = pi->ttl - 1;
        __u32 outer_total = overhead + pi->ip_len;
        __u8 oproto = method == LVS_XDP_METHOD_TUN_GUE ? IPPROTO_UDP
                      : method == LVS_XDP_METHOD_TUN_GRE ? IPPROTO_GRE
                                                         : inner_proto;
        __u8 *h;
        if (!outer_v6) {
            __u32 id = __sync_fetch_and_add(&f->ip_id, 1);
            o[0] = 0x45;
            o[1] = tos;
            *(__be16 *)(o + 2) = bpf_htons((__u16)outer_total);
            *(__be16 *)(o + 4) = bpf_htons((__u16)id);
            *(__be16 *)(o + 6) = bpf_htons((!v6 && pi->df) ? 0x4000 : 0);
            o[8] = ttl;
            o[9] = oproto;
            *(__u16 *)(o + 10) = 0;
            __builtin_memcpy(o + 12, f->new_saddr, 4);
            __builtin_memcpy(o + 16, f->new_daddr, 4);
            __u64 s = 0;
#pragma unroll
            for (int i = 0; i < 5; i++)
                s += *(__u32 *)(o + i * 4);
            /* The sum of the memory image folds to the byte-swapped sum: complement, then store. */
            *(__u16 *)(o + 10) = (__u16)~fold(s);
            h = o + 20;
            outer_proto_eth = 0x0800;
        } else {
            *(__be32 *)o = bpf_htonl(6u << 28 | (__u32)tos << 20);
            *(__be16 *)(o + 4) = bpf_htons((__u16)(outer_total - 40));
            o[6] = oproto;
            o[7] = ttl;
            __builtin_memcpy(o + 8, f->new_saddr, 16);
            __builtin_memcpy(o + 24, f->new_daddr, 16);
            h = o + 40;
            outer_proto_eth = 0x86dd;
        }
        if ((void *)(h + 12) > end)
            return XDP_ABORTED;
        if (method == LVS_XDP_METHOD_TUN_GUE) {
            *(__be16 *)h = f->tun_sport;
            *(__be16 *)(h + 2) = f->tun_dport;
            *(__be16 *)(h + 4) = bpf_htons((__u16)(12 + pi->ip_len));
            *(__u16 *)(h + 6) = 0;
            h[8] = 0; /* GUE version 0, no control, no options */
            h[9] = inner_proto;
            *(__u16 *)(h + 10) = 0;
        } else if (method == LVS_XDP_METHOD_TUN_GRE) {
            *(__be16 *)h = bpf_htons((f->flags & LVS_XDP_FLOW_TUN_CSUM) ? 0x8000 : 0);
            *(__be16 *)(h + 2) = bpf_htons(v6 ? 0x86dd : 0x0800);
            if (f->flags & LVS_XDP_FLOW_TUN_CSUM)
                *(__u32 *)(h + 4) = 0;
        }
    }

    /* Checksums over the whole payload: GUE with a checksum (always over IPv6, RFC 8200 §8.1),
     * checksummed GRE (RFC 2784), a NAT'd UDP datagram whose checksum was 0. The field is 0 here;
     * the sum is LVSPacket's InternetChecksum.checksum over the same bytes. */
    if (tunnel && (method == LVS_XDP_METHOD_TUN_GUE ? (outer_v6 || (f->flags & LVS_XDP_FLOW_TUN_CSUM))
                                                    : (method == LVS_XDP_METHOD_TUN_GRE &&
                                                       (f->flags & LVS_XDP_FLOW_TUN_CSUM)))) {
        __u32 hoff = l2out + (outer_v6 ? 40 : 20);
        __u32 span = overhead - (outer_v6 ? 40 : 20) + pi->ip_len;
        __s64 sum = lvs_sum_region(ctx, hoff, span);
        if (sum < 0)
            return XDP_ABORTED;
        data = PKT_DATA(ctx);
        end = PKT_END(ctx);
        __u8 *h = data + (hoff & 0x7f);
        if ((void *)(h + 8) > end)
            return XDP_ABORTED;
        if (method == LVS_XDP_METHOD_TUN_GUE) {
            __u64 ps = addr_sum(f->new_saddr, outer_v6) + addr_sum(f->new_daddr, outer_v6) + IPPROTO_UDP + span;
            __u16 c = (__u16)~fold(ps + (__u64)sum);
            *(__be16 *)(h + 6) = bpf_htons(c == 0 ? 0xffff : c);
        } else {
            *(__be16 *)(h + 4) = bpf_htons((__u16)~fold((__u64)sum));
        }
    }
    if (udp_recompute) {
        __u32 toff = inner_off + ihl;
        data = PKT_DATA(ctx);
        end = PKT_END(ctx);
        __u8 *u = data + (toff & 0xff);
        if ((void *)(u + 8) > end)
            return XDP_ABORTED;
        __u32 ulen = bpf_ntohs(*(__be16 *)(u + 4));
        __s64 sum = lvs_sum_region(ctx, toff, ulen);
        if (sum < 0)
            return XDP_ABORTED;
        data = PKT_DATA(ctx);
        end = PKT_END(ctx);
        __u8 *ip2 = data + inner_off;
        u = data + (toff & 0xff);
        if ((void *)(ip2 + 40) > end || (void *)(u + 8) > end)
            return XDP_ABORTED;
        __u64 ps = v6 ? addr_sum(ip2 + 8, 1) + addr_sum(ip2 + 24, 1) : addr_sum(ip2 + 12, 0) + addr_sum(ip2 + 16, 0);
        __u16 c = (__u16)~fold(ps + IPPROTO_UDP + ulen + (__u64)sum);
        *(__be16 *)(u + 6) = bpf_htons(c == 0 ? 0xffff : c);
    }
    data = PKT_DATA(ctx);
    end = PKT_END(ctx);
    eth = data;
    if ((void *)(eth + 14) > end)
        return XDP_ABORTED;

    /* The link header. */
    __builtin_memcpy(eth, f->dmac, 6);
    __builtin_memcpy(eth + 6, f->smac, 6);
    if (f->flags & LVS_XDP_FLOW_VLAN) {
        if ((void *)(eth + 18) > end)
            return XDP_ABORTED;
        *(__be16 *)(eth + 12) = bpf_htons(0x8100);
        *(__be16 *)(eth + 14) = bpf_htons(f->vlan_tci);
        *(__be16 *)(eth + 16) = bpf_htons(outer_proto_eth);
    } else {
        *(__be16 *)(eth + 12) = bpf_htons(outer_proto_eth);
    }

    /* State and counters: the flow's (lvsd reads last_seen for timeouts) and the server's. */
    __u64 bytes = pi->ip_len;
    /* CLOCK_MONOTONIC_COARSE (one tick of resolution): bpf_ktime_get_ns cost ~35 ns a packet here. */
    f->last_seen_ns = bpf_ktime_get_coarse_ns();
    __sync_fetch_and_add(&f->packets, 1);
    __sync_fetch_and_add(&f->bytes, bytes);
    __u32 slot = f->server_slot;
    struct lvs_xdp_server_stats *st = bpf_map_lookup_elem(&lvs_server_stats, &slot);
    if (st) {
        if (f->flags & LVS_XDP_FLOW_REPLY) {
            st->packets_out += 1;
            st->bytes_out += bytes;
        } else {
            st->packets_in += 1;
            st->bytes_in += bytes;
        }
    }
    if (tx) {
        count(LVS_XDP_FAST_TX);
        return XDP_TX;
    }
    count(LVS_XDP_FAST_REDIRECT);
    return bpf_redirect_map(&lvs_tx_ports, ifindex, 0);
}

/* ---- the program ----------------------------------------------------------------------------- */

SEC("xdp")
int lvs_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    count(LVS_XDP_RX);

    struct pkt pi;
    __builtin_memset(&pi, 0, sizeof(pi));
    if (data + 14 > end)
        return pass(LVS_XDP_PASS_MALFORMED);
    __be16 et = *(__be16 *)(data + 12);
    pi.l3 = 14;
    /* One 802.1Q tag, as LVSPacket's parser; QinQ it drops (stacked_vlan): the kernel decides. */
    if (et == ETH_P_8021Q_BE) {
        if (data + 18 > end)
            return pass(LVS_XDP_PASS_MALFORMED);
        et = *(__be16 *)(data + 16);
        if (et == ETH_P_8021Q_BE || et == ETH_P_8021AD_BE)
            return pass(LVS_XDP_PASS_STACKED_VLAN);
        pi.l3 = 18;
    } else if (et == ETH_P_8021AD_BE) {
        return pass(LVS_XDP_PASS_STACKED_VLAN);
    }
    int r;
    if (et == bpf_htons(ETH_P_IP))
        r = parse_ipv4(data, end, &pi);
    else if (et == bpf_htons(ETH_P_IPV6))
        r = parse_ipv6(data, end, &pi);
    else
        return pass(LVS_XDP_PASS_NOT_IP);
    if (r)
        return pass(r);

    __u8 family = pi.key.family;
    __u8 proto = pi.key.protocol;

    /* An established flow's packet (the frame's own 5-tuple). */
    if (pi.has_ports && !pi.fragment && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
        struct lvs_xdp_flow *f = bpf_map_lookup_elem(&lvs_flows, &pi.key);
        if (f)
            return fast_path(ctx, &pi, f);
    }

    /* An ICMP error quoting a packet of a service (VIP:vport → client, quoted as sent) or one
     * sent to a NAT/FULLNAT real server (→ RS:rport). */
    if (pi.icmp_error) {
        if (is_service(family, pi.quote.protocol, pi.quote.saddr, pi.quote.sport)) {
            if (addr_flags(family, pi.quote.saddr) & LVS_XDP_ADDR_PASSIVE)
                return pass(LVS_XDP_PASS_PASSIVE);
            return steer(ctx, LVS_XDP_STEER_ICMP);
        }
        if (is_reply_source(family, pi.quote.protocol, pi.quote.daddr, pi.quote.dport))
            return steer(ctx, LVS_XDP_STEER_ICMP);
        return pass(LVS_XDP_PASS_NOT_OURS);
    }

    /* Without ports (a later fragment, or headers the program does not walk): by address. */
    if (!pi.has_ports) {
        if (!pi.fragment && !pi.ext_headers)
            return pass(LVS_XDP_PASS_NOT_OURS);
        __u32 df = addr_flags(family, pi.key.daddr);
        if (df & LVS_XDP_ADDR_VIP) {
            if (df & LVS_XDP_ADDR_PASSIVE)
                return pass(LVS_XDP_PASS_PASSIVE);
            return steer(ctx, LVS_XDP_STEER_FRAGMENT);
        }
        if (addr_flags(family, pi.key.saddr) & LVS_XDP_ADDR_REPLY_SOURCE)
            return steer(ctx, LVS_XDP_STEER_FRAGMENT);
        return pass(LVS_XDP_PASS_NOT_OURS);
    }

    if (is_service(family, proto, pi.key.daddr, pi.key.dport)) {
        if (addr_flags(family, pi.key.daddr) & LVS_XDP_ADDR_PASSIVE)
            return pass(LVS_XDP_PASS_PASSIVE);
        if (!pi.fragment && shed_new(ctx, &pi)) {
            count(LVS_XDP_SHED_NEW);
            return XDP_DROP;
        }
        return steer(ctx, pi.fragment ? LVS_XDP_STEER_FRAGMENT : LVS_XDP_STEER_SERVICE);
    }
    if (is_reply_source(family, proto, pi.key.saddr, pi.key.sport))
        return steer(ctx, pi.fragment ? LVS_XDP_STEER_FRAGMENT : LVS_XDP_STEER_REPLY);
    return pass(LVS_XDP_PASS_NOT_OURS);
}
