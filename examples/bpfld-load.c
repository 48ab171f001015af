// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfld-load: load a BPF object through /dev/bpfld and pin what it created.
 *
 *   bpfld-load OBJ PIN_DIR
 *
 * The loader ABI is only <linux/bpfld.h>; pinning is bpf(BPF_OBJ_PIN) from
 * <linux/bpf.h>. The object must sit on a filesystem with fs-verity enabled for it,
 * and its digest must be trusted by the module's policy. PIN_DIR (on bpffs) is created
 * if missing; programs are pinned as PIN_DIR/prog_NAME and maps as PIN_DIR/map_NAME,
 * with a leading '.' dropped and other '.' made '_' (bpffs refuses dots: ".rodata.str1.1"
 * becomes map_rodata_str1_1), as `bpfld load --pin` names them.
 *
 * All or nothing: on any failure it prints why (the module's explanation with the errno,
 * and the verifier log if a program was rejected), removes the pins it made and the
 * directory if it created it, and exits 1; the BPF objects go away with their last fd.
 * Every fd it opens is closed on every path.
 *
 * Build (dynamically linked, warning-free):
 *   cc -O2 -Wall -Wextra -Werror -I include/uapi examples/bpfld-load.c -o bpfld-load
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/bpfld.h>

#define LOG_SIZE (1U << 20)

/* PIN_DIR/KIND_NAME, with NAME made a valid bpffs name. */
static int pin_path(char *buf, size_t size, const char *dir, const char *kind,
		    const char *name, size_t name_size)
{
	size_t len = strnlen(name, name_size);
	char *p;
	int n;

	if (len && name[0] == '.') {
		name++;
		len--;
	}
	n = snprintf(buf, size, "%s/%s_%.*s", dir, kind, (int)len, name);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "bpfld-load: pin path too long for %s %.*s\n", kind, (int)len, name);
		return -ENAMETOOLONG;
	}
	for (p = buf + strlen(dir) + 1; *p; p++)
		if (*p == '.' || *p == '/')
			*p = '_';
	return 0;
}

static int pin(int fd, const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)path;
	attr.bpf_fd = (__u32)fd;
	if (syscall(__NR_bpf, BPF_OBJ_PIN, &attr, sizeof(attr)) < 0) {
		int err = errno;

		fprintf(stderr, "bpfld-load: pin %s: %s\n", path, strerror(err));
		return -err;
	}
	printf("%s\n", path);
	return 0;
}

/* Remove the first n pins of the object's maps, then of its programs. */
static void unpin(const char *dir, const struct bpfld_map_info *maps, __u32 n_maps,
		  const struct bpfld_prog_info *progs, __u32 n_progs)
{
	char path[4096];
	__u32 i;

	for (i = 0; i < n_maps + n_progs; i++) {
		int err = i < n_maps ?
			pin_path(path, sizeof(path), dir, "map", maps[i].name, sizeof(maps[i].name)) :
			pin_path(path, sizeof(path), dir, "prog", progs[i - n_maps].name,
				 sizeof(progs[i - n_maps].name));

		if (!err && unlink(path) < 0)
			fprintf(stderr, "bpfld-load: unlink %s: %s\n", path, strerror(errno));
	}
}

/* BPFLD_IOC_LOAD, growing the result arrays if the module says they are too small. */
static int load(int dev, int obj, const char *path, char *log,
		struct bpfld_load *req, struct bpfld_prog_info **progs,
		struct bpfld_map_info **maps)
{
	__u32 nprogs = 8, nmaps = 8;
	int err;

