// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libbpf_dump: the libbpf reference side of bpfld's differential tests.
 *
 *   libbpf_dump [-v] [--all | --only PROG[,PROG...]] [--keep-pins] [--pin-root DIR] OBJ
 *       Open OBJ with libbpf (honouring autoload, i.e. SEC("?...")), load it
 *       and dump what the kernel holds.  Exit 0 only if every autoload
 *       program loaded.  --all: every program autoload, those of SEC("?...")
 *       too, as bpf_program__set_autoload(prog, true) for each (the kernel's
 *       selftests load them so, one by one).  --only PROG: that program alone
 *       (every other one's autoload off), as those selftests load each; a
 *       comma-separated list: those programs alone.
 *   libbpf_dump [-v] --ids PROG_ID... [--map-ids MAP_ID...]
 *       Dump programs that already exist (e.g. loaded by bpfld) by id, with
 *       exactly the same code and normalisation.  The maps dumped are the
 *       --map-ids given, else every map used by the programs.
 *   libbpf_dump [-v] [--keep-pins] [--pin-root DIR] --check SRC OBJ
 *       Load OBJ and execute the "// bpfld:" directives found in SRC (see
 *       selftests/progs/README.md): BPF_PROG_TEST_RUN runs and map/global
 *       expectations.  Prints one "ok"/"not ok"/"skip" line per step.
 *   libbpf_dump [-v] --check-ids SRC [--prog NAME=ID]... [--map NAME=ID]...
 *       The same directives, by the same code, against programs and maps
 *       that already exist (loaded by bpfld), opened by id.  NAME is the
 *       libbpf program name (the C function) / the map name bpfld reports
 *       (the BTF variable of a .maps map, the section name of global data:
 *       ".bss", ".data.foo", ...).  "global" lines use the maps' own BTF.
 *       expect-fail lines are only echoed as "# expect-fail ..." comments
 *       (the caller checks its load failures itself); a program a
 *       directive names but no --prog gives counts as not loaded: "skip"
 *       under a host-skip, else "not ok".
 *   Both check modes exit 0 iff no line is "not ok" (2 on usage errors).
 *
 * Output of the dump modes (one record per line, fields separated by one
 * space, numbers in decimal unless prefixed 0x, hex strings lower case):
 *
 *   sec NAME section=S type=T attach=A flags=0xF kver=0xV autoload=0|1
 *       OBJ mode only, every program of the object sorted by libbpf name:
 *       what libbpf derived from SEC().  For a loaded program, T, A (the
 *       expected attach type), flags (prog_flags) and kver (kern_version)
 *       are the values libbpf passed to BPF_PROG_LOAD, captured by wrapping
 *       syscall(2) (libbpf 1.1 adds SEC-derived flags such as
 *       BPF_F_SLEEPABLE only at load time and reports them nowhere else);
 *       for a program not loaded they are libbpf's getters and kver=0x0.
 *       A is libbpf_bpf_attach_type_str() of the number (so 0 reads
 *       "cgroup_inet_ingress" for program types that ignore it), except for
 *       struct_ops where it is the member index: "member<N>".
 *   prog NAME type=T attach=A gpl=G insns=N tag=HEX maps=M funcs=F lines=L xlated=HEX
 *       every loaded program, sorted by NAME (the kernel's program name):
 *       T  = program type (libbpf_bpf_prog_type_str, else "type<N>");
 *       A  = name of the attach BTF type (bpf_prog_info.attach_btf_id in
 *            BTF object attach_btf_obj_id), "-" if none.  The kernel does not
 *            report expected_attach_type, so it is not part of this line;
 *       G  = gpl_compatible (0/1), from the license section;
 *       N  = number of xlated instructions;
 *       M  = the sorted map list (below), "-" if the program uses no map;
 *       F  = func_info as comma-separated NAME@INSN_OFF (names from the
 *            program's BTF), "-" if none;
 *       L  = number of line_info records;
 *       xlated = the normalised xlated instructions, 16 hex digits per
 *            instruction: its 8 bytes in memory order.
 *   fail NAME errno=E
 *       OBJ mode: an autoload program the kernel or libbpf refused (the
 *       verifier log goes to stderr); the rest of the object is loaded again
 *       without it.  NAME "-" means a failure not attributable to a program
 *       (open, map creation); nothing else is printed then.
 *   map NAME type=T key=K value=V max=M flags=0xF extra=0xX
 *       every map (OBJ mode: all maps of the object; --ids mode: see above),
 *       sorted by (NAME, T, K, V, M, F), followed by its content lines:
 *   data NAME key=I value=HEX
 *       non-percpu ARRAY maps with max <= 1024: each entry that is not all
 *       zero (global data sections show up here);
 *   slot NAME key=I prog=PNAME | slot NAME key=I map=MNAME
 *       PROG_ARRAY / ARRAY_OF_MAPS / HASH_OF_MAPS: each occupied slot, by
 *       the kernel name of the program or map it holds (I is the decimal
 *       array index, or 0x + hex key bytes for HASH_OF_MAPS).
 *
 * NORMALISATION of xlated instructions (bpfld's Rust side implements the
 * identical rule; keep the two in sync with selftests/progs/README.md):
 *   The sorted map list of a program is the kernel names of the maps in
 *   bpf_prog_info.map_ids, sorted by strcmp of the name; ties are broken by
 *   (type, key_size, value_size, max_entries, map_flags) and then by map id.
 *   Walking the xlated instructions in order, for every BPF_LD|BPF_IMM|BPF_DW
 *   (opcode 0x18) instruction, which always occupies two slots:
 *   1. src_reg BPF_PSEUDO_MAP_FD (1) or BPF_PSEUDO_MAP_VALUE (2): the kernel
 *      put the map id in imm; replace imm by the map's index (0-based) in
 *      the sorted map list (0xffffffff if the id is not in the list).  The
 *      second slot (the value offset for MAP_VALUE) is kept.
 *   2. src_reg 0 and the 64-bit immediate (second imm << 32 | first imm) has
 *      0xff as its top byte: a kernel address the verifier inserted (e.g.
 *      prog->aux for bpf_timer_set_callback, kernel variables); set both
 *      imm fields to 0.
 *   3. anything else (including BPF_PSEUDO_FUNC, whose imm the kernel
 *      already restores to the original offset and subprog index) is kept.
 *   The second slot of an ld_imm64 is never interpreted as an instruction.
 *   No other instruction is changed: helper call immediates, bpf-to-bpf call
 *   immediates (subprog index) and all offsets are deterministic for one
 *   kernel boot and are compared as they are.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#define LOG_BUF_SIZE (4u << 20)
#define MAX_DATA_ENTRIES 1024u

static bool verbose;
/* --all: SEC("?...") programs loaded too. */
static bool all_programs;
/* --only PROG[,PROG...]: those programs alone. */
static const char *only_programs;

/* Whether `name` is one of the comma-separated `list`. */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		if (!e)
			return false;
		p = e + 1;
	}
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p) {
		fprintf(stderr, "libbpf_dump: out of memory\n");
		exit(2);
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Capture of the BPF_PROG_LOAD attributes libbpf uses, by interposing
 * syscall(2), through which libbpf 1.1 issues every bpf(2) command.
 */
struct load_attrs {
	int fd;
	__u32 type, eat, flags, kver;
};

static struct load_attrs *loads;
static size_t nloads;

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6], ret;
	va_list ap;
	int i, saved;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	ret = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == __NR_bpf && a[0] == BPF_PROG_LOAD && ret >= 0) {
		const union bpf_attr *attr = (const union bpf_attr *)a[1];
		struct load_attrs *n;

		saved = errno;
		n = realloc(loads, (nloads + 1) * sizeof(*loads));
		if (n) {
			loads = n;
			loads[nloads].fd = (int)ret;
			loads[nloads].type = attr->prog_type;
			loads[nloads].eat = attr->expected_attach_type;
			loads[nloads].flags = attr->prog_flags;
			loads[nloads].kver = attr->kern_version;
			nloads++;
		}
		errno = saved;
	}
	return ret;
}

