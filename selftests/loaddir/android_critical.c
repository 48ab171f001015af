// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * An Android-style critical object for the `bpfld load-dir` tests: it carries a
 * `critical` section as Android's bpf_helpers.h CRITICAL("...") emits it, one map and
 * one program. With -DBROKEN the program is one the verifier rejects.
 *
 * Self-contained (no headers), so it builds with a bare
 *   clang -target bpf -O2 -g -c android_critical.c -o android_critical.o
 * in the test VM, where the tests compile it.
 */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name

/* What CRITICAL("bpfld load-dir selftest") expands to in Android's bpf_helpers.h. */
char _critical[] SEC("critical") = "bpfld load-dir selftest";
char _license[] SEC("license") = "GPL";

struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, 4);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} hits SEC(".maps");

SEC("socket")
int critical_pass(void *skb)
{
#ifdef BROKEN
	/* A load from a made-up address: "invalid mem access 'scalar'". */
	return *(volatile long *)12345;
#else
	return 0;
#endif
}
