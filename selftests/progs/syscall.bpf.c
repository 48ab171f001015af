// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("syscall"): a program run only through BPF_PROG_TEST_RUN, with a
 * user-defined context (struct args) that it reads and writes.  The sum is
 * computed by a chain of static subprograms A -> B -> C.
 */
// bpfld: run prog=sys_sum kind=syscall ctx=030000000400000000000000 retval=7
// bpfld: run prog=sys_sum kind=syscall ctx=0a0000001400000000000000 retval=30
// bpfld: global calls expect-after-run=2
// bpfld: map results key=30 expect-after-run=10
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct args {
	int a;
	int b;
	int sum;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, int);
	__type(value, int);
} results SEC(".maps");

int calls;

static __noinline int add_c(int a, int b)
{
	return a + b;
}

static __noinline int add_b(int a, int b)
{
	calls++;
	return add_c(a, b);
}

static __noinline int add_a(struct args *ar)
{
	return add_b(ar->a, ar->b);
}

SEC("syscall")
int sys_sum(struct args *ctx)
{
	int sum = add_a(ctx), a = ctx->a;

	ctx->sum = sum;
	bpf_map_update_elem(&results, &sum, &a, BPF_ANY);
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