/* The attributes of the last successful load that returned `fd`. */
static const struct load_attrs *load_attrs_of(int fd)
{
	size_t i = nloads;

	while (i--)
		if (loads[i].fd == fd)
			return &loads[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* libbpf messages: forwarded to stderr; the last "prog 'NAME':" seen is
 * remembered so that a load failure libbpf detects before the kernel is
 * involved can still be attributed to a program.
 */
static char last_warn_prog[256];

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	const char *p;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (level == LIBBPF_WARN) {
		p = strstr(buf, "prog '");
		if (p) {
			const char *s = p + 6, *e = strchr(s, '\'');

			if (e && (size_t)(e - s) < sizeof(last_warn_prog)) {
				memcpy(last_warn_prog, s, e - s);
				last_warn_prog[e - s] = '\0';
			}
		}
	}
	if (level == LIBBPF_WARN || verbose)
		fputs(buf, stderr);
	return 0;
}

static const char *prog_type_str(__u32 t, char *buf, size_t n)
{
	const char *s = libbpf_bpf_prog_type_str(t);

	if (s)
		return s;
	snprintf(buf, n, "type%u", t);
	return buf;
}

static const char *map_type_str(__u32 t, char *buf, size_t n)
{
	const char *s = libbpf_bpf_map_type_str(t);

	if (s)
		return s;
	snprintf(buf, n, "type%u", t);
	return buf;
}

static void attach_type_str(__u32 t, char *buf, size_t n)
{
	const char *s = libbpf_bpf_attach_type_str(t);

	if (s)
		snprintf(buf, n, "%s", s);
	else
		snprintf(buf, n, "attach%u", t);
}

/* ------------------------------------------------------------------ */
/* Maps by id. */

struct map_desc {
	__u32 id;
	struct bpf_map_info info;
};

static int map_info_by_id(__u32 id, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int fd, err;

	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	err = bpf_obj_get_info_by_fd(fd, info, &len);
	err = err ? -errno : 0;
	close(fd);
	return err;
}

static int map_desc_cmp(const void *a, const void *b)
{
	const struct map_desc *x = a, *y = b;
	int c = strcmp(x->info.name, y->info.name);

	if (c)
		return c;
#define CMP_FIELD(f)                                   \
	if (x->info.f != y->info.f)                    \
		return x->info.f < y->info.f ? -1 : 1;
	CMP_FIELD(type)
	CMP_FIELD(key_size)
	CMP_FIELD(value_size)
	CMP_FIELD(max_entries)
	CMP_FIELD(map_flags)
#undef CMP_FIELD
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* Fill and sort descriptors for ids; returns count or -errno. */
static int map_descs(const __u32 *ids, __u32 n, struct map_desc *out)
{
	__u32 i;
	int err;

	for (i = 0; i < n; i++) {
		out[i].id = ids[i];
		err = map_info_by_id(ids[i], &out[i].info);
		if (err)
			return err;
	}
	qsort(out, n, sizeof(*out), map_desc_cmp);
	return (int)n;
}

static int prog_name_by_id(__u32 id, char *name, size_t n)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	err = err ? -errno : 0;
	close(fd);
	if (!err)
		snprintf(name, n, "%s", info.name);
	return err;
}

/* ------------------------------------------------------------------ */
/* Programs. */

/* The normalisation rule documented at the top of this file. */
static void normalise_xlated(struct bpf_insn *insns, __u32 n,
			     const struct map_desc *maps, __u32 nmaps)
{
	__u32 i, j;

	for (i = 0; i < n; i++) {
		struct bpf_insn *in = &insns[i];

		if (in->code != (BPF_LD | BPF_IMM | BPF_DW) || i + 1 >= n)
			continue;
		if (in->src_reg == BPF_PSEUDO_MAP_FD ||
		    in->src_reg == BPF_PSEUDO_MAP_VALUE) {
			__u32 idx = 0xffffffffu;

			for (j = 0; j < nmaps; j++) {
				if (maps[j].id == (__u32)in->imm) {
					idx = j;
					break;
				}
			}
			in->imm = (__s32)idx;
		} else if (in->src_reg == 0) {
			__u64 v = ((__u64)(__u32)insns[i + 1].imm << 32) |
				  (__u32)in->imm;

			if ((v >> 56) == 0xff) {
				in->imm = 0;
				insns[i + 1].imm = 0;
			}
		}
		i++; /* second slot */
	}
}

static void attach_name(const struct bpf_prog_info *info, char *buf, size_t n)
{
	struct btf *btf;
	const struct btf_type *t;
	const char *name = NULL;

	if (!info->attach_btf_id) {
		snprintf(buf, n, "-");
		return;
	}
	btf = btf__load_from_kernel_by_id(info->attach_btf_obj_id);
	if (btf) {
		t = btf__type_by_id(btf, info->attach_btf_id);
		if (t)
			name = btf__name_by_offset(btf, t->name_off);
	}
	if (name && *name)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "btf%u:%u", info->attach_btf_obj_id,
			 info->attach_btf_id);
	btf__free(btf);
}

struct prog_dump {
	char name[BPF_OBJ_NAME_LEN];
	char *line;
};

static int prog_dump_cmp(const void *a, const void *b)
{
	const struct prog_dump *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->line, y->line);
}

/* Render the "prog" line of one program fd into a malloc'ed string. */
static int dump_prog_fd(int fd, struct prog_dump *out)
{
	struct bpf_prog_info info = {}, full = {};
	__u32 len = sizeof(info), i, nins;
	struct bpf_insn *insns = NULL;
	struct bpf_func_info *finfo = NULL;
	__u32 *map_ids = NULL;
	struct map_desc *maps = NULL;
	struct btf *pbtf = NULL;
	char tbuf[32], abuf[256];
	char *line = NULL;
	size_t llen = 0;
	FILE *f;
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;

	nins = info.xlated_prog_len / sizeof(struct bpf_insn);
	insns = xcalloc(nins, sizeof(*insns));
	map_ids = xcalloc(info.nr_map_ids, sizeof(*map_ids));
	finfo = xcalloc(info.nr_func_info, sizeof(*finfo));
	full.xlated_prog_len = info.xlated_prog_len;
	full.xlated_prog_insns = (__u64)(unsigned long)insns;
	full.nr_map_ids = info.nr_map_ids;
	full.map_ids = (__u64)(unsigned long)map_ids;
	full.nr_func_info = info.nr_func_info;
	full.func_info_rec_size = sizeof(*finfo);
	full.func_info = (__u64)(unsigned long)finfo;
	len = sizeof(full);
	if (bpf_obj_get_info_by_fd(fd, &full, &len)) {
		err = -errno;
		goto out;
	}
	if (full.xlated_prog_len != info.xlated_prog_len ||
	    full.nr_map_ids != info.nr_map_ids) {
		err = -EAGAIN;
		goto out;
	}

	maps = xcalloc(info.nr_map_ids, sizeof(*maps));
	err = map_descs(map_ids, info.nr_map_ids, maps);
	if (err < 0)
		goto out;
	normalise_xlated(insns, nins, maps, info.nr_map_ids);

	f = open_memstream(&line, &llen);
	if (!f) {
		err = -errno;
		goto out;
	}
	attach_name(&full, abuf, sizeof(abuf));
	fprintf(f, "prog %s type=%s attach=%s gpl=%u insns=%u tag=", full.name,
		prog_type_str(full.type, tbuf, sizeof(tbuf)), abuf,
		full.gpl_compatible, nins);
	for (i = 0; i < BPF_TAG_SIZE; i++)
		fprintf(f, "%02x", full.tag[i]);
	fprintf(f, " maps=");
	for (i = 0; i < info.nr_map_ids; i++)
		fprintf(f, "%s%s", i ? "," : "", maps[i].info.name);
	if (!info.nr_map_ids)
		fprintf(f, "-");
	fprintf(f, " funcs=");
	if (full.nr_func_info && full.btf_id)
		pbtf = btf__load_from_kernel_by_id(full.btf_id);
	for (i = 0; i < full.nr_func_info; i++) {
		const struct btf_type *t =
			pbtf ? btf__type_by_id(pbtf, finfo[i].type_id) : NULL;
		const char *fn = t ? btf__name_by_offset(pbtf, t->name_off) : NULL;

		if (fn && *fn)
			fprintf(f, "%s%s@%u", i ? "," : "", fn, finfo[i].insn_off);
		else
			fprintf(f, "%s?%u@%u", i ? "," : "", finfo[i].type_id,
				finfo[i].insn_off);
	}
	if (!full.nr_func_info)
		fprintf(f, "-");
	fprintf(f, " lines=%u xlated=", full.nr_line_info);
	for (i = 0; i < nins; i++) {
		const unsigned char *b = (const unsigned char *)&insns[i];
		int k;

		for (k = 0; k < 8; k++)
			fprintf(f, "%02x", b[k]);
	}
	fclose(f);
	snprintf(out->name, sizeof(out->name), "%s", full.name);
	out->line = line;
	err = 0;
out:
	btf__free(pbtf);
	free(insns);
	free(map_ids);
	free(finfo);
	free(maps);
	return err;
}

