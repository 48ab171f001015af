// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* kfunc calls (BPF_PSEUDO_KFUNC_CALL to vmlinux BTF FUNC ids) a syscall program
 * may make on 6.12 and later: a task reference (bpf_task_from_pid and
 * bpf_task_release, generic set; pid 2 is kthreadd in the initial namespace),
 * a bpf_cpumask (cpumask set), the numbers iterator (common set).
 * bpf_task_release's parameter is unnamed on purpose: libbpf names it
 * "dummy_ksym" so that the kernel accepts the global FUNC.
 */
// bpfld: run prog=kfunc_run kind=syscall retval=0
// bpfld: global kthreadd_found expect-after-run=1
// bpfld: global cpu0_set expect-after-run=1
// bpfld: global cpu1_set expect-after-run=0
// bpfld: global weight expect-after-run=1
// bpfld: global sum expect-after-run=45
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
	int pid;
};
struct cpumask {
	unsigned long bits[1];
};
struct bpf_cpumask {
	struct cpumask cpumask;
};
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *) __ksym;
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_set_cpu(__u32 cpu, struct bpf_cpumask *cpumask) __ksym;
extern _Bool bpf_cpumask_test_cpu(__u32 cpu, const struct cpumask *cpumask) __ksym;
extern __u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

int kthreadd_found;
/* One byte each: x86-64 returns a bool in %al and leaves the rest of %rax as it is,
 * and the JIT maps R0 to %rax, so a 4-byte store of the result would keep whatever the
 * kfunc left in the upper bits (the KASAN kernel's bpf_cpumask_test_cpu leaves some).
 */
unsigned char cpu0_set;
unsigned char cpu1_set = 0xff;
int weight;
int sum;

SEC("syscall")
int kfunc_run(void *ctx)
{
	struct bpf_iter_num it;
	struct task_struct *t;
	struct bpf_cpumask *m;
	int *v;

	t = bpf_task_from_pid(2);
	if (t) {
		kthreadd_found = 1;
		bpf_task_release(t);
	}
	m = bpf_cpumask_create();
	if (!m)
		return 1;
	bpf_cpumask_set_cpu(0, m);
	cpu0_set = bpf_cpumask_test_cpu(0, (const struct cpumask *)m);
	cpu1_set = bpf_cpumask_test_cpu(1, (const struct cpumask *)m);
	weight = bpf_cpumask_weight((const struct cpumask *)m);
	bpf_cpumask_release(m);

	bpf_iter_num_new(&it, 0, 10);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