	for (;;) {
		free(*progs);
		free(*maps);
		*progs = calloc(nprogs, sizeof(**progs));
		*maps = calloc(nmaps, sizeof(**maps));
		if (!*progs || !*maps) {
			fprintf(stderr, "bpfld-load: out of memory\n");
			return -ENOMEM;
		}
		memset(req, 0, sizeof(*req));
		req->size = sizeof(*req);
		req->obj_fd = obj;
		req->log_buf = (uintptr_t)log;
		req->log_size = LOG_SIZE;
		req->prog_info_size = sizeof(**progs);
		req->progs = (uintptr_t)*progs;
		req->progs_cnt = nprogs;
		req->map_info_size = sizeof(**maps);
		req->maps = (uintptr_t)*maps;
		req->maps_cnt = nmaps;
		log[0] = '\0';
		if (ioctl(dev, BPFLD_IOC_LOAD, req) == 0) {
			if (req->progs_cnt > nprogs || req->maps_cnt > nmaps) {
				/* Cannot happen with a correct module; never index past the
				 * arrays (the fds it installed close when we exit).
				 */
				fprintf(stderr, "bpfld-load: %s: module reported %u programs and %u maps for arrays of %u and %u\n",
					path, req->progs_cnt, req->maps_cnt, nprogs, nmaps);
				return -EPROTO;
			}
			return 0;
		}
		if (errno == ENOSPC && (req->progs_cnt > nprogs || req->maps_cnt > nmaps)) {
			/* The module says how much room it needs; nothing was loaded. */
			nprogs = req->progs_cnt > nprogs ? req->progs_cnt : nprogs;
			nmaps = req->maps_cnt > nmaps ? req->maps_cnt : nmaps;
			continue;
		}
		err = errno;
		req->err_msg[sizeof(req->err_msg) - 1] = '\0';
		fprintf(stderr, "bpfld-load: %s: %s%s%s (errno %d)\n", path, req->err_msg,
			req->err_msg[0] ? ": " : "", strerror(err), err);
		log[LOG_SIZE - 1] = '\0';
		if (log[0])
			fprintf(stderr, "-- verifier log --\n%s\n", log);
		/* Nothing was created: the module installs no fd on failure. */
		return -err;
	}
}

int main(int argc, char **argv)
{
	struct bpfld_prog_info *progs = NULL;
	struct bpfld_map_info *maps = NULL;
	__u32 i, maps_pinned = 0, progs_pinned = 0;
	int dev = -1, obj = -1, loaded = 0, dir_created = 0, err;
	struct bpfld_load req;
	const char *dir;
	char *log = NULL;
	char path[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJ PIN_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	memset(&req, 0, sizeof(req));

	dev = open("/dev/bpfld", O_RDONLY | O_CLOEXEC);
	if (dev < 0) {
		err = -errno;
		fprintf(stderr, "bpfld-load: /dev/bpfld: %s (is bpfld.ko loaded?)\n", strerror(-err));
		goto out;
	}
	obj = open(argv[1], O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (obj < 0) {
		err = -errno;
		fprintf(stderr, "bpfld-load: %s: %s\n", argv[1], strerror(-err));
		goto out;
	}
	log = malloc(LOG_SIZE);
	if (!log) {
		err = -ENOMEM;
		fprintf(stderr, "bpfld-load: out of memory\n");
		goto out;
	}
	err = load(dev, obj, argv[1], log, &req, &progs, &maps);
	if (err)
		goto out;
	loaded = 1;

	if (mkdir(dir, 0700) == 0) {
		dir_created = 1;
	} else if (errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "bpfld-load: %s: %s\n", dir, strerror(-err));
		goto out;
	}
	/* Maps first: whoever finds a program pinned finds its maps. */
	for (i = 0; i < req.maps_cnt && !err; i++) {
		err = pin_path(path, sizeof(path), dir, "map", maps[i].name, sizeof(maps[i].name));
		if (!err)
			err = pin(maps[i].fd, path);
		if (!err)
			maps_pinned++;
	}
	for (i = 0; i < req.progs_cnt && !err; i++) {
		err = pin_path(path, sizeof(path), dir, "prog", progs[i].name, sizeof(progs[i].name));
		if (!err)
			err = pin(progs[i].fd, path);
		if (!err)
			progs_pinned++;
	}
	if (err) {
		unpin(dir, maps, maps_pinned, progs, progs_pinned);
		if (dir_created && rmdir(dir) < 0)
			fprintf(stderr, "bpfld-load: rmdir %s: %s\n", dir, strerror(errno));
	}
out:
	/* The pins (if any) hold the objects now; our fds are no longer needed. */
	for (i = 0; loaded && i < req.progs_cnt; i++)
		close(progs[i].fd);
	for (i = 0; loaded && i < req.maps_cnt; i++)
		close(maps[i].fd);
	free(progs);
	free(maps);
	free(log);
	if (obj >= 0)
		close(obj);
	if (dev >= 0)
		close(dev);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