/* ------------------------------------------------------------------ */
/* Map lines and contents. */

static void hex(FILE *f, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		fprintf(f, "%02x", *b++);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void dump_slot(FILE *out, const struct map_desc *m, const void *key,
		      bool array_key, __u32 held)
{
	char name[BPF_OBJ_NAME_LEN] = "?";
	struct bpf_map_info mi;
	int err;

	if (m->info.type == BPF_MAP_TYPE_PROG_ARRAY) {
		err = prog_name_by_id(held, name, sizeof(name));
	} else {
		err = map_info_by_id(held, &mi);
		if (!err)
			snprintf(name, sizeof(name), "%s", mi.name);
	}
	fprintf(out, "slot %s key=", m->info.name);
	if (array_key)
		fprintf(out, "%u", *(const __u32 *)key);
	else {
		fprintf(out, "0x");
		hex(out, key, m->info.key_size);
	}
	fprintf(out, " %s=%s\n",
		m->info.type == BPF_MAP_TYPE_PROG_ARRAY ? "prog" : "map",
		err ? "?" : name);
}

static void dump_map(FILE *out, const struct map_desc *m)
{
	const struct bpf_map_info *in = &m->info;
	char tbuf[32];
	unsigned char *val = NULL, *key = NULL, *next = NULL;
	__u32 i;
	int fd;

	fprintf(out, "map %s type=%s key=%u value=%u max=%u flags=0x%x extra=0x%llx\n",
		in->name, map_type_str(in->type, tbuf, sizeof(tbuf)),
		in->key_size, in->value_size, in->max_entries, in->map_flags,
		(unsigned long long)in->map_extra);

	fd = bpf_map_get_fd_by_id(m->id);
	if (fd < 0)
		return;
	switch (in->type) {
	case BPF_MAP_TYPE_ARRAY:
		if (in->max_entries > MAX_DATA_ENTRIES || in->key_size != 4)
			break;
		val = xcalloc(1, in->value_size);
		for (i = 0; i < in->max_entries; i++) {
			if (bpf_map_lookup_elem(fd, &i, val))
				continue;
			if (all_zero(val, in->value_size))
				continue;
			fprintf(out, "data %s key=%u value=", in->name, i);
			hex(out, val, in->value_size);
			fputc('\n', out);
		}
		break;
	case BPF_MAP_TYPE_PROG_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		if (in->key_size != 4 || in->value_size != 4)
			break;
		for (i = 0; i < in->max_entries && i < 65536; i++) {
			__u32 held;

			if (bpf_map_lookup_elem(fd, &i, &held))
				continue;
			dump_slot(out, m, &i, true, held);
		}
		break;
	case BPF_MAP_TYPE_HASH_OF_MAPS: {
		/* Hash iteration order is not stable: collect and sort keys. */
		unsigned char *keys;
		__u32 n = 0, cap = in->max_entries < 4096 ? in->max_entries : 4096;
		void *prev = NULL;

		if (in->value_size != 4 || !cap)
			break;
		keys = xcalloc(cap, in->key_size);
		next = xcalloc(1, in->key_size);
		while (n < cap && !bpf_map_get_next_key(fd, prev, next)) {
			memcpy(keys + (size_t)n * in->key_size, next, in->key_size);
			prev = keys + (size_t)n * in->key_size;
			n++;
		}
		/* insertion sort by bytes, n is small */
		key = xcalloc(1, in->key_size);
		for (i = 1; i < n; i++) {
			__u32 j = i;

			memcpy(key, keys + (size_t)i * in->key_size, in->key_size);
			while (j > 0 && memcmp(keys + (size_t)(j - 1) * in->key_size,
					       key, in->key_size) > 0) {
				memcpy(keys + (size_t)j * in->key_size,
				       keys + (size_t)(j - 1) * in->key_size,
				       in->key_size);
				j--;
			}
			memcpy(keys + (size_t)j * in->key_size, key, in->key_size);
		}
		for (i = 0; i < n; i++) {
			__u32 held;
			void *k = keys + (size_t)i * in->key_size;

			if (!bpf_map_lookup_elem(fd, k, &held))
				dump_slot(out, m, k, false, held);
		}
		free(keys);
		break;
	}
	default:
		break;
	}
	free(val);
	free(key);
	free(next);
	close(fd);
}

static void dump_maps(FILE *out, const __u32 *ids, __u32 n)
{
	struct map_desc *maps = xcalloc(n, sizeof(*maps));
	int cnt = map_descs(ids, n, maps);
	int i;

	if (cnt < 0)
		fprintf(stderr, "libbpf_dump: map info: %s\n", strerror(-cnt));
	for (i = 0; i < cnt; i++)
		dump_map(out, &maps[i]);
	free(maps);
}

static void print_prog_dumps(struct prog_dump *d, __u32 n)
{
	__u32 i;

	qsort(d, n, sizeof(*d), prog_dump_cmp);
	for (i = 0; i < n; i++) {
		printf("%s\n", d[i].line);
		free(d[i].line);
	}
}

/* ------------------------------------------------------------------ */
/* Loading an object, attributing failures to programs. */

struct name_set {
	char **names;
	size_t n;
};

static bool set_has(const struct name_set *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return true;
	return false;
}

static void set_add(struct name_set *s, const char *name)
{
	s->names = realloc(s->names, (s->n + 1) * sizeof(*s->names));
	if (!s->names) {
		fprintf(stderr, "libbpf_dump: out of memory\n");
		exit(2);
	}
	s->names[s->n++] = strdup(name);
}

static void set_free(struct name_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

struct failure {
	char name[256];
	int err; /* positive errno */
};

struct load_result {
	struct bpf_object *obj;
	struct failure *fails;
	size_t nfails;
};

/*
 * Load path with every program of `disabled` switched off.  When the load
 * fails, the failing program is found (the one whose log buffer the kernel
 * filled, else the last program libbpf complained about), recorded, logged,
 * disabled, and the whole object is opened and loaded again.  Returns 0, or
 * a negative errno when a failure cannot be pinned on a program (e.g. a map
 * the kernel refuses).
 */
static int load_object(const char *path, const char *pin_root,
		       struct name_set *disabled, struct load_result *res)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = pin_root);
	struct bpf_program *prog;
	struct bpf_object *obj;
	char **bufs = NULL;
	size_t nbufs = 0, i;
	const char *culprit;
	int err;

	for (;;) {
		obj = bpf_object__open_file(path, &oopts);
		if (!obj) {
			err = -errno;
			fprintf(stderr, "libbpf_dump: open %s: %s\n", path, strerror(-err));
			return err;
		}
		nbufs = 0;
		bpf_object__for_each_program(prog, obj)
			nbufs++;
		bufs = xcalloc(nbufs, sizeof(*bufs));
		i = 0;
		bpf_object__for_each_program(prog, obj) {
			if (set_has(disabled, bpf_program__name(prog)))
				bpf_program__set_autoload(prog, false);
			else if (only_programs)
				bpf_program__set_autoload(prog,
					in_list(only_programs, bpf_program__name(prog)));
			else if (all_programs)
				bpf_program__set_autoload(prog, true);
			if (bpf_program__autoload(prog)) {
				bufs[i] = xcalloc(1, LOG_BUF_SIZE);
				bpf_program__set_log_buf(prog, bufs[i], LOG_BUF_SIZE);
			}
			i++;
		}
		last_warn_prog[0] = '\0';
		err = bpf_object__load(obj);
		if (!err) {
			res->obj = obj;
			for (i = 0; i < nbufs; i++)
				free(bufs[i]);
			free(bufs);
			/* libbpf keeps pointers to the buffers: drop them */
			bpf_object__for_each_program(prog, obj)
				bpf_program__set_log_buf(prog, NULL, 0);
			return 0;
		}
		culprit = NULL;
		i = 0;
		bpf_object__for_each_program(prog, obj) {
			if (bufs[i] && bufs[i][0] && !culprit) {
				culprit = bpf_program__name(prog);
				fprintf(stderr, "libbpf_dump: prog '%s' verifier log:\n%s\n",
					culprit, bufs[i]);
			}
			i++;
		}
		if (!culprit && last_warn_prog[0] &&
		    bpf_object__find_program_by_name(obj, last_warn_prog))
			culprit = last_warn_prog;
		if (culprit && set_has(disabled, culprit))
			culprit = NULL;
		if (culprit) {
			res->fails = realloc(res->fails,
					     (res->nfails + 1) * sizeof(*res->fails));
			if (!res->fails)
				exit(2);
			snprintf(res->fails[res->nfails].name,
				 sizeof(res->fails[0].name), "%s", culprit);
			res->fails[res->nfails].err = -err;
			res->nfails++;
			set_add(disabled, culprit);
		}
		bpf_object__close(obj);
		for (i = 0; i < nbufs; i++)
			free(bufs[i]);
		free(bufs);
		if (!culprit) {
			fprintf(stderr, "libbpf_dump: %s: load failed (%s), not attributable to a program\n",
				path, strerror(-err));
			return err;
		}
	}
}

