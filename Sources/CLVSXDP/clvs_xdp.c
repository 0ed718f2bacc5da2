/* The XDP program's loader (libbpf 1.1), map access and BPF_PROG_TEST_RUN for lvsd. */
#define _GNU_SOURCE
#include "CLVSXDP.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

const void *clvs_xdp_object_bytes(void)
{
    return clvs_xdp_object;
}

struct clvs_xdp_loaded {
    struct bpf_object *obj;
    struct bpf_program *prog;
};

/* libbpf's messages during one load, kept for the error text (loads are not concurrent). */
static char libbpf_messages[2048];
static size_t libbpf_messages_len;

static int collect_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    if (libbpf_messages_len < sizeof(libbpf_messages) - 1) {
        int n = vsnprintf(libbpf_messages + libbpf_messages_len, sizeof(libbpf_messages) - libbpf_messages_len,
                          fmt, args);
        if (n > 0) {
            libbpf_messages_len += (size_t)n;
            if (libbpf_messages_len > sizeof(libbpf_messages) - 1)
                libbpf_messages_len = sizeof(libbpf_messages) - 1;
        }
    }
    return 0;
}

static void set_limit(struct bpf_object *obj, const char *name, uint32_t value)
{
    if (value == 0)
        return;
    struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
    if (m)
        bpf_map__set_max_entries(m, value);
}

static struct bpf_object *open_object(const void *object, size_t len, const struct clvs_xdp_limits *limits)
{
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "lvs_xdp");
    struct bpf_object *obj = bpf_object__open_mem(object, len, &opts);
    if (!obj)
        return NULL;
    if (limits) {
        set_limit(obj, "lvs_flows", limits->flows);
        set_limit(obj, "lvs_services", limits->services);
        set_limit(obj, "lvs_reply_sources", limits->services);
        set_limit(obj, "lvs_addrs", limits->addresses);
        set_limit(obj, "lvs_server_stats", limits->server_slots);
        set_limit(obj, "lvs_xsks", limits->sockets);
        set_limit(obj, "lvs_xsk_index", limits->sockets);
    }
    return obj;
}

struct clvs_xdp_loaded *clvs_xdp_load(const void *object, size_t len, const struct clvs_xdp_limits *limits,
                                      char *log, size_t log_size, int *error, int *refused)
{
    if (log && log_size)
        log[0] = 0;
    if (refused)
        *refused = 0;
    libbpf_messages_len = 0;
    libbpf_messages[0] = 0;
    libbpf_print_fn_t old = libbpf_set_print(collect_print);
    struct clvs_xdp_loaded *l = calloc(1, sizeof(*l));
    int err = 0;
    if (!l) {
        err = -ENOMEM;
        goto out;
    }
    l->obj = open_object(object, len, limits);
    if (!l->obj) {
        err = -errno;
        goto fail;
    }
    l->prog = bpf_object__find_program_by_name(l->obj, "lvs_xdp");
    if (!l->prog) {
        err = -ENOENT;
        goto fail;
    }
    err = bpf_object__load(l->obj);
    if (err == 0)
        goto out;

    /* Refused: load once more with the verifier's log to say why (its last lines). */
    bpf_object__close(l->obj);
    l->obj = NULL;
    if (log && log_size > 1) {
        size_t big = 16u << 20;
        char *vlog = malloc(big);
        struct bpf_object *again = open_object(object, len, limits);
        if (vlog && again) {
            vlog[0] = 0;
            struct bpf_program *p = bpf_object__find_program_by_name(again, "lvs_xdp");
            if (p) {
                bpf_program__set_log_buf(p, vlog, big);
                bpf_program__set_log_level(p, 1);
            }
            bpf_object__load(again);
            size_t n = strlen(vlog);
            while (n > 0 && (vlog[n - 1] == '\n' || vlog[n - 1] == ' '))
                vlog[--n] = 0;
            if (n > 0) {
                size_t keep = n < log_size - 1 ? n : log_size - 1;
                memcpy(log, vlog + (n - keep), keep);
                log[keep] = 0;
                if (refused)
                    *refused = 1;
            }
        }
        if (again)
            bpf_object__close(again);
        free(vlog);
        if (log[0] == 0 && libbpf_messages_len) {
            size_t keep = libbpf_messages_len < log_size - 1 ? libbpf_messages_len : log_size - 1;
            memcpy(log, libbpf_messages + (libbpf_messages_len - keep), keep);
            log[keep] = 0;
        }
    }
fail:
    if (l) {
        if (l->obj)
            bpf_object__close(l->obj);
        free(l);
        l = NULL;
    }
out:
    libbpf_set_print(old);
    if (error)
        *error = err < 0 ? err : (err > 0 ? -err : 0);
    return l;
}

