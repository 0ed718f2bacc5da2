// C baseline for packet rewrites (compiled -O2): what a careful C director does for DR and NAT.
#ifndef CPACKETBASELINE_H
#define CPACKETBASELINE_H
#include <stddef.h>
#include <stdint.h>

/// The flow a parse extracts (network byte order), so the compiler cannot drop the parse.
struct cpb_flow {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint8_t proto, ttl, tcp_flags, pad;
    uint32_t l3, l4;
};

/// Parses Ethernet (+ one 802.1Q tag) / IPv4 (version, IHL, header checksum, lengths, martian
/// source, fragments) / TCP or UDP header bounds. Returns 0 and fills `flow`, or -1.
int cpb_parse_v4(const uint8_t *frame, size_t len, struct cpb_flow *flow);

/// DR: TTL decrement with an incremental header checksum update (RFC 1624) and new MACs
/// (`macs` = destination then source, 12 bytes). Frame already parsed into `flow`.
/// Returns 0, or -2 when the TTL would expire.
int cpb_dr_rewrite(uint8_t *frame, const struct cpb_flow *flow, const uint8_t *macs);

/// NAT inbound: destination address and port rewritten (network byte order), TTL decremented,
/// IPv4 and TCP/UDP checksums updated incrementally, new MACs. Returns 0, or -2 / -3.
int cpb_nat_in_rewrite(uint8_t *frame, const struct cpb_flow *flow, uint32_t daddr, uint16_t dport,
                       const uint8_t *macs);

/// NAT outbound: source address and port rewritten, as above.
int cpb_nat_out_rewrite(uint8_t *frame, const struct cpb_flow *flow, uint32_t saddr, uint16_t sport,
                        const uint8_t *macs);

/// Parse + DR in one call. Returns 0 or a negative error.
int cpb_dr_v4(uint8_t *frame, size_t len, const uint8_t *macs, struct cpb_flow *flow);

/// Parse + NAT inbound in one call.
int cpb_nat_in_v4(uint8_t *frame, size_t len, uint32_t daddr, uint16_t dport, const uint8_t *macs,
                  struct cpb_flow *flow);

/// Parse + NAT outbound in one call.
int cpb_nat_out_v4(uint8_t *frame, size_t len, uint32_t saddr, uint16_t sport, const uint8_t *macs,
                   struct cpb_flow *flow);

/// Which rewrite a batch applies.
enum cpb_op { CPB_DR = 0, CPB_NAT_IN = 1, CPB_NAT_OUT = 2 };

/// Parse + rewrite `n` frames laid out `stride` bytes apart starting at `base` (each `len` bytes):
/// the whole loop in C, as the Swift benchmark loops in Swift. Returns the number forwarded.
size_t cpb_batch(enum cpb_op op, uint8_t *base, size_t stride, size_t len, size_t n, uint32_t addr,
                 uint16_t port, const uint8_t *macs, struct cpb_flow *flows);

/// Rewrite only, with `flows` from an earlier parse. Returns the number forwarded.
size_t cpb_batch_rewrite(enum cpb_op op, uint8_t *base, size_t stride, size_t n, uint32_t addr, uint16_t port,
                         const uint8_t *macs, const struct cpb_flow *flows);

#endif
