// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for bpfld where Linux 6.12 has no Rust bindings: the misc device (there is no
 * kernel::miscdevice before 6.13), the BPF_INTERNAL namespace import (6.12's `module!`
 * cannot express it) and prototypes for symbols without a header.
 */
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/uidgid.h>
#include <linux/version.h>

/* kern_sys_bpf() lives in the BPF_INTERNAL namespace. */
MODULE_IMPORT_NS(BPF_INTERNAL);

/* Implemented in Rust (rust/bpfld/bpfld_main.rs). */
long bpfld_rust_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* Exported by kernel/bpf/syscall.c without a header prototype. */
int kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size);

static const struct file_operations bpfld_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = bpfld_rust_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice bpfld_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "bpfld",
	.fops = &bpfld_fops,
	/* Root only: the trust policy gates loads, capabilities are checked per ioctl. */
	.mode = 0600,
};

int bpfld_misc_register(void);
int bpfld_misc_register(void)
{
	return misc_register(&bpfld_misc);
}

void bpfld_misc_deregister(void);
void bpfld_misc_deregister(void)
{
	misc_deregister(&bpfld_misc);
}

int bpfld_sys_bpf(int cmd, void *attr, unsigned int size);
int bpfld_sys_bpf(int cmd, void *attr, unsigned int size)
{
	return kern_sys_bpf(cmd, attr, size);
}

/*
 * Development mode: trust every fs-verity file. Read-only after load, so it can only
 * be chosen by whoever loads the module (insmod bpfld.ko dev_mode=1), and every load
 * says so in the log.
 */
static bool dev_mode;
module_param(dev_mode, bool, 0444);
MODULE_PARM_DESC(dev_mode, "DEVELOPMENT ONLY: trust every fs-verity file (logged on every load)");

bool bpfld_dev_mode(void);
bool bpfld_dev_mode(void)
{
	return dev_mode;
}

/* --- The object file ------------------------------------------------------------- */

/* fget() refuses O_PATH fds (FMODE_PATH), so those come back NULL like bad fds. */
struct file *bpfld_fget(int fd);
struct file *bpfld_fget(int fd)
{
	return fget(fd);
}

void bpfld_fput(struct file *file);
void bpfld_fput(struct file *file)
{
	fput(file);
}

/* 0: regular file, 1: directory, 2: anything else (pipe, socket, device, ...). */
int bpfld_file_kind(struct file *file);
int bpfld_file_kind(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;

	if (S_ISREG(mode))
		return 0;
	return S_ISDIR(mode) ? 1 : 2;
}

long long bpfld_file_size(struct file *file);
long long bpfld_file_size(struct file *file)
{
	return i_size_read(file_inode(file));
}

/* The fs-verity digest: its size, or 0 if the file has no verity. */
int bpfld_verity_digest(struct file *file, u8 *digest, u8 *alg);
int bpfld_verity_digest(struct file *file, u8 *digest, u8 *alg)
{
	enum hash_algo halg;

	return fsverity_get_digest(file_inode(file), digest, alg, &halg);
}

/* Read through the page cache, where fs-verity checks every page against its tree. */
long bpfld_read(struct file *file, void *buf, size_t len, loff_t *pos);
long bpfld_read(struct file *file, void *buf, size_t len, loff_t *pos)
{
	return kernel_read(file, buf, len, pos);
}

/* The file's own name (its last path component), NUL-terminated into buf. */
void bpfld_file_name(struct file *file, char *buf, size_t len);
void bpfld_file_name(struct file *file, char *buf, size_t len)
{
	struct name_snapshot snap;

	take_dentry_name_snapshot(&snap, file->f_path.dentry);
	strscpy(buf, snap.name.name, len);
	release_dentry_name_snapshot(&snap);
}

struct file *bpfld_open_path(const char *path);
struct file *bpfld_open_path(const char *path)
{
	struct file *f = filp_open(path, O_RDONLY, 0);

	return IS_ERR(f) ? NULL : f;
}

/* --- Who is asking ---------------------------------------------------------------- */

void bpfld_caller(char *comm, int *pid, unsigned int *uid);
void bpfld_caller(char *comm, int *pid, unsigned int *uid)
{
	__get_task_comm(comm, TASK_COMM_LEN, current);
	*pid = task_tgid_vnr(current);
	*uid = from_kuid_munged(&init_user_ns, current_uid());
}

