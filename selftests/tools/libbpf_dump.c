// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libbpf_dump: the libbpf reference side of bpfld's differential tests.
 *
 *   libbpf_dump [-v] [--keep-pins] [--pin-root DIR] OBJ
 *       Open OBJ with libbpf (honouring autoload, i.e. SEC("?...")), load it
 *       and dump what the kernel holds.  Exit 0 only if every autoload
 *       program loaded.
 *   libbpf_dump [-v] --ids PROG_ID... [--map-ids MAP_ID...]
 *       Dump programs that already exist (e.g. loaded by bpfld) by id, with
 *       exactly the same code and normalisation.  The maps dumped are the
 *       --map-ids given, else every map used by the programs.
 *   libbpf_dump [-v] [--keep-pins] [--pin-root DIR] --check SRC OBJ
 *       Load OBJ and execute the "// bpfld:" directives found in SRC (see
 *       selftests/progs/README.md): BPF_PROG_TEST_RUN runs and map/global
 *       expectations.  Prints one "ok"/"not ok"/"skip" line per step.
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

/* ------------------------------------------------------------------ */
/* --check: the "// bpfld:" directive runner. */

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

#define MAX_TOK 16
struct directive {
	int line;
	int ntok;
	char *tok[MAX_TOK];
	char *rest; /* text after the verb, for host-skip reasons */
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

static int read_directives(const char *src, struct directive **out, size_t *n)
{
	FILE *f = fopen(src, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;

	if (!f)
		return -errno;
	*out = NULL;
	*n = 0;
	while (getline(&line, &cap, f) > 0) {
		char *p = strstr(line, "// bpfld:"), *save = NULL, *t;
		struct directive d = { .line = ++lineno };

		if (!p) {
			continue;
		}
		p += strlen("// bpfld:");
		p[strcspn(p, "\n")] = '\0';
		while (*p == ' ')
			p++;
		d.rest = strdup(p);
		{
			char *sp = strchr(d.rest, ' ');

			if (sp)
				memmove(d.rest, sp + 1, strlen(sp + 1) + 1);
			else
				d.rest[0] = '\0';
		}
		p = strdup(p);
		for (t = strtok_r(p, " \t", &save); t && d.ntok < MAX_TOK;
		     t = strtok_r(NULL, " \t", &save))
			d.tok[d.ntok++] = t;
		if (!d.ntok)
			continue;
		*out = realloc(*out, (*n + 1) * sizeof(**out));
		if (!*out)
			exit(2);
		(*out)[(*n)++] = d;
	}
	free(line);
	fclose(f);
	return 0;
}

static bool kind_matches(const char *kind, enum bpf_prog_type t)
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

static int check_run(struct bpf_object *obj, const struct directive *d, char *why,
		     size_t whylen)
{
	const char *pname = dget(d, "prog"), *kind = dget(d, "kind");
	const char *pkt = dget(d, "pkt"), *ctxs = dget(d, "ctx");
	const char *rets = dget(d, "retval"), *reps = dget(d, "repeat");
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	unsigned char *data = NULL, *ctx = NULL, out[512];
	size_t dlen = 0, clen = 0;
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	__u32 repeat = 1;
	__u64 want;
	int err, fd;

	if (!pname || !kind || !rets || parse_u64(rets, &want) ||
	    (reps && parse_u32(reps, &repeat))) {
		snprintf(why, whylen, "malformed run directive");
		return -EINVAL;
	}
	prog = bpf_object__find_program_by_name(obj, pname);
	if (!prog || (fd = bpf_program__fd(prog)) < 0) {
		snprintf(why, whylen, "program not loaded");
		return -ENOENT;
	}
	if (!kind_matches(kind, bpf_program__type(prog))) {
		snprintf(why, whylen, "kind=%s does not match program type %s", kind,
			 libbpf_bpf_prog_type_str(bpf_program__type(prog)));
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
			return -EINVAL;
		}
		topts.ctx_in = ctx;
		topts.ctx_size_in = clen;
	}
	if (!strcmp(kind, "tracing")) {
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "attach: %s", strerror(-err));
			goto out;
		}
	}
	if (strcmp(kind, "tracing") && strcmp(kind, "raw_tp") && strcmp(kind, "syscall"))
		topts.repeat = repeat;
	err = 0;
	for (__u32 r = 0; r < (topts.repeat ? 1 : repeat) && !err; r++)
		err = bpf_prog_test_run_opts(fd, &topts) ? -errno : 0;
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
	bpf_link__destroy(link);
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

	if (ncpu < 1 || mi->key_size > 8 || size > 8 || off + size > mi->value_size)
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

