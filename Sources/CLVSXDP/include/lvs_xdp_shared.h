/* The structs the XDP program (bpf/lvs_xdp.bpf.c) and lvsd (Swift, through CLVSXDP) share: map keys,
 * map values and counter indices. Defined once, here; plain fixed-width fields, no pointers.
 *
 * Conventions: addresses are 16 bytes in network order (IPv4 in the first 4, the rest 0); ports are
 * network order (__be16); everything else is host order. Keys must be zeroed before they are
 * filled (padding is part of a hash key).
 */
#ifndef LVS_XDP_SHARED_H
#define LVS_XDP_SHARED_H

#include <linux/types.h>

#define LVS_XDP_AF_INET 2
#define LVS_XDP_AF_INET6 10

/* ---- lvs_services: HASH  lvs_xdp_service_key → lvs_xdp_service_value --------------------------- */
/* A virtual service: VIP, port (0 = every port, as ipvsadm's port 0 / persistent port 0), protocol. */
struct lvs_xdp_service_key {
    __u8 family;   /* LVS_XDP_AF_INET / LVS_XDP_AF_INET6 */
    __u8 protocol; /* 6 TCP, 17 UDP, 132 SCTP */
    __be16 port;
    __u8 addr[16];
};
struct lvs_xdp_service_value {
    __u32 flags; /* reserved, 0 */
    __u32 id;    /* lvsd's service index, for its own use */
};

/* ---- lvs_reply_sources: HASH  lvs_xdp_service_key → lvs_xdp_service_value --------------------- */
/* A NAT or FULLNAT real server: frames FROM addr:port (protocol) are replies lvsd rewrites. */

/* ---- lvs_addrs: HASH  lvs_xdp_addr_key → lvs_xdp_addr_value ------------------------------------ */
/* Every address of the two tables above, with flags: used for later fragments (which carry no
 * ports) and for passive VIPs (a VRRP backup's VIPs are left to the kernel). */
struct lvs_xdp_addr_key {
    __u8 family;
    __u8 pad[3];
    __u8 addr[16];
};
#define LVS_XDP_ADDR_VIP 1u          /* the address of at least one virtual service */
#define LVS_XDP_ADDR_PASSIVE 2u      /* a passive VIP: its frames are XDP_PASSed to the kernel */
#define LVS_XDP_ADDR_REPLY_SOURCE 4u /* the address of a NAT/FULLNAT real server */
struct lvs_xdp_addr_value {
    __u32 flags;
};

/* ---- lvs_flows: HASH (fixed max_entries)  lvs_xdp_flow_key → lvs_xdp_flow ------------------------ */
/* An established connection's packets in one direction, keyed by the frame's own 5-tuple as it
 * arrives (client → VIP for inbound, RS → client / RS → LIP for replies). */
struct lvs_xdp_flow_key {
    __u8 family;
    __u8 protocol; /* 6 TCP or 17 UDP: the fast path handles no other */
    __be16 sport;
    __be16 dport;
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
};

/* lvs_xdp_flow.method */
#define LVS_XDP_METHOD_DR 1       /* MACs and TTL (K:ip_vs_xmit.c ip_vs_dr_xmit) */
#define LVS_XDP_METHOD_NAT 2      /* NAT and FULLNAT: new source and/or destination (flags) */
#define LVS_XDP_METHOD_TUN_IPIP 3 /* outer IPv4/IPv6 header, protocol 4 / 41 */
#define LVS_XDP_METHOD_TUN_GUE 4  /* outer IP + UDP + GUE v0 */
#define LVS_XDP_METHOD_TUN_GRE 5  /* outer IP + GRE (4 bytes, 8 with a checksum) */

/* lvs_xdp_flow.flags */
#define LVS_XDP_FLOW_REWRITE_SRC 0x01 /* source := new_saddr:new_sport (NAT out, FULLNAT both ways) */
#define LVS_XDP_FLOW_REWRITE_DST 0x02 /* destination := new_daddr:new_dport (NAT in, FULLNAT both ways) */
#define LVS_XDP_FLOW_VLAN 0x04        /* tag the egress frame with vlan_tci */
#define LVS_XDP_FLOW_OUTER_V6 0x08    /* tunnel: the outer header is IPv6 */
#define LVS_XDP_FLOW_REPLY 0x10       /* a reply (counted as "out" for the real server) */
#define LVS_XDP_FLOW_TUN_CSUM 0x20    /* GUE: compute the UDP checksum; GRE: a checksummed header */

/* The rewrite of one direction of a connection, and its state. lvsd fills everything above
 * `ip_id`; the program updates ip_id (tunnels), last_seen_ns, packets and bytes. */