bool bpfld_capable_sys_admin(void);
bool bpfld_capable_sys_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

/* A sealed policy must survive until reboot: keep the module from being unloaded. */
void bpfld_pin_module(void);
void bpfld_pin_module(void)
{
	__module_get(THIS_MODULE);
}

u64 bpfld_ktime_ns(void);
u64 bpfld_ktime_ns(void)
{
	return ktime_get_ns();
}

unsigned int bpfld_page_size(void);
unsigned int bpfld_page_size(void)
{
	return PAGE_SIZE;
}

unsigned int bpfld_possible_cpus(void);
unsigned int bpfld_possible_cpus(void)
{
	return num_possible_cpus();
}

unsigned int bpfld_kernel_version(void);
unsigned int bpfld_kernel_version(void)
{
	return LINUX_VERSION_CODE;
}

/* --- Loading in a private file table ---------------------------------------------- *
 *
 * kern_sys_bpf() installs every object it creates as an fd of `current`, and later
 * commands find maps and BTF by fd number. If those fds lived in the caller's table, a
 * sibling thread could close or dup2() a number between two commands and make a
 * program use a map bpfld did not create. So the whole plan runs in a short-lived
 * kernel thread, whose fd table (init_files) no user task shares, impersonating the
 * caller: its credentials (every capability and LSM check stays the caller's), its
 * memory cgroup (the maps are charged to the caller) and its address space (the
 * verifier writes its log to the caller's buffer). Results leave that thread as
 * struct file references, and reach the caller's table only once everything succeeded.
 */
struct bpfld_iso {
	int (*fn)(void *arg);
	void *arg;
	const struct cred *cred;
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	int ret;
	struct completion done;
};

static int bpfld_iso_thread(void *data)
{
	struct bpfld_iso *iso = data;
	const struct cred *old_cred;
	struct mem_cgroup *old_memcg;
	struct rlimit *nofile = &current->signal->rlim[RLIMIT_NOFILE];

	/* Our own signal_struct: objects with many maps must not hit the kthread default. */
	task_lock(current->group_leader);
	nofile->rlim_cur = nofile->rlim_max = INR_OPEN_MAX * 256;
	task_unlock(current->group_leader);
	/* Our own sighand too (kthreadd's children do not share it): let the caller's
	 * SIGKILL (see bpfld_run_isolated) be fatal here, which is what the rest of the
	 * kernel looks for to stop work early: the verifier and vmalloc() give up on a
	 * fatal signal, and the OOM killer lets a dying task's allocations fail instead of
	 * killing other tasks for them (out_of_memory(), task_will_free_mem()).
	 */
	kernel_sigaction(SIGKILL, SIG_DFL);

	if (iso->mm)
		kthread_use_mm(iso->mm);
	old_memcg = set_active_memcg(iso->memcg);
	old_cred = override_creds(iso->cred);

	iso->ret = iso->fn(iso->arg);

	revert_creds(old_cred);
	set_active_memcg(old_memcg);
	if (iso->mm && test_thread_flag(TIF_MEMDIE)) {
		/* The OOM killer made this thread a victim (its SIGKILL, see above): that
		 * is undone by exit_oom_victim(), which only exit_mm() calls, for a task
		 * with an mm. So leave the mm to do_exit() instead of kthread_unuse_mm():
		 * exit_mm() detaches it like kthread_unuse_mm() but drops an mm_users
		 * reference (take one) where kthread_unuse_mm() drops the mm_count one
		 * kthread_use_mm() took (drop it here; mm_users keeps the mm alive).
		 */
		mmget(iso->mm);
		mmdrop(iso->mm);
	} else if (iso->mm) {
		kthread_unuse_mm(iso->mm);
	}
	/* After this, iso (on the caller's stack) must not be touched, and neither must
	 * the module's text: the caller returns from the ioctl and may close /dev/bpfld,
	 * dropping the last reference on the module, as soon as it is woken. So complete
	 * and exit without returning here (stress_kthread_exit_window checks it).
	 */
	kthread_complete_and_exit(&iso->done, 0);
}

