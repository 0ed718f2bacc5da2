// C baseline for packet rewrites (compiled -O2): the same DR and NAT work LVSPacket does, in plain C.
#include "CPacketBaseline.h"
#include <arpa/inet.h>
#include <string.h>

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* One's complement sum of n bytes in memory order, unfolded. */
static inline uint64_t sum_bytes(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    while (n >= 4) { s += ld32(p); p += 4; n -= 4; }
    if (n >= 2) { s += ld16(p); p += 2; n -= 2; }
    if (n) s += *p;  /* little-endian memory order: the byte is the low half */
    return s;
}

static inline uint16_t fold(uint64_t s) {
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

int cpb_parse_v4(const uint8_t *f, size_t len, struct cpb_flow *flow) {
    if (len < 14) return -1;
    size_t l3 = 14;
    uint16_t et = be16(f + 12);
    if (et == 0x8100) {
        if (len < 18) return -1;
        et = be16(f + 16);
        l3 = 18;
    }
    if (et != 0x0800 || len - l3 < 20) return -1;
    const uint8_t *ip = f + l3;
    if ((ip[0] >> 4) != 4) return -1;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ihl < 20 || l3 + ihl > len) return -1;
    if (fold(sum_bytes(ip, ihl)) != 0xffff) return -1;
    size_t tot = be16(ip + 2);
    if (tot < ihl || l3 + tot > len) return -1;
    uint32_t saddr = ld32(ip + 12);
    uint8_t s0 = ip[12];
    if ((s0 >> 4) == 0xE || s0 == 127 || saddr == 0xffffffffu) return -1;
    if (be16(ip + 6) & 0x3fff) return -1; /* fragments: not on the fast path */
    size_t l4 = l3 + ihl, l4len = tot - ihl;
    const uint8_t *t = f + l4;
    flow->proto = ip[9];
    flow->ttl = ip[8];
    flow->tcp_flags = 0;
    if (ip[9] == 6) {
        if (l4len < 20) return -1;
        size_t doff = (size_t)(t[12] >> 4) * 4;
        if (doff < 20 || doff > l4len) return -1;
        flow->tcp_flags = t[13];
    } else if (ip[9] == 17) {
        if (l4len < 8) return -1;
        size_t ulen = be16(t + 4);
        if (ulen < 8 || ulen > l4len) return -1;
    } else {
        return -1;
    }
    flow->saddr = saddr;
    flow->daddr = ld32(ip + 16);
    flow->sport = ld16(t);
    flow->dport = ld16(t + 2);
    flow->l3 = (uint32_t)l3;
    flow->l4 = (uint32_t)l4;
    return 0;
}

static inline void set_macs(uint8_t *f, const uint8_t *macs) { memcpy(f, macs, 12); }

int cpb_dr_rewrite(uint8_t *f, const struct cpb_flow *flow, const uint8_t *macs) {
    uint8_t *ip = f + flow->l3;
    if (ip[8] <= 1) return -2;
    uint16_t old = ld16(ip + 8);
    uint16_t new = htons((uint16_t)(ntohs(old) - 0x100));
    st16(ip + 8, new);
    uint64_t s = (uint16_t)~ld16(ip + 10);
    s += (uint16_t)~old;
    s += new;
    st16(ip + 10, (uint16_t)~fold(s));
    set_macs(f, macs);
    return 0;
}

static inline int nat_rewrite(uint8_t *f, const struct cpb_flow *flow, int dst, uint32_t addr, uint16_t port,
                              const uint8_t *macs) {
    uint8_t *ip = f + flow->l3;
    uint8_t *t = f + flow->l4;
    if (ip[8] <= 1) return -2;
    int aoff = dst ? 16 : 12, poff = dst ? 2 : 0;
    uint32_t oa = ld32(ip + aoff);
    uint16_t op = ld16(t + poff);
    uint16_t ottl = ld16(ip + 8);
    uint16_t nttl = htons((uint16_t)(ntohs(ottl) - 0x100));
    st16(ip + 8, nttl);
    /* IPv4 header: address and TTL. */
    uint64_t s = (uint16_t)~ld16(ip + 10);
    s += (uint32_t)~oa;
    s += addr;
    s += (uint16_t)~ottl;
    s += nttl;
    st16(ip + 10, (uint16_t)~fold(s));
    st32(ip + aoff, addr);
    st16(t + poff, port);
    /* Transport: pseudo-header address and port. */
    int coff = flow->proto == 6 ? 16 : 6;
    uint16_t c = ld16(t + coff);
    if (flow->proto == 17 && c == 0) { set_macs(f, macs); return 0; }
    uint64_t u = (uint16_t)~c;
    u += (uint32_t)~oa;
    u += addr;
    u += (uint16_t)~op;
    u += port;
    uint16_t n = (uint16_t)~fold(u);
    if (flow->proto == 17 && n == 0) n = 0xffff;
    st16(t + coff, n);
    set_macs(f, macs);
    return 0;
}

int cpb_nat_in_rewrite(uint8_t *f, const struct cpb_flow *flow, uint32_t daddr, uint16_t dport, const uint8_t *macs) {
    return nat_rewrite(f, flow, 1, daddr, dport, macs);
}

int cpb_nat_out_rewrite(uint8_t *f, const struct cpb_flow *flow, uint32_t saddr, uint16_t sport, const uint8_t *macs) {
    return nat_rewrite(f, flow, 0, saddr, sport, macs);
}

int cpb_dr_v4(uint8_t *f, size_t len, const uint8_t *macs, struct cpb_flow *flow) {
    if (cpb_parse_v4(f, len, flow)) return -1;
    return cpb_dr_rewrite(f, flow, macs);
}

int cpb_nat_in_v4(uint8_t *f, size_t len, uint32_t daddr, uint16_t dport, const uint8_t *macs, struct cpb_flow *flow) {
    if (cpb_parse_v4(f, len, flow)) return -1;
    return nat_rewrite(f, flow, 1, daddr, dport, macs);
}

int cpb_nat_out_v4(uint8_t *f, size_t len, uint32_t saddr, uint16_t sport, const uint8_t *macs, struct cpb_flow *flow) {
    if (cpb_parse_v4(f, len, flow)) return -1;
    return nat_rewrite(f, flow, 0, saddr, sport, macs);
}

size_t cpb_batch(enum cpb_op op, uint8_t *base, size_t stride, size_t len, size_t n, uint32_t addr, uint16_t port,
                 const uint8_t *macs, struct cpb_flow *flows) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *f = base + i * stride;
        if (cpb_parse_v4(f, len, &flows[i])) continue;
        int r;
        switch (op) {
        case CPB_DR: r = cpb_dr_rewrite(f, &flows[i], macs); break;
        case CPB_NAT_IN: r = nat_rewrite(f, &flows[i], 1, addr, port, macs); break;
        default: r = nat_rewrite(f, &flows[i], 0, addr, port, macs); break;
        }
        ok += r == 0;
    }
    return ok;
}

size_t cpb_batch_rewrite(enum cpb_op op, uint8_t *base, size_t stride, size_t n, uint32_t addr, uint16_t port,
                         const uint8_t *macs, const struct cpb_flow *flows) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *f = base + i * stride;
        int r;
        switch (op) {
        case CPB_DR: r = cpb_dr_rewrite(f, &flows[i], macs); break;
        case CPB_NAT_IN: r = nat_rewrite(f, &flows[i], 1, addr, port, macs); break;
        default: r = nat_rewrite(f, &flows[i], 0, addr, port, macs); break;
        }
        ok += r == 0;
    }
    return ok;
}
