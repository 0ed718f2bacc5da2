/* lvsd's XDP program: bpf/lvs_xdp.o, the object scripts/build-bpf compiles from bpf/lvs_xdp.bpf.c, embedded as bytes. */
#include <stddef.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc23-extensions"
const unsigned char clvs_xdp_object[] __attribute__((aligned(8))) = {
#embed "bpf/lvs_xdp.o"
};
#pragma clang diagnostic pop
const size_t clvs_xdp_object_len = sizeof(clvs_xdp_object);
