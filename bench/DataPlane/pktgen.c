// Paced UDP frame generator for the data-plane benchmarks: AF_PACKET + sendmmsg, many flows, exact pacing.
//
// Usage: pktgen -i IF -s SRCMAC -d DSTMAC --src IP[,COUNT] --dst IP[,IP…] [--dport N] [--flows N]
//               [--rate PPS|0] [--seconds S] [--batch N] [--size BYTES] [--syn]
//
// --syn sends TCP SYNs (a spoofed SYN flood) instead of UDP: after every round over the flows the
// source ports move on by one, so each SYN is a new 4-tuple (flows × rounds distinct connections).
//
// Flow f (0 ≤ f < flows) is the frame  src = srcbase + f % count, sport = 1024 + f / count,
// dst = dst[f % ndst], dport; every frame carries a correct IPv4 header checksum and UDP checksum.
// Frames are built once and sent round-robin over the flows, `batch` per sendmmsg, paced so that at
// any moment no more than rate × elapsed frames have been sent (rate 0: as fast as possible).
// On exit it prints one line:  sent=N seconds=S rate=PPS errors=E
// Stop early with SIGINT/SIGTERM (it still prints the line).
//
// --xdp OBJ (a build with -DPKTGEN_XDP, linked with libbpf: the `xdpgen` binary) sends without a
// socket: the XDP program in OBJ (xdpgen.bpf.c) runs through BPF_PROG_RUN in live-frames mode on
// copies of flow 0's frame, writes each flow's headers (built here) and redirects the frame
// out of IF. The frames reach IF's veth peer as XDP frames in page-pool pages with headroom, as a
// NIC driver hands them to XDP, and no socket buffer is built on the way: several times the
// socket mode's rate on one core. One BPF_PROG_RUN call runs for the whole trial (setting one up
// costs milliseconds): the program itself paces, in bursts of `batch` frames like the socket mode
// (it drops, unsent, the copies that come between bursts) and a second thread interrupts the call
// with a signal when the time is over.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef PKTGEN_XDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#endif

#define MAX_BATCH 256
#define MAX_DST 16

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) {
    fprintf(stderr, "pktgen: %s\n", what);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_mac(const char *s, uint8_t out[6]) {
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255) return -1;
        out[i] = (uint8_t)v[i];
    }
    return 0;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1) acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

// Writes one Ethernet/IPv4/UDP frame of `size` bytes (≥ 42) into `f`.
static void build_frame(uint8_t *f, size_t size, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip,
                        uint32_t dip, uint16_t sport, uint16_t dport, uint16_t ipid) {
    memset(f, 0, size);
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    size_t iplen = size - 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[4] = (uint8_t)(ipid >> 8);
    ip[5] = (uint8_t)ipid;
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    uint16_t hc = fold(sum16(ip, 20, 0));
    ip[10] = (uint8_t)(hc >> 8);
    ip[11] = (uint8_t)hc;
    uint8_t *udp = ip + 20;
    size_t ulen = iplen - 20;
    udp[0] = (uint8_t)(sport >> 8);
    udp[1] = (uint8_t)sport;
    udp[2] = (uint8_t)(dport >> 8);
    udp[3] = (uint8_t)dport;
    udp[4] = (uint8_t)(ulen >> 8);
    udp[5] = (uint8_t)ulen;
    for (size_t i = 8; i < ulen; i++) udp[i] = (uint8_t)('a' + i % 26);
    uint32_t acc = sum16(ip + 12, 8, 0) + 17 + (uint32_t)ulen;
    uint16_t uc = fold(sum16(udp, ulen, acc));
    if (uc == 0) uc = 0xffff;
    udp[6] = (uint8_t)(uc >> 8);
    udp[7] = (uint8_t)uc;
}

