// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* __kconfig externs: libbpf's virtual LINUX_* values and CONFIG_* values of the
 * running kernel's configuration, read from the frozen read-only .kconfig map
 * (its layout: largest alignment first, then smallest size, then name).
 *
 * The expectations hold on every kernel bpfld targets (6.12 and later, with BPF
 * syscall, JIT and events built in, a default hostname "(none)", HZ 100..1000):
 * the program turns each value into 1 when it is what it must be.
 */
// bpfld: run prog=kcfg_run kind=syscall retval=0
// bpfld: global version_ok expect-after-run=1
// bpfld: global cookie expect-after-run=1
// bpfld: global unknown_linux expect-after-run=0
// bpfld: global bpf_syscall expect-after-run=1
// bpfld: global jit_tristate expect-after-run=1
// bpfld: global events_char expect-after-run=121
// bpfld: global hz_ok expect-after-run=1
// bpfld: global nr_cpus_ok expect-after-run=1
// bpfld: global hostname_ok expect-after-run=1
// bpfld: global missing_int expect-after-run=0
// bpfld: global missing_str expect-after-run=0
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool LINUX_HAS_BPF_COOKIE __kconfig;
extern int LINUX_BPFLD_UNKNOWN __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig;
extern char CONFIG_BPF_EVENTS __kconfig;
extern int CONFIG_HZ __kconfig;
extern unsigned long long CONFIG_NR_CPUS __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig;
extern short CONFIG_BPFLD_NO_SUCH_OPTION __kconfig __weak;
extern char CONFIG_BPFLD_NO_SUCH_STRING[4] __kconfig __weak;

int version_ok;
int cookie;
int unknown_linux = -1;
int bpf_syscall;
int jit_tristate;
int events_char;
int hz_ok;
int nr_cpus_ok;
int hostname_ok;
int missing_int = -1;
int missing_str = -1;

SEC("syscall")
int kcfg_run(void *ctx)
{
	const char want[8] = "(none)";
	int i, same = 1;

	version_ok = LINUX_KERNEL_VERSION >= KERNEL_VERSION(6, 12, 0);
	cookie = LINUX_HAS_BPF_COOKIE;
	unknown_linux = LINUX_BPFLD_UNKNOWN;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	jit_tristate = CONFIG_BPF_JIT;
	events_char = CONFIG_BPF_EVENTS;
	hz_ok = CONFIG_HZ >= 100 && CONFIG_HZ <= 1000;
	nr_cpus_ok = CONFIG_NR_CPUS >= 1;
	for (i = 0; i < 8; i++)
		if (CONFIG_DEFAULT_HOSTNAME[i] != want[i])
			same = 0;
	hostname_ok = same;
	missing_int = CONFIG_BPFLD_NO_SUCH_OPTION;
	missing_str = CONFIG_BPFLD_NO_SUCH_STRING[0] | CONFIG_BPFLD_NO_SUCH_STRING[3];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