int bpfld_run_isolated(int (*fn)(void *arg), void *arg);
int bpfld_run_isolated(int (*fn)(void *arg), void *arg)
{
	struct bpfld_iso iso = { .fn = fn, .arg = arg };
	struct task_struct *t;
	int ret;

	init_completion(&iso.done);
	iso.cred = get_current_cred();
	iso.mm = get_task_mm(current);
	iso.memcg = iso.mm ? get_mem_cgroup_from_mm(iso.mm) : NULL;

	t = kthread_create(bpfld_iso_thread, &iso, "bpfld-load");
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
	} else {
		get_task_struct(t);
		wake_up_process(t);
		/* A dying caller (SIGKILL, or picked by the OOM killer while the thread
		 * allocates a map's memory for it) passes the signal on, so the thread stops
		 * where the kernel checks for one and unwinds; the allocation that ran the
		 * system out of memory then fails instead of the OOM killer going on to every
		 * other task (and panicking). Either way wait for the thread to finish: it
		 * uses `iso` on this stack, our credentials and our mm.
		 */
		if (wait_for_completion_killable(&iso.done)) {
			send_sig(SIGKILL, t, 1);
			wait_for_completion(&iso.done);
		}
		put_task_struct(t);
		ret = iso.ret;
	}
	/* What the thread closed (failed loads, inner map templates, the BTF fd) was
	 * queued for delayed fput, as kernel threads do: release it now, so that when the
	 * ioctl returns every object bpfld created and did not hand out is gone.
	 */
	flush_delayed_fput();
	mem_cgroup_put(iso.memcg);
	if (iso.mm)
		mmput(iso.mm);
	put_cred(iso.cred);
	return ret;
}

/* The caller is dying; in the loading thread, it passed its SIGKILL on (see
 * bpfld_run_isolated).
 */
bool bpfld_fatal_signal_pending(void);
bool bpfld_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* In the loading thread: close an fd of init_files. */
void bpfld_close_fd(int fd);
void bpfld_close_fd(int fd)
{
	close_fd(fd);
}

/* In the loading thread: take the file of one of our fds out of init_files. */
struct file *bpfld_take_fd(int fd);
struct file *bpfld_take_fd(int fd)
{
	return file_close_fd(fd);
}

/* Files we created with BPF_PROG_LOAD: private_data is the program. */
void bpfld_prog_file_info(struct file *file, u32 *id, u8 *tag);
void bpfld_prog_file_info(struct file *file, u32 *id, u8 *tag)
{
	struct bpf_prog *prog = file->private_data;

	*id = prog->aux->id;
	memcpy(tag, prog->tag, BPF_TAG_SIZE);
}

/*
 * Defence in depth for the fd-isolation design: true if every map the program uses is
 * one of the n maps this load created.
 */
bool bpfld_prog_uses_only(struct file *prog_file, struct file **maps, int n);
bool bpfld_prog_uses_only(struct file *prog_file, struct file **maps, int n)
{
	struct bpf_prog *prog = prog_file->private_data;
	struct bpf_prog_aux *aux = prog->aux;
	bool ok = true;
	u32 i;
	int j;

	mutex_lock(&aux->used_maps_mutex);
	for (i = 0; i < aux->used_map_cnt && ok; i++) {
		ok = false;
		for (j = 0; j < n; j++) {
			if (aux->used_maps[i] == maps[j]->private_data) {
				ok = true;
				break;
			}
		}
	}
	mutex_unlock(&aux->used_maps_mutex);
	return ok;
}

/* Files we created with BPF_MAP_CREATE: private_data is the map. */
u32 bpfld_map_file_id(struct file *file);
u32 bpfld_map_file_id(struct file *file)
{
	struct bpf_map *map = file->private_data;

	return map->id;
}

/* --- Handing results to the caller ------------------------------------------------ */

int bpfld_reserve_fd(void);
int bpfld_reserve_fd(void)
{
	return get_unused_fd_flags(O_CLOEXEC);
}

void bpfld_unreserve_fd(int fd);
void bpfld_unreserve_fd(int fd)
{
	put_unused_fd(fd);
}

void bpfld_install_fd(int fd, struct file *file);
void bpfld_install_fd(int fd, struct file *file)
{
	fd_install(fd, file);
}
