// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A TCP congestion control in a SEC(".struct_ops.link") map (BPF_F_LINK): the
 * load writes its value (the programs' fds in its function members), which
 * registers nothing; the caller registers it with BPF_LINK_CREATE of the map
 * fd (libbpf's bpf_map__attach_struct_ops() after its update) and unregisters
 * it by closing the link (struct_ops_link_attach).
 */
#include "tcp_cc.h"

TCP_CC_PROGS(lnk, 2, 10)

SEC(".struct_ops.link")
struct tcp_congestion_ops bpfld_lnk = TCP_CC_VALUE(lnk, "bpfld_lnk");

char LICENSE[] SEC("license") = "GPL";
