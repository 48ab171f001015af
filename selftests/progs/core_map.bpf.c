// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Direct (not probed) CO-RE loads from the kernel's struct bpf_map.
 *
 * The address of a map, &map, is a CONST_PTR_TO_MAP that a privileged
 * program may dereference as the map's BTF type (struct bpf_array for
 * arrays, struct bpf_htab for hashes: the verifier checks each load against
 * that type).  vmlinux.h's types carry preserve_access_index, so every
 * m->field is a plain load whose offset is a CO-RE relocation: struct
 * bpf_map's layout differs a lot between kernels (map_type is at byte 24
 * in 6.12 and 64 in 6.18).
 *
 * - map_array: map_type (compared with the relocated enumerator
 *   BPF_MAP_TYPE_ARRAY), key/value size, max_entries, the name (array
 *   member, byte by byte), and through container type struct bpf_array:
 *   elem_size (value size rounded up to 8) and index_mask (3 for 3
 *   entries); returns max_entries.
 * - map_hash: a hash map's map_flags (BPF_F_NO_PREALLOC) and struct
 *   bpf_htab::n_buckets (max_entries rounded up to a power of two: 8);
 *   a flavor struct bpf_map___lite reads max_entries through its own
 *   definition; returns n_buckets.
 */
// bpfld: run prog=map_array kind=syscall retval=3
// bpfld: run prog=map_hash kind=syscall retval=8
// bpfld: global mp_type expect-after-run=1
// bpfld: global mp_sizes expect-after-run=1
// bpfld: global mp_name expect-after-run=1
// bpfld: global mp_elem expect-after-run=16
// bpfld: global mp_mask expect-after-run=3
// bpfld: global mh_flags expect-after-run=1
// bpfld: global mh_flavor expect-after-run=5
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct val12 {
	__u32 a, b, c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct val12);
} core_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 5);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u32);
} core_hash SEC(".maps");

struct bpf_map___lite {
	__u32 max_entries;
	__u32 map_flags;
} __attribute__((preserve_access_index));

__u64 mp_type, mp_sizes, mp_name, mp_elem, mp_mask;
__u64 mh_flags, mh_flavor;

SEC("syscall")
int map_array(void *ctx)
{
	struct bpf_array *arr = (struct bpf_array *)&core_arr;
	struct bpf_map *m = &arr->map;

	mp_type = m->map_type == bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_ARRAY);
	mp_sizes = m->key_size == 4 && m->value_size == 12;
	/* Each m->name[N] is its own relocated load: the verifier refuses
	 * any other arithmetic on a map pointer than adding 0.
	 */
	mp_name = m->name[0] == 'c' && m->name[5] == 'a' && m->name[7] == 'r' && m->name[8] == 0;
	mp_elem = arr->elem_size;
	mp_mask = arr->index_mask;
	return m->max_entries;
}

SEC("syscall")
int map_hash(void *ctx)
{
	struct bpf_htab *h = (struct bpf_htab *)&core_hash;
	struct bpf_map___lite *lite = (struct bpf_map___lite *)&core_hash;

	mh_flags = h->map.map_flags == BPF_F_NO_PREALLOC &&
		   h->map.map_type == bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_HASH);
	mh_flavor = lite->max_entries;
	return h->n_buckets;
}

char LICENSE[] SEC("license") = "GPL";