static int check_map(struct bpf_object *obj, const struct directive *d, char *why,
		     size_t whylen)
{
	const char *name = d->ntok > 1 ? d->tok[1] : NULL;
	const char *ks = dget(d, "key"), *offs = dget(d, "off"), *szs = dget(d, "size");
	const char *exps = dget(d, "expect-after-run");
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), off = 0, size;
	__u64 key = 0, want, got;
	struct bpf_map *map;
	int fd, err;

	if (!name || !exps || parse_u64(exps, &want) || (ks && parse_u64(ks, &key)) ||
	    (offs && parse_u32(offs, &off)) || (szs && parse_u32(szs, &size))) {
		snprintf(why, whylen, "malformed map directive");
		return -EINVAL;
	}
	map = bpf_object__find_map_by_name(obj, name);
	if (!map || (fd = bpf_map__fd(map)) < 0) {
		snprintf(why, whylen, "no map %s", name);
		return -ENOENT;
	}
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return -errno;
	if (!szs)
		size = mi.value_size < 8 ? mi.value_size : 8;
	err = read_value(fd, &mi, key, off, size, &got);
	if (err) {
		snprintf(why, whylen, "lookup: %s", strerror(-err));
		return err;
	}
	if (got != want) {
		snprintf(why, whylen, "got %llu (0x%llx), want %llu",
			 (unsigned long long)got, (unsigned long long)got,
			 (unsigned long long)want);
		return -EBADMSG;
	}
	return 0;
}

/* Find global variable `var` in the DATASEC of any internal map. */
static int check_global(struct bpf_object *obj, const struct directive *d, char *why,
			size_t whylen)
{
	const char *var = d->ntok > 1 ? d->tok[1] : NULL;
	const char *exps = dget(d, "expect-after-run");
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	__u64 want, got;

	if (!var || !exps || parse_u64(exps, &want) || !btf) {
		snprintf(why, whylen, "malformed global directive or no BTF");
		return -EINVAL;
	}
	bpf_object__for_each_map(map, obj) {
		__u32 vt = bpf_map__btf_value_type_id(map);
		const struct btf_type *t = vt ? btf__type_by_id(btf, vt) : NULL;
		const struct btf_var_secinfo *vs;
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);
		int i, fd, err;

		if (!t || !btf_is_datasec(t))
			continue;
		vs = btf_var_secinfos(t);
		for (i = 0; i < btf_vlen(t); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);

			if (strcmp(btf__name_by_offset(btf, v->name_off), var))
				continue;
			fd = bpf_map__fd(map);
			if (vs->size > 8 || fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &len)) {
				snprintf(why, whylen, "variable %s unreadable", var);
				return -EINVAL;
			}
			err = read_value(fd, &mi, 0, vs->offset, vs->size, &got);
			if (err) {
				snprintf(why, whylen, "lookup: %s", strerror(-err));
				return err;
			}
			if (got != want) {
				snprintf(why, whylen, "got %llu (0x%llx), want %llu",
					 (unsigned long long)got, (unsigned long long)got,
					 (unsigned long long)want);
				return -EBADMSG;
			}
			return 0;
		}
	}
	snprintf(why, whylen, "no global variable %s", var);
	return -ENOENT;
}