// Turns frame `f` (built by build_frame) into a TCP SYN (IP length 40; the rest is padding).
static void make_syn(uint8_t *f, uint32_t seq) {
    uint8_t *ip = f + 14;
    ip[2] = 0;
    ip[3] = 40;
    ip[9] = 6;
    ip[10] = ip[11] = 0;
    uint16_t hc = fold(sum16(ip, 20, 0));
    ip[10] = (uint8_t)(hc >> 8);
    ip[11] = (uint8_t)hc;
    uint8_t *tcp = ip + 20;
    memset(tcp + 4, 0, 16);
    tcp[4] = (uint8_t)(seq >> 24);
    tcp[5] = (uint8_t)(seq >> 16);
    tcp[6] = (uint8_t)(seq >> 8);
    tcp[7] = (uint8_t)seq;
    tcp[12] = 5 << 4;
    tcp[13] = 0x02;
    tcp[14] = 0xff;
    tcp[15] = 0xff;
    uint32_t acc = sum16(ip + 12, 8, 0) + 6 + 20;
    uint16_t c = fold(sum16(tcp, 20, acc));
    tcp[16] = (uint8_t)(c >> 8);
    tcp[17] = (uint8_t)c;
}

// Moves a SYN's source port on by one (1024…65535) and fixes its checksum (RFC 1624).
static void next_syn_port(uint8_t *f) {
    uint8_t *tcp = f + 14 + 20;
    uint16_t old = (uint16_t)(tcp[0] << 8 | tcp[1]);
    uint16_t new = old == 65535 ? 1024 : (uint16_t)(old + 1);
    tcp[0] = (uint8_t)(new >> 8);
    tcp[1] = (uint8_t)new;
    uint32_t c = (uint16_t)~(tcp[16] << 8 | tcp[17]);
    c += (uint16_t)~old;
    c += new;
    while (c >> 16) c = (c & 0xffff) + (c >> 16);
    c = (uint16_t)~c;
    tcp[16] = (uint8_t)(c >> 8);
    tcp[17] = (uint8_t)c;
}

#ifdef PKTGEN_XDP
// The fields that differ between flows and the generator's settings, as xdpgen.bpf.c declares them.
#define HEADER_BYTES 42
struct flow_fields {
    uint8_t header[HEADER_BYTES];
};
struct gen_config {
    uint32_t ifindex, flows, next, burst;
    uint64_t interval_ps, duration_ns, started_ns, due_ps, sent, burst_left;
};

struct xdp_run {
    int prog, cfg_map;
    const uint8_t *frame;
    uint32_t size;
    volatile int done;
};

static void on_interrupt(int sig) { (void)sig; }

// The sending thread: BPF_PROG_RUN until a signal interrupts it (or the repetitions run out).
static void *xdp_sender(void *arg) {
    struct xdp_run *r = arg;
    while (!r->done && !stop) {
        LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = r->frame, .data_size_in = r->size,
                    .repeat = 1 << 30, .batch_size = 64, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
        if (bpf_prog_test_run_opts(r->prog, &run) < 0 && errno != EINTR) die("BPF_PROG_RUN (live frames) failed");
    }
    return NULL;
}

// Sends for `seconds` at `rate` (0: unpaced) through the loaded program; returns the frames sent
// and sets *elapsed to the sending time.
static uint64_t xdp_send(int prog, int cfg_map, const uint8_t *frame, uint32_t size, double rate,
                         double seconds, unsigned long burst, double *elapsed) {
    uint32_t zero = 0;
    struct gen_config c;
    if (bpf_map_lookup_elem(cfg_map, &zero, &c)) die("reading the config map failed");
    c.interval_ps = rate > 0 ? (uint64_t)(1e12 / rate) : 0;
    c.duration_ns = (uint64_t)(seconds * 1e9);
    c.started_ns = c.due_ps = c.sent = c.burst_left = 0;
    c.burst = (uint32_t)burst;
    if (bpf_map_update_elem(cfg_map, &zero, &c, 0)) die("writing the config map failed");
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt;  // no SA_RESTART: the signal ends BPF_PROG_RUN with EINTR
    sigaction(SIGUSR1, &sa, NULL);
    struct xdp_run r = {prog, cfg_map, frame, size, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, xdp_sender, &r)) die("pthread_create failed");
    const uint64_t give_up = now_ns() + (uint64_t)(seconds * 1e9) + 10000000000ull;
    for (;;) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (bpf_map_lookup_elem(cfg_map, &zero, &c)) die("reading the config map failed");
        uint64_t now = now_ns();
        if (stop || now > give_up || (c.started_ns && now >= c.started_ns + c.duration_ns)) break;
    }
    r.done = 1;
    while (pthread_kill(thread, SIGUSR1) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        if (pthread_tryjoin_np(thread, NULL) == 0) break;
    }
    const uint64_t ended = now_ns();
    bpf_map_lookup_elem(cfg_map, &zero, &c);
    if (c.started_ns == 0) die("the generator program never ran");
    // From the first run to the end of the duration, or to an early stop (SIGINT/SIGTERM).
    uint64_t until = c.started_ns + c.duration_ns;
    if (ended < until) until = ended;
    *elapsed = until > c.started_ns ? (double)(until - c.started_ns) / 1e9 : seconds;
    return c.sent;
}

