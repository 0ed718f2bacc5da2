// XDP program of pktgen's --xdp mode: run through BPF_PROG_RUN with live frames, it turns each
// copy of the template frame into the next flow's frame and transmits it out of the lab interface.
//
// pktgen fills `flows` with the fields that differ between flows (addresses, source port, IP
// identification and both checksums, computed in user space exactly as its socket mode builds them) and `config` with the
// interface and the flow count. Frames live in a page pool that the kernel recycles without
// restoring their contents, so every field that varies is written on every run.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow_fields {
    __u32 saddr;      // network order, as in the frame
    __u32 daddr;
    __u16 sport;      // network order
    __u16 ip_check;   // the finished IPv4 header checksum, as in the frame
    __u16 l4_check;   // the finished UDP (or TCP) checksum, as in the frame
    __u16 ip_id;      // the IPv4 identification (network order)
};

struct gen_config {
    __u32 ifindex;    // where frames go: XDP_REDIRECT out of this interface
    __u32 flows;
    __u32 next;       // the flow of the next frame (one generator thread: no atomics needed)
    __u32 l4_check_offset;  // 6 for UDP, 16 for TCP (from the transport header)
    __u64 interval_ps;      // time between frames; 0 = as fast as possible
    __u64 duration_ns;      // how long to send, from the first run
    __u64 started_ns;       // set at the first run (CLOCK_MONOTONIC)
    __u64 due_ps;           // when the next frame is due
    __u64 sent;             // frames redirected
};

// How far behind schedule the generator may fall before it forgets the backlog instead of
// sending it in one burst (pktgen's socket mode catches up in batches of this size too).
#define CATCH_UP_FRAMES 32

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct gen_config);
} config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct flow_fields);
} flows SEC(".maps");

// Pacing: BPF_PROG_RUN runs this program for as many repetitions as asked, back to back; a run
// before the next frame is due (or after the duration) drops its copy unsent, so the frames that
// go out are spaced by interval_ps. pktgen interrupts the run (a signal) once the duration is over.
SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
    __u32 zero = 0;
    struct gen_config *cfg = bpf_map_lookup_elem(&config, &zero);
    if (!cfg)
        return XDP_ABORTED;
    __u64 now = bpf_ktime_get_ns();
    if (cfg->started_ns == 0) {
        cfg->started_ns = now;
        cfg->due_ps = now * 1000;
    }
    if (now - cfg->started_ns >= cfg->duration_ns)
        return XDP_DROP;
    if (cfg->interval_ps) {
        __u64 now_ps = now * 1000;
        if (now_ps < cfg->due_ps)
            return XDP_DROP;
        __u64 due = cfg->due_ps + cfg->interval_ps;
        __u64 slack = CATCH_UP_FRAMES * cfg->interval_ps;
        if (due + slack < now_ps)
            due = now_ps - slack;
        cfg->due_ps = due;
    }
    __u32 n = cfg->next;
    cfg->next = n + 1 >= cfg->flows ? 0 : n + 1;
    struct flow_fields *f = bpf_map_lookup_elem(&flows, &n);
    if (!f)
        return XDP_ABORTED;

    __u8 *data = (__u8 *)(long)ctx->data;
    __u8 *end = (__u8 *)(long)ctx->data_end;
    // Ethernet 14 + IPv4 20 (no options) + the transport header up to its checksum.
    if (data + 14 + 20 + 18 > end)
        return XDP_ABORTED;
    __u8 *ip = data + 14;
    __u8 *l4 = ip + 20;
    *(__u16 *)(ip + 4) = f->ip_id;
    *(__u16 *)(ip + 10) = f->ip_check;
    *(__u32 *)(ip + 12) = f->saddr;
    *(__u32 *)(ip + 16) = f->daddr;
    *(__u16 *)l4 = f->sport;
    if (cfg->l4_check_offset == 16)
        *(__u16 *)(l4 + 16) = f->l4_check;
    else
        *(__u16 *)(l4 + 6) = f->l4_check;
    cfg->sent++;
    return bpf_redirect(cfg->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