struct lvs_xdp_flow {
    __u8 method;
    __u8 flags;
    __u16 vlan_tci;     /* egress 802.1Q TCI (PCP/DEI/VID) when LVS_XDP_FLOW_VLAN */
    __u16 mtu;          /* egress IP MTU */
    __be16 tun_dport;   /* GUE: the tunnel port */
    __be16 tun_sport;   /* GUE: the source port (a hash of the inner flow, fixed per flow) */
    __be16 new_sport;
    __be16 new_dport;
    __u16 pad0;
    __u32 ifindex;      /* egress interface: XDP_TX when it is the ingress one, else DEVMAP redirect */
    __u32 server_slot;  /* index in lvs_server_stats (LVS_XDP_NO_SLOT: none) */
    __u8 dmac[6];       /* next hop */
    __u8 smac[6];       /* the director's egress MAC */
    __u8 new_saddr[16]; /* NAT/FULLNAT new source; tunnel: outer source (the director) */
    __u8 new_daddr[16]; /* NAT/FULLNAT new destination; tunnel: outer destination (the real server) */
    __u32 l3_delta;     /* IPv4 header checksum delta of the address change: folded Σ(~old + new) */
    __u32 l4_delta;     /* TCP/UDP checksum delta: addresses (pseudo-header) and ports, folded */
    /* written by the program */
    __u32 ip_id;        /* tunnels over IPv4: the next outer IPv4 ID (low 16 bits), incremented */
    __u32 pad1;
    __u64 last_seen_ns; /* CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns) of the latest fast-path packet */
    __u64 packets;      /* fast-path packets */
    __u64 bytes;        /* fast-path bytes (IP total length, as IPVS counts) */
};
#define LVS_XDP_NO_SLOT 0xFFFFFFFFu

/* ---- lvs_server_stats: PERCPU_ARRAY  slot → lvs_xdp_server_stats -------------------------------- */
struct lvs_xdp_server_stats {
    __u64 packets_in;
    __u64 packets_out;
    __u64 bytes_in;
    __u64 bytes_out;
};

/* ---- lvs_xsk_index: HASH  lvs_xdp_xsk_key → __u32;  lvs_xsks: XSKMAP  index → AF_XDP socket ----- */
/* An AF_XDP socket is bound to one interface and queue, and a frame redirected to a socket of
 * another interface is dropped: the program looks the socket's XSKMAP index up by (ingress
 * interface, receive queue). */
struct lvs_xdp_xsk_key {
    __u32 ifindex;
    __u32 queue;
};

/* ---- lvs_counters: PERCPU_ARRAY  reason → __u64 ------------------------------------------------ */
/* What the program did with each frame, by reason. Keep LVSXDP's XDPCounter names in step. */
enum lvs_xdp_counter {
    LVS_XDP_RX = 0,               /* every frame seen */
    LVS_XDP_PASS_NOT_IP,          /* not IPv4/IPv6 (ARP, LLDP, ...) */
    LVS_XDP_PASS_STACKED_VLAN,    /* QinQ / 802.1ad (LVSPacket's parser drops them: stacked_vlan) */
    LVS_XDP_PASS_MALFORMED,       /* headers cut short or inconsistent: the kernel drops them */
    LVS_XDP_PASS_NOT_OURS,        /* no service, no reply source, no flow */
    LVS_XDP_PASS_PASSIVE,         /* a passive VIP's frame */
    LVS_XDP_STEER_SERVICE,        /* to a VIP:port (a new connection or one not in lvs_flows) */
    LVS_XDP_STEER_REPLY,          /* from a NAT/FULLNAT real server */
    LVS_XDP_STEER_ICMP,           /* an ICMP/ICMPv6 error quoting a service or a reply flow */
    LVS_XDP_STEER_FRAGMENT,       /* a fragment to a VIP or from a reply source */
    LVS_XDP_SLOW_TCP_FLAGS,       /* a flow's SYN/FIN/RST segment: lvsd keeps the state */
    LVS_XDP_SLOW_TTL,             /* TTL/hop limit ≤ 1: lvsd answers time exceeded */
    LVS_XDP_SLOW_MTU,             /* larger than the egress MTU: fragment or frag-needed in lvsd */
    LVS_XDP_SLOW_UNSUPPORTED,     /* a flow packet the fast path does not rewrite (see docs/xdp.md) */
    LVS_XDP_SLOW_MALFORMED,       /* a flow packet LVSPacket's parser would refuse: lvsd counts why */
    LVS_XDP_SLOW_NO_EGRESS,       /* egress interface not in lvs_tx_ports */
    LVS_XDP_SLOW_ADJUST_FAILED,   /* no headroom for the new headers (bpf_xdp_adjust_head) */
    LVS_XDP_FAST_TX,              /* fast path, out of the ingress interface (XDP_TX) */
    LVS_XDP_FAST_REDIRECT,        /* fast path, out of another interface (DEVMAP) */
    LVS_XDP_STEER_NO_SOCKET,      /* steered, but no AF_XDP socket on the interface's queue: dropped */
    LVS_XDP_SLOW_PARTIAL_CSUM,    /* a flow packet whose L4 checksum field is the pseudo-header sum:
                                     a partial checksum (tx offload of a local sender); lvsd completes it */
    LVS_XDP_SHED_NEW,             /* a SYN to a service while the queue's worker is behind: dropped */
    LVS_XDP_COUNTER_MAX
};

/* Default sizes (lvsd may change max_entries before loading). */
#define LVS_XDP_SERVICES_MAX 65536
#define LVS_XDP_ADDRS_MAX 65536
#define LVS_XDP_FLOWS_MAX 65536
#define LVS_XDP_SERVER_SLOTS 4096
#define LVS_XDP_XSKS_MAX 256
#define LVS_XDP_TX_PORTS_MAX 256

#endif
