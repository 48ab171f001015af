// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfld-load: load a BPF object through /dev/bpfld and pin what it created.
 *
 *   bpfld-load OBJ PIN_DIR
 *
 * Uses only <linux/bpfld.h> (and <linux/bpf.h> for BPF_OBJ_PIN). The object must sit
 * on a filesystem with fs-verity enabled for it, and its digest must be trusted by the
 * module's policy. Programs are pinned as PIN_DIR/prog_NAME, maps as PIN_DIR/map_NAME.
 * On failure it prints the module's explanation (and the verifier log, if a program
 * was rejected) and exits with status 1; nothing is left behind.
 *
 * Build: cc -O2 -Wall -I include/uapi examples/bpfld-load.c -o bpfld-load
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

#define LOG_SIZE (1 << 20)

static int pin(int fd, const char *dir, const char *kind, const char *name)
{
	union bpf_attr attr;
	char path[4096];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s_%s", dir, kind, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "bpfld-load: pin path too long for %s\n", name);
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)path;
	attr.bpf_fd = fd;
	if (syscall(SYS_bpf, BPF_OBJ_PIN, &attr, sizeof(attr)) < 0) {
		fprintf(stderr, "bpfld-load: pin %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("%s\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpfld_prog_info *progs = NULL;
	struct bpfld_map_info *maps = NULL;
	struct bpfld_load req;
	__u32 nprogs = 8, nmaps = 8, i;
	char *log = NULL;
	int dev = -1, obj = -1, ret = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJ PIN_DIR\n", argv[0]);
		return 2;
	}
	dev = open("/dev/bpfld", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "bpfld-load: /dev/bpfld: %s\n", strerror(errno));
		goto out;
	}
	obj = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (obj < 0) {
		fprintf(stderr, "bpfld-load: %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	log = calloc(1, LOG_SIZE);
	if (!log)
		goto out;
	for (;;) {
		free(progs);
		free(maps);
		progs = calloc(nprogs, sizeof(*progs));
		maps = calloc(nmaps, sizeof(*maps));
		if (!progs || !maps)
			goto out;
		memset(&req, 0, sizeof(req));
		req.size = sizeof(req);
		req.obj_fd = obj;
		req.log_buf = (uintptr_t)log;
		req.log_size = LOG_SIZE;
		req.prog_info_size = sizeof(*progs);
		req.progs = (uintptr_t)progs;
		req.progs_cnt = nprogs;
		req.map_info_size = sizeof(*maps);
		req.maps = (uintptr_t)maps;
		req.maps_cnt = nmaps;
		if (ioctl(dev, BPFLD_IOC_LOAD, &req) == 0)
			break;
		if (errno == ENOSPC && (req.progs_cnt > nprogs || req.maps_cnt > nmaps)) {
			/* The module says how much room it needs: nothing was loaded. */
			nprogs = req.progs_cnt > nprogs ? req.progs_cnt : nprogs;
			nmaps = req.maps_cnt > nmaps ? req.maps_cnt : nmaps;
			continue;
		}
		fprintf(stderr, "bpfld-load: %s: %s (%s)\n", argv[1], req.err_msg, strerror(errno));
		if (log[0])
			fprintf(stderr, "-- verifier log --\n%s\n", log);
		goto out;
	}
	if (mkdir(argv[2], 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bpfld-load: %s: %s\n", argv[2], strerror(errno));
		goto close_all;
	}
	ret = 0;
	for (i = 0; i < req.progs_cnt; i++)
		if (pin(progs[i].fd, argv[2], "prog", progs[i].name))
			ret = 1;
	for (i = 0; i < req.maps_cnt; i++)
		if (pin(maps[i].fd, argv[2], "map", maps[i].name[0] == '.' ? maps[i].name + 1 : maps[i].name))
			ret = 1;
close_all:
	/* Pins hold the objects; our fds are no longer needed. */
	for (i = 0; i < req.progs_cnt; i++)
		close(progs[i].fd);
	for (i = 0; i < req.maps_cnt; i++)
		close(maps[i].fd);
out:
	free(progs);
	free(maps);
	free(log);
	if (obj >= 0)
		close(obj);
	if (dev >= 0)
		close(dev);
	return ret;
}