int clvs_xdp_program_fd(const struct clvs_xdp_loaded *l)
{
    return l && l->prog ? bpf_program__fd(l->prog) : -1;
}

int clvs_xdp_map_fd(const struct clvs_xdp_loaded *l, const char *name)
{
    if (!l || !l->obj)
        return -1;
    struct bpf_map *m = bpf_object__find_map_by_name(l->obj, name);
    return m ? bpf_map__fd(m) : -1;
}

void clvs_xdp_unload(struct clvs_xdp_loaded *l)
{
    if (!l)
        return;
    bpf_object__close(l->obj);
    free(l);
}

static uint32_t mode_flags(int mode)
{
    return mode == CLVS_XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

int clvs_xdp_attach(int ifindex, int program_fd, int mode)
{
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flags(mode));
    int fd = bpf_link_create(program_fd, ifindex, BPF_XDP, &opts);
    return fd < 0 ? -errno : fd;
}

int clvs_xdp_detach(int link_fd)
{
    int r = bpf_link_detach(link_fd);
    int e = r < 0 ? -errno : 0;
    close(link_fd);
    return e;
}

int clvs_xdp_attached_id(int ifindex, int mode)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    int r = bpf_xdp_query(ifindex, 0, &q);
    if (r < 0)
        return r;
    return (int)(mode == CLVS_XDP_MODE_NATIVE ? q.drv_prog_id : q.skb_prog_id);
}

uint32_t clvs_xdp_program_id(int program_fd)
{
    struct bpf_prog_info info;
    uint32_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(program_fd, &info, &len) != 0)
        return 0;
    return info.id;
}

int clvs_xdp_map_update(int fd, const void *key, const void *value, uint64_t flags)
{
    return bpf_map_update_elem(fd, key, value, flags) ? -errno : 0;
}

int clvs_xdp_map_delete(int fd, const void *key)
{
    return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int clvs_xdp_map_lookup(int fd, const void *key, void *value)
{
    return bpf_map_lookup_elem(fd, key, value) ? -errno : 0;
}

int clvs_xdp_map_next_key(int fd, const void *key, void *next)
{
    return bpf_map_get_next_key(fd, key, next) ? -errno : 0;
}

int clvs_xdp_possible_cpus(void)
{
    return libbpf_num_possible_cpus();
}

int clvs_xdp_test_run(int program_fd, struct clvs_xdp_test_run *run)
{
    struct xdp_md ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.data_end = run->data_size_in;
    ctx.ingress_ifindex = run->ingress_ifindex;
    ctx.rx_queue_index = run->rx_queue_index;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = run->data_in, .data_size_in = run->data_size_in,
                .data_out = run->data_out, .data_size_out = run->data_size_out, .repeat = run->repeat,
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
    int r = bpf_prog_test_run_opts(program_fd, &opts);
    if (r < 0)
        return -errno;
    run->data_size_out = opts.data_size_out;
    run->retval = opts.retval;
    run->duration = opts.duration;
    return 0;
}

/* ---- transmit probe: does a frame sent by XDP into this interface arrive? ---------------------- */

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int ethtool_ioctl(const char *ifname, void *data)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = data;
    int r = ioctl(fd, SIOCETHTOOL, &ifr);
    int e = errno;
    close(fd);
    return r < 0 ? -e : 0;
}