static void cleanup_pins(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_pinned(map) && bpf_map__unpin(map, NULL))
			fprintf(stderr, "libbpf_dump: unpin %s: %s\n",
				bpf_map__name(map), strerror(errno));
	}
}

/* ------------------------------------------------------------------ */
/* Modes. */

static int fd_id(int fd, bool is_prog, __u32 *id)
{
	union {
		struct bpf_prog_info p;
		struct bpf_map_info m;
	} u;
	__u32 len = is_prog ? sizeof(u.p) : sizeof(u.m);

	memset(&u, 0, sizeof(u));
	if (bpf_obj_get_info_by_fd(fd, &u, &len))
		return -errno;
	*id = is_prog ? u.p.id : u.m.id;
	return 0;
}

static int sec_cmp(const void *a, const void *b)
{
	const struct bpf_program *x = *(const struct bpf_program *const *)a;
	const struct bpf_program *y = *(const struct bpf_program *const *)b;

	return strcmp(bpf_program__name(x), bpf_program__name(y));
}

static int mode_obj(const char *path, const char *pin_root, bool keep_pins)
{
	struct name_set disabled = {};
	struct load_result res = {};
	struct bpf_program *prog, **progs;
	struct bpf_map *map;
	struct prog_dump *dumps;
	__u32 *map_ids;
	size_t nprogs = 0, nd = 0, nm = 0, i;
	char b1[32], b2[32];
	int err, rc = 0;

	err = load_object(path, pin_root, &disabled, &res);
	if (err) {
		printf("fail - errno=%d\n", -err);
		return 1;
	}

	bpf_object__for_each_program(prog, res.obj)
		nprogs++;
	progs = xcalloc(nprogs, sizeof(*progs));
	i = 0;
	bpf_object__for_each_program(prog, res.obj)
		progs[i++] = prog;
	qsort(progs, nprogs, sizeof(*progs), sec_cmp);
	for (i = 0; i < nprogs; i++) {
		const struct load_attrs *la;
		struct load_attrs dflt;
		int fd;

		prog = progs[i];
		fd = bpf_program__fd(prog);
		la = fd >= 0 ? load_attrs_of(fd) : NULL;
		if (!la) {
			dflt.type = bpf_program__type(prog);
			dflt.eat = bpf_program__expected_attach_type(prog);
			dflt.flags = bpf_program__flags(prog);
			dflt.kver = 0;
			la = &dflt;
		}
		if (la->type == BPF_PROG_TYPE_STRUCT_OPS)
			snprintf(b2, sizeof(b2), "member%u", la->eat);
		else
			attach_type_str(la->eat, b2, sizeof(b2));
		printf("sec %s section=%s type=%s attach=%s flags=0x%x kver=0x%x autoload=%d\n",
		       bpf_program__name(prog), bpf_program__section_name(prog),
		       prog_type_str(la->type, b1, sizeof(b1)), b2, la->flags, la->kver,
		       bpf_program__autoload(prog) || set_has(&disabled,
							      bpf_program__name(prog)));
	}

	dumps = xcalloc(nprogs, sizeof(*dumps));
	for (i = 0; i < nprogs; i++) {
		int fd = bpf_program__fd(progs[i]);

		if (fd < 0)
			continue;
		err = dump_prog_fd(fd, &dumps[nd]);
		if (err) {
			fprintf(stderr, "libbpf_dump: prog %s: info: %s\n",
				bpf_program__name(progs[i]), strerror(-err));
			rc = 1;
			continue;
		}
		nd++;
	}
	print_prog_dumps(dumps, nd);
	for (i = 0; i < res.nfails; i++) {
		printf("fail %s errno=%d\n", res.fails[i].name, res.fails[i].err);
		rc = 1;
	}

	bpf_object__for_each_map(map, res.obj)
		nm++;
	map_ids = xcalloc(nm, sizeof(*map_ids));
	nm = 0;
	bpf_object__for_each_map(map, res.obj) {
		int fd = bpf_map__fd(map);

		if (fd >= 0 && !fd_id(fd, false, &map_ids[nm]))
			nm++;
	}
	dump_maps(stdout, map_ids, nm);

	if (!keep_pins)
		cleanup_pins(res.obj);
	bpf_object__close(res.obj);
	free(map_ids);
	free(dumps);
	free(progs);
	free(res.fails);
	set_free(&disabled);
	return rc;
}

static int parse_u32(const char *s, __u32 *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 0);
	if (errno || *end || end == s || x > 0xffffffffUL)
		return -EINVAL;
	*v = (__u32)x;
	return 0;
}

