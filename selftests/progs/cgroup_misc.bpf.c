// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("cgroup/getsockopt"), SEC("cgroup/setsockopt") and SEC("cgroup/dev").
 * getsockopt counts calls and passes the kernel's answer through;
 * setsockopt lets everything through unchanged; dev refuses mknod of
 * /dev/mem (char 1:1).  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 getsockopts, setsockopts, denied_mknod;

SEC("cgroup/getsockopt")
int getsockopt_cnt(struct bpf_sockopt *ctx)
{
	__sync_fetch_and_add(&getsockopts, 1);
	return 1;
}

SEC("cgroup/setsockopt")
int setsockopt_cnt(struct bpf_sockopt *ctx)
{
	__sync_fetch_and_add(&setsockopts, 1);
	/* 0: let the kernel handle the original option */
	ctx->optlen = 0;
	return 1;
}

SEC("cgroup/dev")
int dev_guard(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff, access = ctx->access_type >> 16;

	if (type == BPF_DEVCG_DEV_CHAR && (access & BPF_DEVCG_ACC_MKNOD) &&
	    ctx->major == 1 && ctx->minor == 1) {
		denied_mknod++;
		return 0;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
