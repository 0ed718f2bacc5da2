// Attaches a two-instruction XDP_DROP program to an interface in native mode and exits (the
// program stays): the cheapest possible packet sink for the pps benchmarks. The frames still
// count in the interface's rx_packets (veth counts what its XDP program saw), and the veth gets
// NAPI, so XDP transmissions into its peer arrive.
//   xdpsink IFNAME
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xdpsink IFNAME\n");
        return 2;
    }
    int ifindex = (int)if_nametoindex(argv[1]);
    if (ifindex == 0) {
        perror(argv[1]);
        return 1;
    }
    struct bpf_insn insns[2];
    memset(insns, 0, sizeof(insns));
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[0].dst_reg = BPF_REG_0;
    insns[0].imm = XDP_DROP;
    insns[1].code = BPF_JMP | BPF_EXIT;
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdpsink", "GPL", insns, 2, NULL);
    if (fd < 0) {
        perror("bpf_prog_load");
        return 1;
    }
    if (bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL) < 0) {
        perror("bpf_xdp_attach");
        return 1;
    }
    return 0;
}
