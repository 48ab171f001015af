// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Typed __ksym variables, resolved to vmlinux BTF VAR ids (BPF_PSEUDO_BTF_ID):
 * the per-CPU variables bpf_prog_active (an int, through bpf_this_cpu_ptr) and
 * runqueues (a struct rq, through bpf_per_cpu_ptr). And a typeless one,
 * init_uts_ns (by address), whose release string the program parses to check
 * that LINUX_KERNEL_VERSION is KERNEL_VERSION(major, minor, min(patch, 255)).
 * The kernel types are declared only as far as the program uses them: libbpf
 * checks kind compatibility, not layout.
 */
// bpfld: host-skip the verifier finds kernel variables through kallsyms, which lists them only with CONFIG_KALLSYMS_ALL
// bpfld: run prog=ksym_run kind=syscall retval=0
// bpfld: global active_ok expect-after-run=1
// bpfld: global rq0_found expect-after-run=1
// bpfld: global rq_far_null expect-after-run=1
// bpfld: global version_ok expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
/* struct uts_namespace starts with struct new_utsname: sysname[65],
 * nodename[65], release[65], ...
 */
#define UTS_RELEASE_OFF 130

struct rq {
	int cpu;
};

extern const int bpf_prog_active __ksym;
extern struct rq runqueues __ksym;
extern const void init_uts_ns __ksym;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

int active_ok;
int rq0_found;
int rq_far_null;
int version_ok;
unsigned int parsed;

SEC("syscall")
int ksym_run(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);
	unsigned int part[3] = {}, n = 0;
	char rel[16] = {};
	int i;

	active_ok = *active >= 0;
	rq0_found = bpf_per_cpu_ptr(&runqueues, 0) != 0;
	rq_far_null = bpf_per_cpu_ptr(&runqueues, 1 << 20) == 0;

	if (bpf_probe_read_kernel(rel, sizeof(rel) - 1,
				  (const char *)&init_uts_ns + UTS_RELEASE_OFF))
		return 1;
	for (i = 0; i < 15; i++) {
		char c = rel[i];

		if (c >= '0' && c <= '9') {
			if (n < 3)
				part[n] = part[n] * 10 + (c - '0');
		} else if (c == '.' && n < 2) {
			n++;
		} else {
			break;
		}
	}
	parsed = KERNEL_VERSION(part[0], part[1], part[2]);
	version_ok = parsed == LINUX_KERNEL_VERSION;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