static int mode_ids(int argc, char **argv)
{
	__u32 *pids = xcalloc(argc, sizeof(__u32)), *mids = xcalloc(argc, sizeof(__u32));
	__u32 np = 0, nm = 0, i, j, k;
	bool maps_given = false;
	struct prog_dump *dumps;
	int rc = 0, a;

	for (a = 0; a < argc; a++) {
		if (!strcmp(argv[a], "--map-ids")) {
			maps_given = true;
			continue;
		}
		if (parse_u32(argv[a], maps_given ? &mids[nm] : &pids[np])) {
			fprintf(stderr, "libbpf_dump: bad id '%s'\n", argv[a]);
			return 2;
		}
		if (maps_given)
			nm++;
		else
			np++;
	}
	dumps = xcalloc(np, sizeof(*dumps));
	k = 0;
	for (i = 0; i < np; i++) {
		int fd = bpf_prog_get_fd_by_id(pids[i]);
		int err;

		if (fd < 0) {
			fprintf(stderr, "libbpf_dump: prog id %u: %s\n", pids[i], strerror(errno));
			rc = 1;
			continue;
		}
		err = dump_prog_fd(fd, &dumps[k]);
		if (err) {
			fprintf(stderr, "libbpf_dump: prog id %u: %s\n", pids[i], strerror(-err));
			rc = 1;
		} else {
			k++;
		}
		if (!maps_given) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info), *ids;

			if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.nr_map_ids) {
				__u32 cnt = info.nr_map_ids;

				ids = xcalloc(cnt, sizeof(*ids));
				memset(&info, 0, sizeof(info));
				info.nr_map_ids = cnt;
				info.map_ids = (__u64)(unsigned long)ids;
				len = sizeof(info);
				if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
					if (info.nr_map_ids < cnt)
						cnt = info.nr_map_ids;
					mids = realloc(mids, (nm + cnt + 1) * sizeof(*mids));
					if (!mids)
						exit(2);
					for (j = 0; j < cnt; j++) {
						__u32 m;
						bool dup = false;

						for (m = 0; m < nm; m++)
							dup |= mids[m] == ids[j];
						if (!dup)
							mids[nm++] = ids[j];
					}
				}
				free(ids);
			}
		}
		close(fd);
	}
	print_prog_dumps(dumps, k);
	dump_maps(stdout, mids, nm);
	free(dumps);
	free(pids);
	free(mids);
	return rc;
}

static void usage(void);

/* ------------------------------------------------------------------ */
/* The "// bpfld:" directive engine, shared by --check (an object libbpf
 * loads here) and --check-ids (programs and maps another loader, bpfld,
 * created).  Both modes describe what exists as a check_env, a list of
 * named program and map fds, and run_directives() works from those fds and
 * the kernel alone (no bpf_object), so the two modes cannot drift apart and
 * a --check run also exercises the code --check-ids relies on.
 */

/* Built-in packets; the bytes are listed in selftests/progs/README.md. */
static const char PKT_V4TCP[] =
	"020000000002020000000001080045000028000140004006"
	"26cd0a0000010a0000023039005000000001000000005002ffff00000000";
static const char PKT_V6UDP[] =
	"02000000000202000000000186dd60000000000c1140"
	"fd000000000000000000000000000001fd000000000000000000000000000002"
	"30390035000c000062706621";

static int unhex(const char *s, unsigned char **out, size_t *n)
{
	size_t len = strlen(s), i;
	unsigned char *b;

	if (len % 2)
		return -EINVAL;
	b = xcalloc(len / 2, 1);
	for (i = 0; i < len / 2; i++) {
		unsigned int x;

		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &x) != 1) {
			free(b);
			return -EINVAL;
		}
		b[i] = (unsigned char)x;
	}
	*out = b;
	*n = len / 2;
	return 0;
}

static int parse_u64(const char *s, __u64 *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		return -EINVAL;
	*v = x;
	return 0;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fprintf(stderr, "libbpf_dump: out of memory\n");
		exit(2);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "libbpf_dump: out of memory\n");
		exit(2);
	}
	return p;
}

#define MAX_TOK 16
struct directive {
	int line;
	int ntok;
	char *tok[MAX_TOK]; /* point into buf */
	char *buf;
	char *rest; /* text after the verb: host-skip reason, expect-fail arguments */
};

struct directives {
	struct directive *d;
	size_t n;
	struct name_set skip_progs; /* host-skip prog=P */
	const char *obj_skip;       /* reason of an object-wide host-skip, else NULL */
	__u32 obj_fail;             /* errno of an object-wide expect-fail, else 0 */
};

static const char *dget(const struct directive *d, const char *key)
{
	size_t kl = strlen(key);
	int i;

	for (i = 1; i < d->ntok; i++)
		if (!strncmp(d->tok[i], key, kl) && d->tok[i][kl] == '=')
			return d->tok[i] + kl + 1;
	return NULL;
}

static bool dverb(const struct directive *d, const char *verb)
{
	return !strcmp(d->tok[0], verb);
}

static void free_directives(struct directives *ds)
{
	size_t i;

	for (i = 0; i < ds->n; i++) {
		free(ds->d[i].buf);
		free(ds->d[i].rest);
	}
	free(ds->d);
	set_free(&ds->skip_progs);
	memset(ds, 0, sizeof(*ds));
}

/*
 * Read the directives of src into ds (always left valid for
 * free_directives).  Returns 0, 2 if src cannot be read, or 1 after printing
 * a "not ok" line for an expect-fail without errno.
 */
