// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libbpf_bench: the libbpf side of bpfld's benchmarks (bpfld-bench runs it and
 * prints the figures side by side with its own).  Link it statically with the
 * Linux tree's libbpf (tools/lib/bpf, 1.5 for 6.12):
 *
 *   cc -O2 -Wall -Werror -I LIBBPF/include libbpf_bench.c LIBBPF/lib64/libbpf.a -lelf -lz
 *
 *   libbpf_bench btf FILE ITERS
 *       ITERS times btf__parse(FILE), what libbpf does with
 *       /sys/kernel/btf/vmlinux at every object load that needs kernel BTF.
 *       One line per iteration:
 *         btf I NS LIVE PEAK TYPES
 *   libbpf_bench load ITERS OBJ
 *       ITERS times bpf_object__open_file(OBJ) + bpf_object__load(), then
 *       bpf_object__close() (not timed).  Iteration 0 is the first load of
 *       the process (libbpf's feature probes run then, and are cached for
 *       the later ones).  One line per iteration:
 *         load I TOTAL_NS OPEN_NS BPF_NS BPF_CALLS PEAK LIVE PROGS MAPS CMDS CMD_NS
 *       or, when the load failed (and the program stops):
 *         fail I ERRNO MESSAGE
 *   libbpf_bench serve
 *       One command per line on stdin, "btf FILE" or "load OBJ", each run once
 *       and answered with one line as above (I counts the commands), so that
 *       a caller can interleave libbpf's runs with its own.  A failed load
 *       does not stop it.  Ends at end of input.
 *
 * NS are CLOCK_MONOTONIC nanoseconds.  BPF_NS and BPF_CALLS: time spent in,
 * and number of, bpf(2) calls during the load (libbpf issues every one
 * through syscall(2), which this program defines and forwards to libc's);
 * CMDS lists them as CMD:COUNT,... and CMD_NS their time as CMD:NS,... .  LIVE and PEAK are heap bytes
 * (malloc_usable_size of every block) held at the end of the step and at
 * most during it, above what was held before it: this program replaces
 * malloc and friends (glibc's documented interposition) and forwards them to
 * glibc's allocator, so every allocation of the process counts (libbpf,
 * libelf, zlib and libc's own on their behalf).  Files libelf maps with
 * mmap() are not heap and not counted.
 */
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* --- heap accounting ---------------------------------------------------- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static long heap_live, heap_peak;

static void heap_add(void *p)
{
	if (!p)
		return;
	heap_live += (long)malloc_usable_size(p);
	if (heap_live > heap_peak)
		heap_peak = heap_live;
}

static void heap_sub(void *p)
{
	if (p)
		heap_live -= (long)malloc_usable_size(p);
}

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	heap_add(p);
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	heap_add(p);
	return p;
}

void *realloc(void *old, size_t size)
{
	size_t before = old ? malloc_usable_size(old) : 0;
	void *p = __libc_realloc(old, size);

	/* On failure the old block is still held; realloc(p, 0) freed it. */
	if (p || size == 0)
		heap_live -= (long)before;
	heap_add(p);
	return p;
}

void free(void *p)
{
	heap_sub(p);
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	heap_add(p);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* --- bpf(2) accounting -------------------------------------------------- */

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

#define MAX_CMD 64
static unsigned long long bpf_ns;
static unsigned long long cmd_ns[MAX_CMD];
static unsigned int bpf_calls, cmd_calls[MAX_CMD];

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	unsigned long long t0;
	long a[6], r;
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (nr != __NR_bpf)
		return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	t0 = now_ns();
	r = real(nr, a[0], a[1], a[2]);
	t0 = now_ns() - t0;
	bpf_ns += t0;
	bpf_calls++;
	if (a[0] >= 0 && a[0] < MAX_CMD) {
		cmd_calls[a[0]]++;
		cmd_ns[a[0]] += t0;
	}
	return r;
}

static const char *cmd_name(int cmd)
{
	static const char *const names[] = {
		[0] = "MAP_CREATE", [1] = "MAP_LOOKUP_ELEM", [2] = "MAP_UPDATE_ELEM",
		[3] = "MAP_DELETE_ELEM", [5] = "PROG_LOAD", [6] = "OBJ_PIN", [7] = "OBJ_GET",
		[13] = "PROG_GET_FD_BY_ID", [14] = "MAP_GET_FD_BY_ID", [15] = "OBJ_GET_INFO_BY_FD",
		[18] = "BTF_LOAD", [19] = "BTF_GET_FD_BY_ID", [22] = "MAP_FREEZE",
		[23] = "BTF_GET_NEXT_ID", [28] = "LINK_CREATE", [35] = "PROG_BIND_MAP",
		[36] = "TOKEN_CREATE",
	};
	static char buf[16];

	if (cmd < (int)(sizeof(names) / sizeof(names[0])) && names[cmd])
		return names[cmd];
	snprintf(buf, sizeof(buf), "cmd%d", cmd);
	return buf;
}

/* --- the benchmarks ----------------------------------------------------- */

static char last_warning[512];

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
	return 0;
}