// Loads the generator program from `path`, fills its maps from the built frames; returns its fd.
static int xdp_generator(const char *path, int ifindex, const uint8_t *frames, unsigned long flows,
                         unsigned long size, int *cfg_fd) {
    struct bpf_object *obj = bpf_object__open_file(path, NULL);
    if (!obj || bpf_object__load(obj)) die("loading the --xdp object failed");
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "xdpgen");
    struct bpf_map *cfg_map = bpf_object__find_map_by_name(obj, "config");
    struct bpf_map *flow_map = bpf_object__find_map_by_name(obj, "flows");
    if (!prog || !cfg_map || !flow_map) die("the --xdp object lacks xdpgen/config/flows");
    for (uint32_t f = 0; f < flows; f++) {
        struct flow_fields v;
        memcpy(v.header, frames + f * size, HEADER_BYTES);
        if (bpf_map_update_elem(bpf_map__fd(flow_map), &f, &v, 0)) die("filling the flow map failed");
    }
    struct gen_config c = {(uint32_t)ifindex, (uint32_t)flows, 0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t zero = 0;
    if (bpf_map_update_elem(bpf_map__fd(cfg_map), &zero, &c, 0)) die("filling the config map failed");
    *cfg_fd = bpf_map__fd(cfg_map);
    return bpf_program__fd(prog);
}
#endif