static int parse_directives(const char *src, struct directives *ds)
{
	FILE *f = fopen(src, "r");
	char *line = NULL;
	size_t cap = 0, i;
	int lineno = 0;
	__u32 e;

	memset(ds, 0, sizeof(*ds));
	if (!f) {
		fprintf(stderr, "libbpf_dump: cannot read %s: %s\n", src, strerror(errno));
		return 2;
	}
	while (getline(&line, &cap, f) > 0) {
		char *p = strstr(line, "// bpfld:"), *save = NULL, *t;
		struct directive d = { .line = ++lineno };

		if (!p)
			continue;
		p += strlen("// bpfld:");
		p[strcspn(p, "\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		d.buf = xstrdup(p);
		for (t = strtok_r(d.buf, " \t", &save); t && d.ntok < MAX_TOK;
		     t = strtok_r(NULL, " \t", &save))
			d.tok[d.ntok++] = t;
		if (!d.ntok) {
			free(d.buf);
			continue;
		}
		p += strcspn(p, " \t");
		p += strspn(p, " \t");
		d.rest = xstrdup(p);
		ds->d = xrealloc(ds->d, (ds->n + 1) * sizeof(*ds->d));
		ds->d[ds->n++] = d;
	}
	free(line);
	fclose(f);

	for (i = 0; i < ds->n; i++) {
		const struct directive *d = &ds->d[i];
		const char *pn = dget(d, "prog"), *es = dget(d, "errno");

		if (dverb(d, "host-skip")) {
			if (pn)
				set_add(&ds->skip_progs, pn);
			else
				ds->obj_skip = d->rest;
		} else if (dverb(d, "expect-fail")) {
			if (!es || parse_u32(es, &e) || !e) {
				printf("not ok line %d: expect-fail needs errno=E\n", d->line);
				return 1;
			}
			if (!pn)
				ds->obj_fail = e;
		}
	}
	return 0;
}

/* Whether a load failure of program `name` is covered by a host-skip. */
static bool host_skipped(const struct directives *ds, const char *name)
{
	return ds->obj_skip || set_has(&ds->skip_progs, name);
}

/* Whether an "expect-fail prog=NAME" line exists (any errno). */
static bool expect_fail_named(const struct directives *ds, const char *name)
{
	size_t i;

	for (i = 0; i < ds->n; i++) {
		const char *pn = dget(&ds->d[i], "prog");

		if (dverb(&ds->d[i], "expect-fail") && pn && !strcmp(pn, name))
			return true;
	}
	return false;
}

struct env_prog {
	char *name; /* libbpf program name (the C function name) */
	int fd;
	__u32 type; /* program type, as the kernel reports it */
};

struct env_map {
	char *name;  /* libbpf map name / the name bpfld reports */
	char *alias; /* --check, libbpf internal maps: the section name
		      * (".bss" for "global_d.bss"), the name bpfld uses; or NULL
		      */
	int fd;
};

struct check_env {
	struct env_prog *progs;
	size_t nprogs;
	struct env_map *maps;
	size_t nmaps;
	bool owns_fds;              /* --check-ids opened them: close them */
	struct name_set not_loaded; /* programs whose "run" lines are skipped */
	bool skipped_some;          /* a host-skip program is missing: the
				     * map/global expectations are skipped */
};

static void env_add_prog(struct check_env *env, const char *name, int fd, __u32 type)
{
	env->progs = xrealloc(env->progs, (env->nprogs + 1) * sizeof(*env->progs));
	env->progs[env->nprogs].name = xstrdup(name);
	env->progs[env->nprogs].fd = fd;
	env->progs[env->nprogs].type = type;
	env->nprogs++;
}

static void env_add_map(struct check_env *env, const char *name, const char *alias, int fd)
{
	env->maps = xrealloc(env->maps, (env->nmaps + 1) * sizeof(*env->maps));
	env->maps[env->nmaps].name = xstrdup(name);
	env->maps[env->nmaps].alias = alias ? xstrdup(alias) : NULL;
	env->maps[env->nmaps].fd = fd;
	env->nmaps++;
}

static const struct env_prog *env_prog(const struct check_env *env, const char *name)
{
	size_t i;

	for (i = 0; i < env->nprogs; i++)
		if (!strcmp(env->progs[i].name, name))
			return &env->progs[i];
	return NULL;
}

static const struct env_map *env_map(const struct check_env *env, const char *name)
{
	size_t i;

	for (i = 0; i < env->nmaps; i++)
		if (!strcmp(env->maps[i].name, name) ||
		    (env->maps[i].alias && !strcmp(env->maps[i].alias, name)))
			return &env->maps[i];
	return NULL;
}

static void env_free(struct check_env *env)
{
	size_t i;

	for (i = 0; i < env->nprogs; i++) {
		if (env->owns_fds)
			close(env->progs[i].fd);
		free(env->progs[i].name);
	}
	for (i = 0; i < env->nmaps; i++) {
		if (env->owns_fds)
			close(env->maps[i].fd);
		free(env->maps[i].name);
		free(env->maps[i].alias);
	}
	free(env->progs);
	free(env->maps);
	set_free(&env->not_loaded);
	memset(env, 0, sizeof(*env));
}

static bool kind_matches(const char *kind, __u32 t)
{
	if (!strcmp(kind, "xdp"))
		return t == BPF_PROG_TYPE_XDP;
	if (!strcmp(kind, "skb"))
		return t == BPF_PROG_TYPE_SOCKET_FILTER ||
		       t == BPF_PROG_TYPE_SCHED_CLS ||
		       t == BPF_PROG_TYPE_SCHED_ACT ||
		       t == BPF_PROG_TYPE_CGROUP_SKB ||
		       t == BPF_PROG_TYPE_LWT_IN || t == BPF_PROG_TYPE_LWT_OUT ||
		       t == BPF_PROG_TYPE_LWT_XMIT;
	if (!strcmp(kind, "flow"))
		return t == BPF_PROG_TYPE_FLOW_DISSECTOR;
	if (!strcmp(kind, "syscall"))
		return t == BPF_PROG_TYPE_SYSCALL;
	if (!strcmp(kind, "raw_tp"))
		return t == BPF_PROG_TYPE_RAW_TRACEPOINT;
	if (!strcmp(kind, "tracing"))
		return t == BPF_PROG_TYPE_TRACING;
	return false;
}

static int check_run(const struct check_env *env, const struct directive *d, char *why,
		     size_t whylen)
{
	const char *pname = dget(d, "prog"), *kind = dget(d, "kind");
	const char *pkt = dget(d, "pkt"), *ctxs = dget(d, "ctx");
	const char *rets = dget(d, "retval"), *reps = dget(d, "repeat");
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	unsigned char *data = NULL, *ctx = NULL, out[512];
	size_t dlen = 0, clen = 0;
	const struct env_prog *prog;
	__u32 repeat = 1;
	__u64 want;
	char tbuf[32];
	int err, link_fd = -1;

	if (!pname || !kind || !rets || parse_u64(rets, &want) ||
	    (reps && parse_u32(reps, &repeat))) {
		snprintf(why, whylen, "malformed run directive");
		return -EINVAL;
	}
	prog = env_prog(env, pname);
	if (!prog) {
		snprintf(why, whylen, "program not loaded");
		return -ENOENT;
	}
	if (!kind_matches(kind, prog->type)) {
		snprintf(why, whylen, "kind=%s does not match program type %s", kind,
			 prog_type_str(prog->type, tbuf, sizeof(tbuf)));
		return -EINVAL;
	}
	if (!strcmp(kind, "xdp") || !strcmp(kind, "skb") || !strcmp(kind, "flow")) {
		const char *hexs = PKT_V4TCP;

		if (pkt && !strcmp(pkt, "v6udp"))
			hexs = PKT_V6UDP;
		else if (pkt && strcmp(pkt, "v4tcp")) {
			snprintf(why, whylen, "unknown pkt=%s", pkt);
			return -EINVAL;
		}
		unhex(hexs, &data, &dlen);
		topts.data_in = data;
		topts.data_size_in = dlen;
		topts.data_out = out;
		topts.data_size_out = sizeof(out);
	}
	if (ctxs) {
		if (unhex(ctxs, &ctx, &clen)) {
			snprintf(why, whylen, "bad ctx hex");
			err = -EINVAL;
			goto out;
		}
		topts.ctx_in = ctx;
		topts.ctx_size_in = clen;
	}
	if (!strcmp(kind, "tracing")) {
		/*
		 * Attach from the fd alone: BPF_RAW_TRACEPOINT_OPEN without a
		 * name attaches a BTF-based tracing program to the target and
		 * with the expected attach type (fentry/fexit/fmod_ret) it was
		 * loaded with (kernel/bpf/syscall.c bpf_raw_tp_link_attach ->
		 * bpf_tracing_prog_attach(prog, 0, 0, 0)), the same call
		 * libbpf's BPF_LINK_CREATE path ends in.  BPF_LINK_CREATE itself
		 * would need the expected attach type, which bpf_prog_info
		 * does not report.  Closing the link fd detaches.
		 */
		link_fd = bpf_raw_tracepoint_open(NULL, prog->fd);
		if (link_fd < 0) {
			err = -errno;
			snprintf(why, whylen, "attach: %s", strerror(-err));
			goto out;
		}
	}
	if (strcmp(kind, "tracing") && strcmp(kind, "raw_tp") && strcmp(kind, "syscall"))
		topts.repeat = repeat;
	err = 0;
	for (__u32 r = 0; r < (topts.repeat ? 1 : repeat) && !err; r++)
		err = bpf_prog_test_run_opts(prog->fd, &topts) ? -errno : 0;
	if (err) {
		snprintf(why, whylen, "test_run: %s", strerror(-err));
		goto out;
	}
	if (topts.retval != (__u32)want) {
		snprintf(why, whylen, "retval=%u (0x%x), want %llu", topts.retval,
			 topts.retval, (unsigned long long)want);
		err = -EBADMSG;
	}
out:
	if (link_fd >= 0)
		close(link_fd);
	free(data);
	free(ctx);
	return err;
}

/* Read `size` bytes at `off` of the value under `key`, little-endian;
 * percpu values are summed over the possible CPUs.
 */
static int read_value(int fd, const struct bpf_map_info *mi, __u64 key, __u32 off,
		      __u32 size, __u64 *v)
{
	bool percpu = mi->type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		      mi->type == BPF_MAP_TYPE_PERCPU_HASH ||
		      mi->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	int ncpu = percpu ? libbpf_num_possible_cpus() : 1, c;
	size_t stride = percpu ? (mi->value_size + 7) / 8 * 8 : mi->value_size;
	unsigned char kb[8] = {}, *val;
	__u32 b;

	if (ncpu < 1 || mi->key_size > 8 || size > 8 || off > mi->value_size ||
	    size > mi->value_size - off)
		return -EINVAL;
	for (b = 0; b < mi->key_size; b++)
		kb[b] = (unsigned char)(key >> (8 * b));
	val = xcalloc(ncpu, stride);
	if (bpf_map_lookup_elem(fd, kb, val)) {
		free(val);
		return -errno;
	}
	*v = 0;
	for (c = 0; c < ncpu; c++) {
		__u64 x = 0;

		for (b = 0; b < size; b++)
			x |= (__u64)val[c * stride + off + b] << (8 * b);
		*v += x;
	}
	free(val);
	return 0;
}

static int compare_value(__u64 got, __u64 want, char *why, size_t whylen)
{
	if (got == want)
		return 0;
	snprintf(why, whylen, "got %llu (0x%llx), want %llu", (unsigned long long)got,
		 (unsigned long long)got, (unsigned long long)want);
	return -EBADMSG;
}

static int check_map(const struct check_env *env, const struct directive *d, char *why,
		     size_t whylen)
{
	const char *name = d->ntok > 1 ? d->tok[1] : NULL;
	const char *ks = dget(d, "key"), *offs = dget(d, "off"), *szs = dget(d, "size");
	const char *exps = dget(d, "expect-after-run");
	const struct env_map *map;
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), off = 0, size = 0;
	__u64 key = 0, want, got;
	int err;

	if (!name || !exps || parse_u64(exps, &want) || (ks && parse_u64(ks, &key)) ||
	    (offs && parse_u32(offs, &off)) || (szs && parse_u32(szs, &size))) {
		snprintf(why, whylen, "malformed map directive");
		return -EINVAL;
	}
	map = env_map(env, name);
	if (!map) {
		snprintf(why, whylen, "no map %s", name);
		return -ENOENT;
	}
	if (bpf_obj_get_info_by_fd(map->fd, &mi, &len)) {
		err = -errno;
		snprintf(why, whylen, "map info: %s", strerror(-err));
		return err;
	}
	if (!szs)
		size = mi.value_size < 8 ? mi.value_size : 8;
	err = read_value(map->fd, &mi, key, off, size, &got);
	if (err) {
		snprintf(why, whylen, "lookup: %s", strerror(-err));
		return err;
	}
	return compare_value(got, want, why, whylen);
}

/*
 * Find global variable `var` in the map behind `fd` from the BTF the kernel
 * holds for the map: its value type (btf_value_type_id) must be a DATASEC
 * whose VAR `var` gives offset and size.  Fills mi.  Returns 0, -ENOENT if
 * the map has no such variable, else -errno.
 */
static int map_global(int fd, const char *var, struct bpf_map_info *mi, __u32 *off,
		      __u32 *size)
{
	const struct btf_type *t;
	__u32 len = sizeof(*mi);
	struct btf *btf;
	int err = -ENOENT, i;

	memset(mi, 0, sizeof(*mi));
	if (bpf_obj_get_info_by_fd(fd, mi, &len))
		return -errno;
	if (!mi->btf_id || !mi->btf_value_type_id)
		return -ENOENT;
	btf = btf__load_from_kernel_by_id(mi->btf_id);
	if (!btf)
		return -errno;
	t = btf__type_by_id(btf, mi->btf_value_type_id);
	if (t && btf_is_datasec(t)) {
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);

		for (i = 0; i < btf_vlen(t); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);
			const char *n = v && btf_is_var(v) ?
						btf__name_by_offset(btf, v->name_off) :
						NULL;

			if (n && !strcmp(n, var)) {
				*off = vs->offset;
				*size = vs->size;
				err = 0;
				break;
			}
		}
	}
	btf__free(btf);
	return err;
}