static int btf_once(const char *path, int i)
{
	long base = heap_live;
	unsigned long long t0, t1;
	struct btf *btf;

	heap_peak = heap_live;
	t0 = now_ns();
	btf = btf__parse(path, NULL);
	t1 = now_ns();
	if (!btf) {
		printf("fail %d %d btf__parse(%s)\n", i, errno, path);
		return 1;
	}
	printf("btf %d %llu %ld %ld %u\n", i, t1 - t0, heap_live - base, heap_peak - base,
	       btf__type_cnt(btf));
	btf__free(btf);
	return 0;
}

static int load_once(const char *path, int i)
{
	unsigned long long t0, t1, t2;
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	int err, progs = 0, maps = 0;
	long base = heap_live;
	char cmds[256], times[512];
	size_t off = 0, toff = 0;

	heap_peak = heap_live;
	bpf_ns = 0;
	bpf_calls = 0;
	memset(cmd_calls, 0, sizeof(cmd_calls));
	memset(cmd_ns, 0, sizeof(cmd_ns));
	last_warning[0] = 0;
	t0 = now_ns();
	obj = bpf_object__open_file(path, NULL);
	t1 = now_ns();
	err = obj ? bpf_object__load(obj) : -errno;
	t2 = now_ns();
	if (err) {
		char *nl = strchr(last_warning, '\n');

		if (nl)
			*nl = 0;
		printf("fail %d %d %s\n", i, -err, last_warning[0] ? last_warning : "-");
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
		progs += bpf_program__fd(prog) >= 0;
	bpf_object__for_each_map(map, obj)
		maps += bpf_map__fd(map) >= 0;
	cmds[0] = 0;
	times[0] = 0;
	for (int c = 0; c < MAX_CMD; c++) {
		if (cmd_calls[c] && off < sizeof(cmds))
			off += snprintf(cmds + off, sizeof(cmds) - off, "%s%s:%u", off ? "," : "",
					cmd_name(c), cmd_calls[c]);
		if (cmd_calls[c] && toff < sizeof(times))
			toff += snprintf(times + toff, sizeof(times) - toff, "%s%s:%llu",
					 toff ? "," : "", cmd_name(c), cmd_ns[c]);
	}
	printf("load %d %llu %llu %llu %u %ld %ld %d %d %s %s\n", i, t2 - t0, t1 - t0, bpf_ns,
	       bpf_calls, heap_peak - base, heap_live - base, progs, maps, cmds[0] ? cmds : "-",
	       times[0] ? times : "-");
	bpf_object__close(obj);
	return 0;
}

static int serve(void)
{
	char line[4096];
	int i = 0;

	while (fgets(line, sizeof(line), stdin)) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		if (!strncmp(line, "btf ", 4))
			btf_once(line + 4, i);
		else if (!strncmp(line, "load ", 5))
			load_once(line + 5, i);
		else
			printf("fail %d %d unknown command '%s'\n", i, EINVAL, line);
		fflush(stdout);
		i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int iters;

	libbpf_set_print(print_fn);
	if (argc == 4 && !strcmp(argv[1], "btf") && (iters = atoi(argv[3])) > 0) {
		for (int i = 0; i < iters; i++)
			if (btf_once(argv[2], i))
				return 1;
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "load") && (iters = atoi(argv[2])) > 0) {
		for (int i = 0; i < iters; i++)
			if (load_once(argv[3], i))
				return 1;
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "serve"))
		return serve();
	fprintf(stderr, "usage: %s btf FILE ITERS | %s load ITERS OBJ | %s serve\n", argv[0],
		argv[0], argv[0]);
	return 2;
}
