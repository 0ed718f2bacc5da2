// XDP program of pktgen's --xdp mode: run through BPF_PROG_RUN with live frames, it turns each
// copy of the template frame into the next flow's frame and transmits it out of the lab interface.
//
// pktgen fills `flows` with each flow's headers (built in user space exactly as its socket mode
// builds them) and `config` with the interface, the flow count and the pacing. Frames live in a
// page pool that the kernel recycles without restoring their contents, and whoever receives a
// frame may have rewritten its headers in place (a forwarding kernel writes the next hop's MAC
// addresses and the TTL into the same page), so all the headers are written on every run.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The Ethernet, IPv4 and UDP headers of one flow's frame, byte for byte (pktgen builds them).
#define HEADER_BYTES 42
struct flow_fields {
    __u8 header[HEADER_BYTES];
};

struct gen_config {
    __u32 ifindex;    // where frames go: XDP_REDIRECT out of this interface
    __u32 flows;
    __u32 next;       // the flow of the next frame (one generator thread: no atomics needed)
    __u32 burst;            // frames sent back to back when a burst is due (pktgen's --batch)
    __u64 interval_ps;      // time between frames; 0 = as fast as possible
    __u64 duration_ns;      // how long to send, from the first run
    __u64 started_ns;       // set at the first run (CLOCK_MONOTONIC)
    __u64 due_ps;           // when the next burst is due
    __u64 sent;             // frames redirected
    __u64 burst_left;       // frames of the current burst still to send
};

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

// Pacing: BPF_PROG_RUN runs this program for as many repetitions as asked, back to back. Frames
// go out in bursts of `burst` (as pktgen's socket mode sends `batch` per sendmmsg), one burst every
// burst × interval_ps; a run between bursts (or after the duration) drops its copy unsent. A
// generator that falls behind forgets the backlog rather than sending it at once. pktgen
// interrupts the run (a signal) once the duration is over.
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
        if (cfg->burst_left == 0) {
            __u64 now_ps = now * 1000;
            if (now_ps < cfg->due_ps)
                return XDP_DROP;
            __u64 period = cfg->burst * cfg->interval_ps;
            __u64 due = cfg->due_ps + period;
            if (due + period < now_ps)
                due = now_ps;
            cfg->due_ps = due;
            cfg->burst_left = cfg->burst;
        }
        cfg->burst_left--;
    }
    __u32 n = cfg->next;
    cfg->next = n + 1 >= cfg->flows ? 0 : n + 1;
    struct flow_fields *f = bpf_map_lookup_elem(&flows, &n);
    if (!f)
        return XDP_ABORTED;

    __u8 *data = (__u8 *)(long)ctx->data;
    __u8 *end = (__u8 *)(long)ctx->data_end;
    if (data + HEADER_BYTES > end)
        return XDP_ABORTED;
    __builtin_memcpy(data, f->header, HEADER_BYTES);
    cfg->sent++;
    return bpf_redirect(cfg->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