/* Global variable `var`, searched in every map of env (first match). */
static int check_global(const struct check_env *env, const struct directive *d, char *why,
			size_t whylen)
{
	const char *var = d->ntok > 1 ? d->tok[1] : NULL;
	const char *exps = dget(d, "expect-after-run");
	struct bpf_map_info mi;
	__u32 off = 0, size = 0;
	__u64 want, got;
	size_t i;
	int err;

	if (!var || !exps || parse_u64(exps, &want)) {
		snprintf(why, whylen, "malformed global directive");
		return -EINVAL;
	}
	for (i = 0; i < env->nmaps; i++) {
		err = map_global(env->maps[i].fd, var, &mi, &off, &size);
		if (err == -ENOENT)
			continue;
		if (err) {
			snprintf(why, whylen, "map %s: BTF: %s", env->maps[i].name, strerror(-err));
			return err;
		}
		if (size > 8) {
			snprintf(why, whylen, "variable %s has %u bytes, at most 8 are compared",
				 var, size);
			return -EINVAL;
		}
		err = read_value(env->maps[i].fd, &mi, 0, off, size, &got);
		if (err) {
			snprintf(why, whylen, "lookup: %s", strerror(-err));
			return err;
		}
		return compare_value(got, want, why, whylen);
	}
	snprintf(why, whylen, "no global variable %s", var);
	return -ENOENT;
}

/*
 * The runs, in file order, then the map/global expectations.  host-skip,
 * expect-fail, module-fail and kernel-needs lines are the modes' business.
 * Returns 1 if any line is "not ok", else 0.
 */
static int run_directives(const struct directives *ds, const struct check_env *env)
{
	char why[512];
	size_t i;
	int err, rc = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < ds->n; i++) {
			const struct directive *d = &ds->d[i];
			const char *verb = d->tok[0];
			bool is_run = !strcmp(verb, "run");

			if (!strcmp(verb, "host-skip") || !strcmp(verb, "expect-fail") ||
			    !strcmp(verb, "module-fail") || !strcmp(verb, "kernel-needs"))
				continue;
			if ((pass == 0) != is_run)
				continue;
			why[0] = '\0';
			if (is_run) {
				const char *pn = dget(d, "prog");

				if (pn && set_has(&env->not_loaded, pn)) {
					printf("skip line %d: run %s # not loaded\n", d->line, pn);
					continue;
				}
				err = check_run(env, d, why, sizeof(why));
			} else if (env->skipped_some) {
				/* expectations of a partly skipped object are not meaningful */
				printf("skip line %d: %s %s # host-skip\n", d->line, verb,
				       d->ntok > 1 ? d->tok[1] : "");
				continue;
			} else if (!strcmp(verb, "map")) {
				err = check_map(env, d, why, sizeof(why));
			} else if (!strcmp(verb, "global")) {
				err = check_global(env, d, why, sizeof(why));
			} else {
				snprintf(why, sizeof(why), "unknown directive '%s'", verb);
				err = -EINVAL;
			}
			printf("%s line %d: %s %s%s%s\n", err ? "not ok" : "ok", d->line, verb,
			       d->ntok > 1 ? d->tok[1] : "", err ? ": " : "", err ? why : "");
			if (err)
				rc = 1;
		}
	}
	return rc;
}

