// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("cgroup/sysctl"): refuses writes to net/ipv4/tcp_mem.  The name is
 * compared with bpf_strncmp, whose third argument must point into a frozen
 * read-only map: the string literal lands in .rodata.str1.1, which libbpf
 * creates with BPF_F_RDONLY_PROG and freezes.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 denied;

SEC("cgroup/sysctl")
int sysctl_guard(struct bpf_sysctl *ctx)
{
	char name[32] = {};
	long n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);

	if (n < 0 || !ctx->write)
		return 1;
	if (bpf_strncmp(name, sizeof(name), "net/ipv4/tcp_mem") == 0) {
		denied++;
		return 0;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