static int mode_check(const char *src, const char *path, const char *pin_root,
		      bool keep_pins)
{
	struct name_set disabled = {}, skip_progs = {};
	struct load_result res = {};
	struct directive *ds = NULL;
	struct bpf_program *prog;
	const char *obj_skip = NULL;
	__u32 obj_fail = 0, e;
	bool skipped_some = false;
	size_t nd = 0, i, k;
	char why[512];
	int err, rc = 0;

	if (read_directives(src, &ds, &nd)) {
		fprintf(stderr, "libbpf_dump: cannot read %s\n", src);
		return 2;
	}
	for (i = 0; i < nd; i++) {
		const char *pn = dget(&ds[i], "prog"), *es = dget(&ds[i], "errno");

		if (!strcmp(ds[i].tok[0], "host-skip")) {
			if (pn)
				set_add(&skip_progs, pn);
			else
				obj_skip = ds[i].rest;
		} else if (!strcmp(ds[i].tok[0], "expect-fail")) {
			if (!es || parse_u32(es, &e) || !e) {
				printf("not ok line %d: expect-fail needs errno=E\n", ds[i].line);
				return 1;
			}
			if (!pn)
				obj_fail = e;
		}
	}

	err = load_object(path, pin_root, &disabled, &res);
	if (obj_fail) {
		if (!err) {
			printf("not ok expect-fail %s: loaded\n", path);
			rc = 1;
			goto out;
		}
		printf("%s expect-fail %s errno=%d\n", (__u32)-err == obj_fail ? "ok" : "not ok",
		       path, -err);
		return (__u32)-err == obj_fail ? 0 : 1;
	}
	if (err) {
		if (obj_skip) {
			printf("skip %s # host-skip: %s\n", path, obj_skip);
			return 0;
		}
		printf("not ok load %s: %s\n", path, strerror(-err));
		return 1;
	}
	for (k = 0; k < res.nfails; k++) {
		const char *fname = res.fails[k].name;
		bool expected = false;

		for (i = 0; i < nd; i++) {
			const char *pn = dget(&ds[i], "prog"), *es = dget(&ds[i], "errno");

			if (!strcmp(ds[i].tok[0], "expect-fail") && pn && !strcmp(pn, fname) &&
			    es && !parse_u32(es, &e) && (int)e == res.fails[k].err)
				expected = true;
		}
		if (expected) {
			printf("ok expect-fail %s errno=%d\n", fname, res.fails[k].err);
		} else if (set_has(&skip_progs, fname) || obj_skip) {
			printf("skip load %s errno=%d # host-skip\n", fname, res.fails[k].err);
		} else {
			printf("not ok load %s errno=%d\n", fname, res.fails[k].err);
			rc = 1;
		}
	}
	for (i = 0; i < nd; i++) {
		const char *pn = dget(&ds[i], "prog");

		if (!strcmp(ds[i].tok[0], "expect-fail") && pn && !set_has(&disabled, pn)) {
			printf("not ok expect-fail %s: loaded\n", pn);
			rc = 1;
		}
	}
	bpf_object__for_each_program(prog, res.obj) {
		if (bpf_program__fd(prog) >= 0)
			printf("ok load %s\n", bpf_program__name(prog));
	}
	for (k = 0; k < disabled.n; k++)
		if (set_has(&skip_progs, disabled.names[k]) || obj_skip)
			skipped_some = true;
	/* runs first, in order, then the expectations */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < nd; i++) {
			const struct directive *d = &ds[i];
			const char *verb = d->tok[0];
			bool is_run = !strcmp(verb, "run");

			if (!strcmp(verb, "host-skip") || !strcmp(verb, "expect-fail"))
				continue;
			if ((pass == 0) != is_run)
				continue;
			why[0] = '\0';
			if (is_run) {
				const char *pn = dget(d, "prog");

				if (pn && set_has(&disabled, pn)) {
					printf("skip line %d: run %s # not loaded\n", d->line, pn);
					continue;
				}
				err = check_run(res.obj, d, why, sizeof(why));
			} else if (skipped_some) {
				/* expectations of a partly skipped object are not meaningful */
				printf("skip line %d: %s %s # host-skip\n", d->line, verb,
				       d->ntok > 1 ? d->tok[1] : "");
				continue;
			} else if (!strcmp(verb, "map")) {
				err = check_map(res.obj, d, why, sizeof(why));
			} else if (!strcmp(verb, "global")) {
				err = check_global(res.obj, d, why, sizeof(why));
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
out:
	if (!keep_pins)
		cleanup_pins(res.obj);
	bpf_object__close(res.obj);
	set_free(&disabled);
	set_free(&skip_progs);
	free(res.fails);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: libbpf_dump [-v] [--keep-pins] [--pin-root DIR] OBJ\n"
		"       libbpf_dump [-v] --ids PROG_ID... [--map-ids MAP_ID...]\n"
		"       libbpf_dump [-v] [--keep-pins] [--pin-root DIR] --check SRC OBJ\n");
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
		} else if (!strcmp(argv[a], "--keep-pins")) {
			keep_pins = true;
			a++;
		} else if (!strcmp(argv[a], "--pin-root") && a + 1 < argc) {
			pin_root = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--check") && a + 1 < argc) {
			check_src = argv[a + 1];
			a += 2;
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