static int prog_info_fd(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* --check: load OBJ with libbpf, then run the directives on it. */
static int mode_check(const char *src, const char *path, const char *pin_root,
		      bool keep_pins)
{
	struct name_set disabled = {};
	struct load_result res = {};
	struct check_env env = {};
	struct directives ds;
	struct bpf_program *prog;
	struct bpf_map *map;
	size_t i, k;
	int err, rc;
	__u32 e;

	rc = parse_directives(src, &ds);
	if (rc)
		goto out;
	err = load_object(path, pin_root, &disabled, &res);
	if (ds.obj_fail) {
		if (!err) {
			printf("not ok expect-fail %s: loaded\n", path);
			rc = 1;
		} else {
			rc = (__u32)-err == ds.obj_fail ? 0 : 1;
			printf("%s expect-fail %s errno=%d\n", rc ? "not ok" : "ok", path, -err);
		}
		goto out;
	}
	if (err) {
		if (ds.obj_skip) {
			printf("skip %s # host-skip: %s\n", path, ds.obj_skip);
			rc = 0;
		} else {
			printf("not ok load %s: %s\n", path, strerror(-err));
			rc = 1;
		}
		goto out;
	}
	for (k = 0; k < res.nfails; k++) {
		const char *fname = res.fails[k].name;
		bool expected = false;

		for (i = 0; i < ds.n; i++) {
			const char *pn = dget(&ds.d[i], "prog"), *es = dget(&ds.d[i], "errno");

			if (dverb(&ds.d[i], "expect-fail") && pn && !strcmp(pn, fname) && es &&
			    !parse_u32(es, &e) && (int)e == res.fails[k].err)
				expected = true;
		}
		if (expected) {
			printf("ok expect-fail %s errno=%d\n", fname, res.fails[k].err);
		} else if (host_skipped(&ds, fname)) {
			printf("skip load %s errno=%d # host-skip\n", fname, res.fails[k].err);
		} else {
			printf("not ok load %s errno=%d\n", fname, res.fails[k].err);
			rc = 1;
		}
	}
	for (i = 0; i < ds.n; i++) {
		const char *pn = dget(&ds.d[i], "prog");

		if (dverb(&ds.d[i], "expect-fail") && pn && !set_has(&disabled, pn)) {
			printf("not ok expect-fail %s: loaded\n", pn);
			rc = 1;
		}
	}
	bpf_object__for_each_program(prog, res.obj) {
		struct bpf_prog_info info;
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;
		printf("ok load %s\n", bpf_program__name(prog));
		err = prog_info_fd(fd, &info);
		if (err) {
			printf("not ok load %s: prog info: %s\n", bpf_program__name(prog),
			       strerror(-err));
			rc = 1;
			continue;
		}
		env_add_prog(&env, bpf_program__name(prog), fd, info.type);
	}
	bpf_object__for_each_map(map, res.obj) {
		const char *name = bpf_map__name(map), *dot = strrchr(name, '.');
		int fd = bpf_map__fd(map);

		/* libbpf calls ".bss" "<obj>.bss"; bpfld calls it ".bss" */
		if (fd >= 0)
			env_add_map(&env, name,
				    bpf_map__is_internal(map) && name[0] != '.' && dot ? dot : NULL,
				    fd);
	}
	for (k = 0; k < disabled.n; k++) {
		set_add(&env.not_loaded, disabled.names[k]);
		if (host_skipped(&ds, disabled.names[k]))
			env.skipped_some = true;
	}
	rc |= run_directives(&ds, &env);
out:
	if (res.obj && !keep_pins)
		cleanup_pins(res.obj);
	bpf_object__close(res.obj);
	env_free(&env);
	free_directives(&ds);
	set_free(&disabled);
	free(res.fails);
	return rc;
}

/*
 * --check-ids: the directives of SRC against programs and maps that exist
 * already (loaded by bpfld), given as NAME=ID.  Loading is the caller's
 * business: expect-fail lines are only echoed as "# expect-fail" comments,
 * and a program the directives name but the caller did not give counts as
 * not loaded (a skip if a host-skip covers it, else "not ok").
 */
static int mode_check_ids(const char *src, int argc, char **argv)
{
	struct check_env env = { .owns_fds = true };
	struct directives ds;
	size_t i;
	int rc, a;

	rc = parse_directives(src, &ds);
	if (rc)
		goto out;
	for (a = 0; a < argc; a++) {
		bool is_prog = !strcmp(argv[a], "--prog");
		const char *arg, *eq;
		struct bpf_prog_info info;
		char *name;
		__u32 id;
		int fd, err;

		if ((!is_prog && strcmp(argv[a], "--map")) || a + 1 >= argc) {
			fprintf(stderr, "libbpf_dump: --check-ids: unexpected '%s'\n", argv[a]);
			usage();
			rc = 2;
			goto out;
		}
		arg = argv[++a];
		eq = strrchr(arg, '=');
		if (!eq || eq == arg || parse_u32(eq + 1, &id)) {
			fprintf(stderr, "libbpf_dump: --check-ids: '%s' is not NAME=ID\n", arg);
			usage();
			rc = 2;
			goto out;
		}
		name = strndup(arg, eq - arg);
		if (!name)
			exit(2);
		if (is_prog ? (env_prog(&env, name) || set_has(&env.not_loaded, name))
			    : env_map(&env, name) != NULL) {
			fprintf(stderr, "libbpf_dump: --check-ids: %s %s given twice\n",
				is_prog ? "program" : "map", name);
			free(name);
			rc = 2;
			goto out;
		}
		fd = is_prog ? bpf_prog_get_fd_by_id(id) : bpf_map_get_fd_by_id(id);
		if (fd < 0) {
			printf("not ok %s %s: id %u: %s\n", is_prog ? "load" : "map", name, id,
			       strerror(errno));
			if (is_prog)
				set_add(&env.not_loaded, name);
			free(name);
			rc = 1;
			continue;
		}
		if (!is_prog) {
			env_add_map(&env, name, NULL, fd);
			free(name);
			continue;
		}
		/* a wrong id would check another program: compare the kernel's
		 * name, NAME cut to BPF_OBJ_NAME_LEN - 1 characters (as libbpf
		 * and bpfld name programs)
		 */
		err = prog_info_fd(fd, &info);
		if (err || strncmp(info.name, name, sizeof(info.name) - 1)) {
			if (err)
				printf("not ok load %s: id %u: prog info: %s\n", name, id,
				       strerror(-err));
			else
				printf("not ok load %s: id %u is program '%s'\n", name, id,
				       info.name);
			set_add(&env.not_loaded, name);
			close(fd);
			free(name);
			rc = 1;
			continue;
		}
		printf("ok load %s\n", name);
		env_add_prog(&env, name, fd, info.type);
		free(name);
	}
	for (i = 0; i < ds.n; i++)
		if (dverb(&ds.d[i], "expect-fail"))
			printf("# expect-fail line %d: %s\n", ds.d[i].line, ds.d[i].rest);
	/* an object that must fail to load left nothing to check */
	if (ds.obj_fail)
		goto out;
	if (!argc && ds.obj_skip) {
		printf("skip %s # host-skip: %s\n", src, ds.obj_skip);
		goto out;
	}
	for (i = 0; i < ds.n; i++) {
		const struct directive *d = &ds.d[i];
		const char *pn = dget(d, "prog");

		if (!pn || !(dverb(d, "run") || dverb(d, "host-skip")) || env_prog(&env, pn) ||
		    set_has(&env.not_loaded, pn))
			continue;
		set_add(&env.not_loaded, pn);
		if (expect_fail_named(&ds, pn))
			continue;
		if (host_skipped(&ds, pn)) {
			printf("skip load %s # host-skip: not given\n", pn);
			env.skipped_some = true;
		} else {
			printf("not ok load %s: not given (--prog %s=ID)\n", pn, pn);
			rc = 1;
		}
	}
	rc |= run_directives(&ds, &env);
out:
	env_free(&env);
	free_directives(&ds);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: libbpf_dump [-v] [--all | --only PROG[,PROG...]] [--keep-pins] [--pin-root DIR] OBJ\n"
		"       libbpf_dump [-v] --ids PROG_ID... [--map-ids MAP_ID...]\n"
		"       libbpf_dump [-v] [--keep-pins] [--pin-root DIR] --check SRC OBJ\n"
		"       libbpf_dump [-v] --check-ids SRC [--prog NAME=ID]... [--map NAME=ID]...\n");
}

int main(int argc, char **argv)
{
	const char *pin_root = NULL, *check_src = NULL;
	bool keep_pins = false;
	int a = 1;

	libbpf_set_print(print_fn);
	while (a < argc && argv[a][0] == '-') {
		if (!strcmp(argv[a], "-v")) {
			verbose = true;
			a++;
		} else if (!strcmp(argv[a], "--all")) {
			all_programs = true;
			a++;
		} else if (!strcmp(argv[a], "--only") && a + 1 < argc) {
			only_programs = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--keep-pins")) {
			keep_pins = true;
			a++;
		} else if (!strcmp(argv[a], "--pin-root") && a + 1 < argc) {
			pin_root = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--check") && a + 1 < argc) {
			check_src = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--check-ids") && a + 1 < argc) {
			return mode_check_ids(argv[a + 1], argc - a - 2, argv + a + 2);
		} else if (!strcmp(argv[a], "--ids")) {
			if (a + 1 >= argc) {
				usage();
				return 2;
			}
			return mode_ids(argc - a - 1, argv + a + 1);
		} else {
			usage();
			return 2;
		}
	}
	if (a + 1 != argc) {
		usage();
		return 2;
	}
	if (check_src)
		return mode_check(check_src, argv[a], pin_root, keep_pins);
	return mode_obj(argv[a], pin_root, keep_pins);
}