int clvs_xdp_driver_name(const char *ifname, char *out, size_t len)
{
    struct ethtool_drvinfo info;
    memset(&info, 0, sizeof(info));
    info.cmd = ETHTOOL_GDRVINFO;
    int r = ethtool_ioctl(ifname, &info);
    if (r < 0)
        return r;
    snprintf(out, len, "%s", info.driver);
    return 0;
}

int clvs_xdp_ethtool_sum(const char *ifname, const char *suffix, uint64_t *sum)
{
    uint64_t raw[4]; /* struct ethtool_sset_info and one data word */
    memset(raw, 0, sizeof(raw));
    struct ethtool_sset_info *sset = (struct ethtool_sset_info *)raw;
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_STATS;
    int r = ethtool_ioctl(ifname, sset);
    if (r < 0)
        return r;
    uint32_t n = sset->sset_mask ? sset->data[0] : 0;
    if (n == 0 || n > 65536)
        return -ENOENT;
    struct ethtool_gstrings *strings = calloc(1, sizeof(*strings) + (size_t)n * ETH_GSTRING_LEN);
    struct ethtool_stats *stats = calloc(1, sizeof(*stats) + (size_t)n * sizeof(uint64_t));
    if (!strings || !stats) {
        free(strings);
        free(stats);
        return -ENOMEM;
    }
    strings->cmd = ETHTOOL_GSTRINGS;
    strings->string_set = ETH_SS_STATS;
    strings->len = n;
    stats->cmd = ETHTOOL_GSTATS;
    stats->n_stats = n;
    r = ethtool_ioctl(ifname, strings);
    if (r == 0)
        r = ethtool_ioctl(ifname, stats);
    if (r == 0) {
        uint64_t s = 0;
        int found = 0;
        size_t sl = strlen(suffix);
        for (uint32_t i = 0; i < n; i++) {
            char name[ETH_GSTRING_LEN + 1];
            memcpy(name, strings->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
            name[ETH_GSTRING_LEN] = 0;
            size_t nl = strlen(name);
            if (nl >= sl && strcmp(name + nl - sl, suffix) == 0) {
                s += stats->data[i];
                found = 1;
            }
        }
        *sum = s;
        if (!found)
            r = -ENOENT;
    }
    free(strings);
    free(stats);
    return r;
}

int clvs_xdp_transmit_probe(int ifindex, const char *ifname, uint32_t count, uint64_t *delivered)
{
    /* r0 = XDP_TX; exit. In BPF_F_TEST_XDP_LIVE_FRAMES mode XDP_TX is a redirect to the ingress
     * device: the frames take the path a fast-path XDP_TX or redirect into it takes. */
    struct bpf_insn insns[2];
    memset(insns, 0, sizeof(insns));
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[0].dst_reg = BPF_REG_0;
    insns[0].imm = XDP_TX;
    insns[1].code = BPF_JMP | BPF_EXIT;
    LIBBPF_OPTS(bpf_prog_load_opts, lo);
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "lvs_tx_probe", "GPL", insns, 2, &lo);
    if (fd < 0)
        return -errno;
    /* A frame nobody takes: to and from the interface's own MAC (a bridge on the peer learnt it
     * on that port and filters it), IEEE 802 local experimental EtherType 0x88B5. */
    unsigned char frame[60];
    memset(frame, 0, sizeof(frame));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0) {
            memcpy(frame, ifr.ifr_hwaddr.sa_data, 6);
            memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
        }
        close(s);
    }
    frame[12] = 0x88;
    frame[13] = 0xb5;
    memcpy(frame + 14, "SwiftLVS transmit probe", 23);
    uint64_t before = 0, after = 0;
    int r = clvs_xdp_ethtool_sum(ifname, "_xdp_xmit", &before);
    if (r < 0) {
        close(fd);
        return r;
    }
    struct xdp_md ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.data_end = sizeof(frame);
    ctx.ingress_ifindex = ifindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame), .repeat = count,
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
    r = bpf_prog_test_run_opts(fd, &opts);
    int e = errno;
    close(fd);
    if (r < 0)
        return -e;
    r = clvs_xdp_ethtool_sum(ifname, "_xdp_xmit", &after);
    if (r < 0)
        return r;
    *delivered = after - before;
    return 0;
}