static void usage(void) {
    fprintf(stderr,
            "usage: pktgen -i IF -s SRCMAC -d DSTMAC --src IP[,COUNT] --dst IP[,IP...] [--dport N]\n"
            "              [--flows N] [--rate PPS] [--seconds S] [--batch N] [--size BYTES] [--syn]\n"
            "              [--xdp OBJ]  (xdpgen build only)\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *ifname = NULL, *smac_s = NULL, *dmac_s = NULL, *src_s = NULL, *dst_s = NULL, *xdp_obj = NULL;
    unsigned long flows = 1000, dport = 9, batch = 32, size = 60;
    double rate = 0, seconds = 1;
    int syn = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--syn")) {
            syn = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "-i")) ifname = v;
        else if (!strcmp(a, "-s")) smac_s = v;
        else if (!strcmp(a, "-d")) dmac_s = v;
        else if (!strcmp(a, "--src")) src_s = v;
        else if (!strcmp(a, "--dst")) dst_s = v;
        else if (!strcmp(a, "--dport")) dport = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--flows")) flows = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rate")) rate = strtod(v, NULL);
        else if (!strcmp(a, "--seconds")) seconds = strtod(v, NULL);
        else if (!strcmp(a, "--batch")) batch = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--size")) size = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--xdp")) xdp_obj = v;
        else usage();
        i++;
    }
    if (!ifname || !smac_s || !dmac_s || !src_s || !dst_s) usage();
    if (flows < 1 || flows > 65536 || batch < 1 || batch > MAX_BATCH || size < 42 || size > 1514 ||
        dport < 1 || dport > 65535 || rate < 0 || seconds <= 0)
        die("bad numeric argument");

    uint8_t smac[6], dmac[6];
    if (parse_mac(smac_s, smac) || parse_mac(dmac_s, dmac)) die("bad MAC address");

    char buf[256];
    snprintf(buf, sizeof buf, "%s", src_s);
    unsigned long nsrc = 1;
    char *comma = strchr(buf, ',');
    if (comma) {
        *comma = 0;
        nsrc = strtoul(comma + 1, NULL, 10);
        if (nsrc < 1 || nsrc > 65536) die("bad source count");
    }
    struct in_addr srcbase;
    if (inet_pton(AF_INET, buf, &srcbase) != 1) die("bad source address");
    uint32_t dsts[MAX_DST];
    unsigned ndst = 0;
    snprintf(buf, sizeof buf, "%s", dst_s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct in_addr d;
        if (ndst == MAX_DST || inet_pton(AF_INET, tok, &d) != 1) die("bad destination list");
        dsts[ndst++] = d.s_addr;
    }
    if (ndst == 0) die("no destination");
    if ((flows + nsrc - 1) / nsrc > 64000) die("too many flows for the source count (ports run out)");

    uint8_t *frames = malloc(flows * size);
    if (!frames) die("out of memory");
    for (unsigned long f = 0; f < flows; f++) {
        uint32_t sip = htonl(ntohl(srcbase.s_addr) + (uint32_t)(f % nsrc));
        build_frame(frames + f * size, size, smac, dmac, sip, dsts[f % ndst], (uint16_t)(1024 + f / nsrc),
                    (uint16_t)dport, (uint16_t)f);
        if (syn) make_syn(frames + f * size, (uint32_t)(f * 2654435761u));
    }

    int xdp_prog = -1;
    (void)xdp_prog;
    if (xdp_obj) {
#ifdef PKTGEN_XDP
        if (syn) die("--syn moves ports every round: not with --xdp");
        int ifindex = (int)if_nametoindex(ifname);
        if (ifindex == 0) die("no such interface");
        int cfg_fd = -1;
        xdp_prog = xdp_generator(xdp_obj, ifindex, frames, flows, size, &cfg_fd);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        double elapsed = 0;
        uint64_t sent = xdp_send(xdp_prog, cfg_fd, frames, (uint32_t)size, rate, seconds, batch, &elapsed);
        printf("sent=%llu seconds=%.3f rate=%.0f errors=0\n", (unsigned long long)sent, elapsed, (double)sent / elapsed);
        return 0;
#else
        die("--xdp needs the xdpgen build (-DPKTGEN_XDP, libbpf)");
#endif
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receives
    if (fd < 0) die("socket(AF_PACKET) failed (root needed)");
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    struct sockaddr_ll ll = {0};
    ll.sll_family = AF_PACKET;
    ll.sll_ifindex = (int)if_nametoindex(ifname);
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_halen = 6;
    memcpy(ll.sll_addr, dmac, 6);
    if (ll.sll_ifindex == 0) die("no such interface");
    if (bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0) die("bind failed");

    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iovs[MAX_BATCH];
    memset(msgs, 0, sizeof msgs);
    for (unsigned i = 0; i < MAX_BATCH; i++) {
        iovs[i].iov_len = size;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    uint64_t sent = 0, errors = 0, next_flow = 0;
    int round_done = 0;
    const uint64_t start = now_ns();
    const uint64_t end = start + (uint64_t)(seconds * 1e9);
    const double per_ns = rate / 1e9;
    uint64_t now = start;
    while (!stop && (now = now_ns()) < end) {
        uint64_t want = batch;
        if (rate > 0) {
            uint64_t due = (uint64_t)((double)(now - start) * per_ns) + 1;
            if (due <= sent) {
                // Ahead of schedule: sleep until one batch is due (or spin the last few µs).
                uint64_t wait_ns = (uint64_t)((double)batch / per_ns);
                if (wait_ns > 20000) {
                    struct timespec ts = {0, (long)(wait_ns / 2)};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
            want = due - sent;
            if (want > batch) want = batch;
        }
        for (uint64_t i = 0; i < want; i++) {
            iovs[i].iov_base = frames + next_flow * size;
            if (++next_flow == flows) {
                next_flow = 0;
                round_done = 1;
            }
        }
        int n = sendmmsg(fd, msgs, (unsigned)want, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            errors++;
            if (errno != ENOBUFS && errno != EAGAIN) die("sendmmsg failed");
            // Rewind the flows that were not sent so the round-robin stays even.
            next_flow = (next_flow + flows - want % flows) % flows;
            continue;
        }
        sent += (uint64_t)n;
        if ((uint64_t)n < want) next_flow = (next_flow + flows - (want - (uint64_t)n) % flows) % flows;
        // A round is over: every SYN of the next one is a new 4-tuple (the batch went out, sendmmsg
        // copied it).
        if (syn && round_done) {
            for (unsigned long f = 0; f < flows; f++) next_syn_port(frames + f * size);
        }
        round_done = 0;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("sent=%llu seconds=%.3f rate=%.0f errors=%llu\n", (unsigned long long)sent, elapsed,
           (double)sent / elapsed, (unsigned long long)errors);
    return 0;
}
