// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Two plain SEC(".struct_ops") maps, each a TCP congestion control of the same
 * name, "bpfld_two", with programs of its own. A load asked to register them
 * (BPFLD_LOAD_REGISTER_STRUCT_OPS) registers the first and is refused the
 * second by the kernel (EEXIST: the name is taken): it must unregister the
 * first and leave nothing (struct_ops_registered_at_load).
 */
#include "tcp_cc.h"

TCP_CC_PROGS(one, 2, 10)
TCP_CC_PROGS(two, 3, 11)

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_two_a = TCP_CC_VALUE(one, "bpfld_two");

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_two_b = TCP_CC_VALUE(two, "bpfld_two");

char LICENSE[] SEC("license") = "GPL";
