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
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/magic.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/uio.h>
#include <linux/uidgid.h>
#include <linux/version.h>
#include <linux/workqueue.h>

/* kern_sys_bpf() lives in the BPF_INTERNAL namespace. */
MODULE_IMPORT_NS(BPF_INTERNAL);

/* Implemented in Rust (rust/bpfld/bpfld_main.rs). */
long bpfld_rust_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* The ioctl entry point as the kernel calls it. With kCFI (CONFIG_CFI_CLANG, as in
 * Android's GKI) every indirect call checks a hash of the callee's type, and rustc and
 * clang hash a pointer parameter by what it points to: fops must hold a C function of
 * exactly unlocked_ioctl's type, which then calls the Rust one directly (unchecked). */
static long bpfld_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return bpfld_rust_ioctl(file, cmd, arg);
}

/* Exported by kernel/bpf/syscall.c without a header prototype. */
int kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size);

static const struct file_operations bpfld_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = bpfld_ioctl,
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

/* The work beside the loading thread (bpfld_beside_start()): CPU-bound for up to a few
 * milliseconds (a plan, a hash), so it does not take part in the workqueue's
 * concurrency management, where it would hold up other work queued on its CPU. */
static struct workqueue_struct *bpfld_wq;

/* Module BTFs come and go with their modules: /sys/kernel/btf/<module> is created in
 * the kernel's own module notifier (btf_module_notify, priority 0) on
 * MODULE_STATE_COMING and removed on MODULE_STATE_GOING. This notifier runs after it
 * (priority -1) and counts those events, so a change of /sys/kernel/btf's listing is
 * always followed by a change of the count: a load that read the count before listing
 * the directory, and finds it unchanged later, may reuse what it listed and read. The
 * count is 0 (never equal to a recorded one) if the notifier could not be registered. */
static atomic64_t bpfld_modules_events = ATOMIC64_INIT(1);
static bool bpfld_modules_watched;

static int bpfld_module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	if (state == MODULE_STATE_COMING || state == MODULE_STATE_GOING)
		atomic64_inc(&bpfld_modules_events);
	return NOTIFY_DONE;
}

static struct notifier_block bpfld_module_nb = {
	.notifier_call = bpfld_module_event,
	.priority = -1,
};

u64 bpfld_modules_generation(void);
u64 bpfld_modules_generation(void)
{
	/* Ordered before the directory listing that follows it. */
	return bpfld_modules_watched ? atomic64_read_acquire(&bpfld_modules_events) : 0;
}

/*
 * fd 0 of the loading threads' file table. Loads run in kernel threads (see "Loading
 * in a private file table" below), which all share init_files, and nothing else keeps
 * its fd 0 open: the first fd a load makes would be 0. BPF_PROG_LOAD reads an
 * attach_prog_fd (or attach_btf_obj_fd) of 0 as "none", and the ksym half of an
 * ld_imm64 a BTF fd of 0 as vmlinux: a caller's target program or a module's BTF at
 * fd 0 would have its type id looked up in vmlinux instead (a refusal, or a program
 * attached to another function). So while the module is loaded, fd 0 there holds a
 * file of its own: an empty, unlinked tmpfs file (the kernel's file operations, never
 * the module's, as any kernel thread's fd can be duplicated with pidfd_getfd()). Put
 * there and taken back by a worker of ours, a kernel thread. If fd 0 is taken at
 * init (a kernel thread of someone else's), it is left alone: then it is not free. If
 * it is free and cannot be held (no memory for the file), the module does not load.
 */
static struct file *bpfld_fd0;
/* Why fd 0 could not be held although it was free: the module does not load then. */
static int bpfld_fd0_err;

static void bpfld_fd0_hold(struct work_struct *work)
{
	struct file *f;
	int fd = get_unused_fd_flags(O_CLOEXEC);

	bpfld_fd0_err = 0;
	if (fd < 0) {
		bpfld_fd0_err = fd;
		return;
	}
	if (fd > 0) {
		put_unused_fd(fd);
		return;
	}
	f = shmem_kernel_file_setup("bpfld-fd0", 0, VM_NORESERVE);
	if (IS_ERR(f)) {
		put_unused_fd(fd);
		bpfld_fd0_err = PTR_ERR(f);
		return;
	}
	fd_install(fd, f);
	bpfld_fd0 = f;
}

static void bpfld_fd0_release(struct work_struct *work)
{
	struct file *f = fget_raw(0);
	bool ours = f && f == bpfld_fd0;

	if (f)
		fput(f);
	if (ours) {
		f = file_close_fd(0);
		if (f)
			fput(f);
	}
	bpfld_fd0 = NULL;
}

/* Run `fn` in a worker of bpfld_wq (a kernel thread: init_files) and wait for it. */
static void bpfld_in_kthread(work_func_t fn)
{
	struct work_struct w;

	INIT_WORK_ONSTACK(&w, fn);
	queue_work(bpfld_wq, &w);
	flush_work(&w);
	destroy_work_on_stack(&w);
}

/* Module init: the workqueue, fd 0, the module notifier, then the device (after which
 * loads may come). */
int bpfld_misc_register(void);
int bpfld_misc_register(void)
{
	int ret;

	bpfld_wq = alloc_workqueue("bpfld_beside", WQ_CPU_INTENSIVE, 0);
	if (!bpfld_wq)
		return -ENOMEM;
	bpfld_in_kthread(bpfld_fd0_hold);
	if (bpfld_fd0_err) {
		pr_err("bpfld: cannot hold fd 0 of the loading threads' table (%d)\n",
		       bpfld_fd0_err);
		destroy_workqueue(bpfld_wq);
		bpfld_wq = NULL;
		return bpfld_fd0_err;
	}
	bpfld_modules_watched = !register_module_notifier(&bpfld_module_nb);
	ret = misc_register(&bpfld_misc);
	if (ret) {
		if (bpfld_modules_watched)
			unregister_module_notifier(&bpfld_module_nb);
		bpfld_modules_watched = false;
		bpfld_in_kthread(bpfld_fd0_release);
		destroy_workqueue(bpfld_wq);
		bpfld_wq = NULL;
	}
	return ret;
}

/* Module exit: no load is running (every caller holds the module), and every load
 * waited for its work items (bpfld_beside_wait()). */
void bpfld_misc_deregister(void);
void bpfld_misc_deregister(void)
{
	misc_deregister(&bpfld_misc);
	if (bpfld_modules_watched)
		unregister_module_notifier(&bpfld_module_nb);
	bpfld_modules_watched = false;
	bpfld_in_kthread(bpfld_fd0_release);
	destroy_workqueue(bpfld_wq);
	bpfld_wq = NULL;
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

/*
 * Where a load's time goes: with log_phases=1 (writable at runtime, through
 * /sys/module/bpfld/parameters/log_phases) every load logs its steps' durations
 * (scripts/bench-vm reads them; Documentation/benchmarks.rst).
 */
static bool log_phases;
module_param(log_phases, bool, 0644);
MODULE_PARM_DESC(log_phases, "log the duration of each step of every load");

bool bpfld_log_phases(void);
bool bpfld_log_phases(void)
{
	return READ_ONCE(log_phases);
}

/* --- The object file ------------------------------------------------------------- */

/* fget() refuses O_PATH fds (FMODE_PATH), so those come back NULL like bad fds. */
struct file *bpfld_fget(int fd);
struct file *bpfld_fget(int fd)
{
	return fget(fd);
}

/*
 * fput() of a task releases the file on its way back to user space (task work); in a
 * kernel thread it queues the file on a list global to the system, released by a
 * delayed work item. The loading thread releases its files at once instead
 * (__fput_sync()): what a load created and did not hand out (failed loads, inner map
 * templates, the BTF, the kallsyms program, the files of a failed load) is gone when
 * its ioctl returns, without flushing that global list, which holds other threads'
 * files (flush_delayed_fput() is for the boot only). Its files are BPF objects and
 * /sys/kernel/btf/vmlinux, which no umount waits for.
 */
void bpfld_fput(struct file *file);
void bpfld_fput(struct file *file)
{
	if (current->flags & PF_KTHREAD)
		__fput_sync(file);
	else
		fput(file);
}

/* 0: regular file open for reading, 1: directory, 2: anything else (pipe, socket,
 * device, ...), 3: a regular file not open for reading (open(2)'s access mode 3, which
 * fs-verity lets through: kernel_read() would warn and fail). */
int bpfld_file_kind(struct file *file);
int bpfld_file_kind(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;

	if (S_ISREG(mode))
		return file->f_mode & FMODE_READ ? 0 : 3;
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

/*
 * Read /proc/kallsyms, opened with bpfld_open_path() as the caller, from *@pos into
 * @buf (@len bytes): the bytes read (*@pos moved on), 0 at its end, or a negative
 * errno. Its proc file has a ->read (seq_read) and no ->read_iter, which
 * kernel_read() refuses ("kernel read not supported"); so its seq_file is read
 * directly, with seq_read_iter() into a kernel buffer, as seq_read() reads it into a
 * user one. Only that file: its superblock must be proc's and its dentry "kallsyms"
 * in proc's root (which kernel/kallsyms.c creates with seq_open_private(), its
 * private_data a seq_file), whatever is mounted over /proc/kallsyms.
 */
long bpfld_read_kallsyms(struct file *file, void *buf, size_t len, loff_t *pos);
long bpfld_read_kallsyms(struct file *file, void *buf, size_t len, loff_t *pos)
{
	struct dentry *d = file->f_path.dentry;
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t ret;

	if (d->d_sb->s_magic != PROC_SUPER_MAGIC || d->d_parent != d->d_sb->s_root ||
	    strcmp(d->d_name.name, "kallsyms") || !(file->f_mode & FMODE_READ) ||
	    !file->private_data)
		return -EINVAL;
	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = *pos;
	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, len);
	ret = seq_read_iter(&kiocb, &iter);
	if (ret > 0)
		*pos = kiocb.ki_pos;
	return ret;
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

struct file *bpfld_open_path(const char *path, int *err);
struct file *bpfld_open_path(const char *path, int *err)
{
	struct file *f = filp_open(path, O_RDONLY, 0);

	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	*err = 0;
	return f;
}

/* Act as the kernel until bpfld_as_kernel_end(old): the module's reads of the kernel's
 * own BTF files (/sys/kernel/btf) then depend neither on the caller's credentials and
 * LSM domain nor on which thread makes the plan (a workqueue runs as the kernel
 * already). NULL if there is no memory, and nothing changed. */
const struct cred *bpfld_as_kernel_begin(void);
const struct cred *bpfld_as_kernel_begin(void)
{
	struct cred *kernel = prepare_kernel_cred(&init_task);
	const struct cred *old;

	if (!kernel)
		return NULL;
	old = override_creds(kernel);
	put_cred(kernel);	/* current->cred holds its own reference */
	return old;
}

void bpfld_as_kernel_end(const struct cred *old);
void bpfld_as_kernel_end(const struct cred *old)
{
	revert_creds(old);
}

struct bpfld_names {
	struct dir_context ctx;
	char *buf;
	size_t len;
	size_t used;
	bool full;
};

static bool bpfld_name_actor(struct dir_context *ctx, const char *name, int namlen,
			     loff_t off, u64 ino, unsigned int d_type)
{
	struct bpfld_names *n = container_of(ctx, struct bpfld_names, ctx);

	if (namlen <= 0 || (name[0] == '.' && (namlen == 1 || (namlen == 2 && name[1] == '.'))))
		return true;
	if (n->len - n->used < sizeof(ino) + (size_t)namlen + 1) {
		n->full = true;
		return false;
	}
	memcpy(n->buf + n->used, &ino, sizeof(ino));
	n->used += sizeof(ino);
	memcpy(n->buf + n->used, name, namlen);
	n->buf[n->used + namlen] = '\0';
	n->used += namlen + 1;
	return true;
}

/* The entries of directory @path (without "." and ".."), each its inode number (a u64,
 * native order), its name and a NUL, into @buf: the bytes used, -ENOSPC if they do not
 * fit in @len, or another -errno. */
long bpfld_list_dir(const char *path, char *buf, size_t len);
long bpfld_list_dir(const char *path, char *buf, size_t len)
{
	struct bpfld_names n = {
		.ctx.actor = bpfld_name_actor,
		.buf = buf,
		.len = len,
	};
	struct file *f = filp_open(path, O_RDONLY | O_DIRECTORY, 0);
	int err;

	if (IS_ERR(f))
		return PTR_ERR(f);
	err = iterate_dir(f, &n.ctx);
	bpfld_fput(f);
	if (err)
		return err;
	return n.full ? -ENOSPC : (long)n.used;
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
 * program use a map bpfld did not create. So the whole plan runs in a kernel thread,
 * whose fd table (init_files) no user task shares, impersonating the caller: its
 * credentials (every capability and LSM check stays the caller's), its memory cgroup
 * (the maps are charged to the caller) and its address space (the verifier writes its
 * log to the caller's buffer). Results leave that thread as struct file references, and
 * reach the caller's table only once everything succeeded.
 *
 * The threads are kept between loads: a few idle ones wait in a pool, so that a load
 * costs a wake-up rather than a kthread_create() (kthreadd forking a thread) and an
 * exit. That wake-up is asked for before the caller reads the object
 * (bpfld_iso_begin()), the job handed over once it is read (bpfld_iso_finish()), and
 * the caller woken shortly before the thread is done (bpfld_iso_nearly_done()): the
 * two wake-ups of a load overlap work instead of adding to it. A load takes an idle
 * thread or starts one; a thread goes back to the pool after its load unless the pool
 * is full, its caller passed a SIGKILL on, or the OOM killer picked it: then it
 * exits, as every thread did before the pool. The module's exit stops the idle ones
 * (bpfld_pool_stop()), which is also what keeps the module's text alive under a thread
 * that has woken its caller and has yet to get back into the pool
 * (stress_kthread_exit_window checks both).
 */
struct bpfld_iso {
	/* Set by bpfld_iso_finish(), published by `input`. */
	int (*fn)(void *arg);
	void *arg;
	int input;			/* BPFLD_ISO_* */
	struct completion input_set;
	struct task_struct *caller;	/* alive until bpfld_iso_release() returns */
	struct task_struct *thread;	/* a reference of ours */
	const struct cred *cred;
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	/* The caller's address-space limit, which the thread's mappings in the caller's
	 * mm (an arena) obey, and whether the caller is a 32-bit task. */
	struct rlimit as_limit;
	bool compat;
	int ret;
	/* Set (release) by the thread once `fn` returned: `ret` is set and `arg` is no
	 * longer used; what the thread still does is its own undoing (bpfld_iso_run()). */
	int ready;
	/* Set under bpfld_pool.lock by the thread once it is done with this load: the
	 * caller must not signal the thread any more (it may be running someone else's). */
	bool finished;
	/* Set under bpfld_pool.lock by a dying caller that signalled the thread
	 * (bpfld_iso_join()): a thread that had not yet made SIGKILL fatal for itself
	 * (a new one, still ignoring every signal as kthreadd's children do) lost that
	 * signal, and sends it to itself once it takes the job. */
	bool killed;
	/* Set by the caller once it has waited for `done` (bpfld_iso_join()). */
	bool joined;
	struct completion done;
	/* Completed by bpfld_iso_nearly_done() (else once the job returns): see
	 * bpfld_iso_finish(). */
	struct completion near;
};

struct bpfld_worker {
	struct task_struct *task;	/* a reference of ours */
	struct list_head node;		/* bpfld_pool.all */
	struct list_head idle;		/* bpfld_pool.idle, while idle */
	struct bpfld_iso *job;		/* handed over under bpfld_pool.lock */
};

static struct {
	spinlock_t lock;
	struct list_head all;	/* every thread that may run module code */
	struct list_head idle;
	unsigned int nidle;
	bool stopping;
} bpfld_pool = {
	.lock = __SPIN_LOCK_UNLOCKED(bpfld_pool.lock),
	.all = LIST_HEAD_INIT(bpfld_pool.all),
	.idle = LIST_HEAD_INIT(bpfld_pool.idle),
};

enum {
	BPFLD_ISO_WAITING,	/* the caller is still reading the object */
	BPFLD_ISO_GO,		/* fn and arg are set */
	BPFLD_ISO_ABORT,	/* the caller failed before: no fn */
};

/* Idle threads kept: enough for one load per CPU, no more than 8. */
static unsigned int bpfld_pool_max_idle(void)
{
	return clamp_t(unsigned int, num_online_cpus(), 1, 8);
}

/* Worth spinning for: `p` is on a CPU, and (in a guest that can tell) that CPU's vCPU
 * has not been preempted by its host, as for a mutex's owner. */
static bool bpfld_task_on_cpu(struct task_struct *p)
{
#ifdef CONFIG_SMP
	return owner_on_cpu(p);
#else
	return false;
#endif
}

/* Longest spin of bpfld_iso_await(), bpfld_iso_finish() and bpfld_beside_sync(): the
 * plans of the benchmarks' CO-RE objects outlast the BPF_BTF_LOAD beside them by up to
 * 2.5 ms under TCG (netif_receive_skb), a tenth of that on hardware, and the largest
 * objects' reads take 0.6 ms there. */
#define BPFLD_SPIN_NS (5 * NSEC_PER_MSEC)

/*
 * The thread is woken before its caller reads the object (bpfld_iso_begin()), so that
 * the wake-up of an idle CPU (0.15-0.25 ms under TCG) overlaps the read. Wait for the
 * job: spinning while the caller runs on another CPU and nothing else wants this one,
 * as a mutex waiter spins on a running owner (asleep, the caller's publication would
 * have to wake us: the same wake-up again), bounded in time; else asleep. Returns true
 * if there is a job to run.
 */
static bool bpfld_iso_await(struct bpfld_iso *iso)
{
	u64 until = ktime_get_ns() + BPFLD_SPIN_NS;
	int in;

	while ((in = smp_load_acquire(&iso->input)) == BPFLD_ISO_WAITING) {
		if (need_resched() || !bpfld_task_on_cpu(iso->caller) ||
		    ktime_get_ns() >= until) {
			/* The caller publishes (or aborts) once it has read the file. */
			wait_for_completion_state(&iso->input_set, TASK_IDLE);
			in = smp_load_acquire(&iso->input);
			break;
		}
		cpu_relax();
	}
	return in == BPFLD_ISO_GO;
}

/* The thread's RLIMIT_AS (its own signal_struct, read by may_expand_vm()). */
static void bpfld_set_as_limit(const struct rlimit *r)
{
	task_lock(current->group_leader);
	current->signal->rlim[RLIMIT_AS] = *r;
	task_unlock(current->group_leader);
}

/* Run one load. Returns true if this thread may go back to the pool. */
static bool bpfld_iso_run(struct bpfld_iso *iso)
{
	static const struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	const struct cred *old_cred;
	struct mem_cgroup *old_memcg;

	if (iso->mm)
		kthread_use_mm(iso->mm);
	old_memcg = set_active_memcg(iso->memcg);
	old_cred = override_creds(iso->cred);
	bpfld_set_as_limit(&iso->as_limit);

	if (bpfld_iso_await(iso)) {
		iso->ret = iso->fn(iso->arg);
		smp_store_release(&iso->ready, 1);
	}

	bpfld_set_as_limit(&unlimited);
	revert_creds(old_cred);
	set_active_memcg(old_memcg);
	if (iso->mm && test_thread_flag(TIF_MEMDIE)) {
		/* The OOM killer made this thread a victim (its SIGKILL, see below): that
		 * is undone by exit_oom_victim(), which only exit_mm() calls, for a task
		 * with an mm. So leave the mm to do_exit() instead of kthread_unuse_mm():
		 * exit_mm() detaches it like kthread_unuse_mm() but drops an mm_users
		 * reference (take one) where kthread_unuse_mm() drops the mm_count one
		 * kthread_use_mm() took (drop it here; mm_users keeps the mm alive).
		 */
		mmget(iso->mm);
		mmdrop(iso->mm);
		return false;
	}
	if (iso->mm)
		kthread_unuse_mm(iso->mm);
	return true;
}

static int bpfld_worker_fn(void *data)
{
	struct bpfld_worker *w = data;
	struct rlimit *nofile = &current->signal->rlim[RLIMIT_NOFILE];
	struct bpfld_iso *iso;
	bool reuse;

	/* Our own signal_struct: objects with many maps must not hit the kthread default. */
	task_lock(current->group_leader);
	nofile->rlim_cur = nofile->rlim_max = INR_OPEN_MAX * 256;
	task_unlock(current->group_leader);
	/* Our own sighand too (kthreadd's children do not share it): let the caller's
	 * SIGKILL (see bpfld_iso_join) be fatal here, which is what the rest of the
	 * kernel looks for to stop work early: the verifier and vmalloc() give up on a
	 * fatal signal, and the OOM killer lets a dying task's allocations fail instead of
	 * killing other tasks for them (out_of_memory(), task_will_free_mem()).
	 */
	kernel_sigaction(SIGKILL, SIG_DFL);

	for (;;) {
		set_current_state(TASK_IDLE);
		spin_lock(&bpfld_pool.lock);
		iso = w->job;
		w->job = NULL;
		/* SIGKILL is fatal here by now (above), so this one is not lost. */
		if (iso && iso->killed)
			send_sig(SIGKILL, current, 1);
		spin_unlock(&bpfld_pool.lock);
		if (!iso) {
			if (kthread_should_stop())
				break;
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);

		reuse = bpfld_iso_run(iso);
		/* The caller's wake-up, if the job did not ask for it (a load that failed
		 * before its commands); the caller still waits for `done`. */
		complete(&iso->near);

		spin_lock(&bpfld_pool.lock);
		/* A thread with a signal pending (its caller's SIGKILL) or picked by the
		 * OOM killer must exit; so must one the pool has no room for. */
		reuse = reuse && !signal_pending(current) && !bpfld_pool.stopping &&
			bpfld_pool.nidle < bpfld_pool_max_idle();
		iso->finished = true;
		if (reuse) {
			list_add(&w->idle, &bpfld_pool.idle);
			bpfld_pool.nidle++;
		} else {
			list_del(&w->node);
		}
		spin_unlock(&bpfld_pool.lock);
		if (!reuse) {
			/* Off the pool's lists: nobody stops this thread, so it must not run
			 * module code once its caller, who holds the module, is woken. */
			put_task_struct(w->task);
			kfree(w);
			kthread_complete_and_exit(&iso->done, 0);
		}
		/* Back in the pool: from here on the module's exit stops this thread
		 * (kthread_stop() waits for it to leave), so returning here is safe. */
		complete(&iso->done);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/* Hand `iso` to an idle thread, or to a new one. Returns the thread, referenced. */
static struct task_struct *bpfld_pool_start(struct bpfld_iso *iso)
{
	struct bpfld_worker *w;
	struct task_struct *t;

again:
	w = NULL;
	spin_lock(&bpfld_pool.lock);
	if (!list_empty(&bpfld_pool.idle)) {
		w = list_first_entry(&bpfld_pool.idle, struct bpfld_worker, idle);
		list_del(&w->idle);
		bpfld_pool.nidle--;
		if (unlikely(__fatal_signal_pending(w->task))) {
			/* SIGKILLed while idle: its default action (bpfld_worker_fn) lets one
			 * from user space in too, and the job would fail at its first check
			 * for a fatal signal. Stop the thread (it has no job: it leaves its
			 * loop) and take another. */
			list_del(&w->node);
			spin_unlock(&bpfld_pool.lock);
			kthread_stop(w->task);
			put_task_struct(w->task);
			kfree(w);
			goto again;
		}
		w->job = iso;
		t = get_task_struct(w->task);
	}
	spin_unlock(&bpfld_pool.lock);
	if (w) {
		wake_up_process(t);
		return t;
	}

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->job = iso;
	t = kthread_create(bpfld_worker_fn, w, "bpfld-load");
	if (IS_ERR(t)) {
		kfree(w);
		return t;
	}
	w->task = get_task_struct(t);
	spin_lock(&bpfld_pool.lock);
	list_add(&w->node, &bpfld_pool.all);
	spin_unlock(&bpfld_pool.lock);
	wake_up_process(t);
	return get_task_struct(t);
}

/* Module exit: no load is running (every caller holds the module); stop the threads. */
void bpfld_pool_stop(void);
void bpfld_pool_stop(void)
{
	struct bpfld_worker *w, *tmp;
	LIST_HEAD(all);

	spin_lock(&bpfld_pool.lock);
	bpfld_pool.stopping = true;
	list_splice_init(&bpfld_pool.all, &all);
	INIT_LIST_HEAD(&bpfld_pool.idle);
	bpfld_pool.nidle = 0;
	spin_unlock(&bpfld_pool.lock);
	list_for_each_entry_safe(w, tmp, &all, node) {
		kthread_stop(w->task);
		put_task_struct(w->task);
		kfree(w);
	}
}

/* Drop what bpfld_iso_begin() took of the caller, and `iso`. */
static void bpfld_iso_free(struct bpfld_iso *iso)
{
	mem_cgroup_put(iso->memcg);
	if (iso->mm)
		mmput(iso->mm);
	put_cred(iso->cred);
	kfree(iso);
}

/*
 * Wake a loading thread for the caller, before the caller reads the object: the thread
 * takes on the caller's credentials, memory cgroup and mm, then waits for its job
 * (bpfld_iso_await()). NULL with *err set if no thread could be had. Every handle
 * returned must be passed to bpfld_iso_finish(), then to bpfld_iso_release().
 */
struct bpfld_iso *bpfld_iso_begin(int *err);
struct bpfld_iso *bpfld_iso_begin(int *err)
{
	struct bpfld_iso *iso = kzalloc(sizeof(*iso), GFP_KERNEL);
	struct task_struct *t;

	if (!iso) {
		*err = -ENOMEM;
		return NULL;
	}
	init_completion(&iso->done);
	init_completion(&iso->near);
	init_completion(&iso->input_set);
	iso->input = BPFLD_ISO_WAITING;
	iso->caller = current;
	iso->compat = in_compat_syscall();
	task_lock(current->group_leader);
	iso->as_limit = current->signal->rlim[RLIMIT_AS];
	task_unlock(current->group_leader);
	iso->cred = get_current_cred();
	iso->mm = get_task_mm(current);
	iso->memcg = iso->mm ? get_mem_cgroup_from_mm(iso->mm) : NULL;

	t = bpfld_pool_start(iso);
	if (IS_ERR(t)) {
		*err = PTR_ERR(t);
		bpfld_iso_free(iso);
		return NULL;
	}
	iso->thread = t;
	return iso;
}

/* Whether the caller of `iso` is a 32-bit task (its ioctl came through compat_ioctl). */
bool bpfld_iso_compat(const struct bpfld_iso *iso);
bool bpfld_iso_compat(const struct bpfld_iso *iso)
{
	return iso->compat;
}

/*
 * In the loading thread, `iso` being its job: what is left takes little time (the
 * results are being taken out of its file table), so wake the caller now.
 */
void bpfld_iso_nearly_done(struct bpfld_iso *iso);
void bpfld_iso_nearly_done(struct bpfld_iso *iso)
{
	complete(&iso->near);
}

/*
 * Wait for the thread to be done with this load (`done`). A dying caller (SIGKILL, or
 * picked by the OOM killer while the thread allocates a map's memory for it) passes the
 * signal on, so the thread stops where the kernel checks for one and unwinds; the
 * allocation that ran the system out of memory then fails instead of the OOM killer
 * going on to every other task (and panicking). Either way wait for the thread to
 * finish: it uses `iso`, our credentials and our mm. Once it is finished with us it may
 * be running another load: then it must not be signalled.
 */
static void bpfld_iso_join(struct bpfld_iso *iso)
{
	if (iso->joined)
		return;
	if (wait_for_completion_killable(&iso->done)) {
		spin_lock(&bpfld_pool.lock);
		if (!iso->finished) {
			iso->killed = true;
			send_sig(SIGKILL, iso->thread, 1);
		}
		spin_unlock(&bpfld_pool.lock);
		wait_for_completion(&iso->done);
	}
	iso->joined = true;
}

/*
 * Hand the thread of bpfld_iso_begin() its job, `fn(arg)`, and return `fn`'s result
 * once it has returned; with `fn` NULL, let the thread go without one (returns 0).
 * The thread may still be undoing what it took on of the caller: bpfld_iso_release()
 * must follow, before the caller returns.
 */
int bpfld_iso_finish(struct bpfld_iso *iso, int (*fn)(void *arg), void *arg);
int bpfld_iso_finish(struct bpfld_iso *iso, int (*fn)(void *arg), void *arg)
{
	iso->fn = fn;
	iso->arg = arg;
	smp_store_release(&iso->input, fn ? BPFLD_ISO_GO : BPFLD_ISO_ABORT);
	complete(&iso->input_set);

	/* Woken when the thread is nearly done (bpfld_iso_nearly_done()), so that this
	 * wake-up (0.15-0.25 ms under TCG) overlaps what it still does; then spin until
	 * `fn` has returned, while the thread runs and nothing else wants this CPU
	 * (bounded), as in bpfld_iso_await(). A fatal signal ends the spin and is handled
	 * by bpfld_iso_join(). */
	if (!wait_for_completion_killable(&iso->near)) {
		u64 until = ktime_get_ns() + BPFLD_SPIN_NS;

		while (!smp_load_acquire(&iso->ready) && !completion_done(&iso->done) &&
		       bpfld_task_on_cpu(iso->thread) && !need_resched() &&
		       !fatal_signal_pending(current) && ktime_get_ns() < until)
			cpu_relax();
	}
	if (!smp_load_acquire(&iso->ready))
		bpfld_iso_join(iso);
	/* What the thread closed is released already (bpfld_close_fd(), bpfld_fput()). */
	return fn ? iso->ret : 0;
}

/* After bpfld_iso_finish(): wait for the thread to be done with this load, and free
 * `iso`. */
void bpfld_iso_release(struct bpfld_iso *iso);
void bpfld_iso_release(struct bpfld_iso *iso)
{
	bpfld_iso_join(iso);
	put_task_struct(iso->thread);
	bpfld_iso_free(iso);
}

/*
 * Work beside the loading thread, on another CPU's workqueue: the plan, made while the
 * loading thread issues BPF_BTF_LOAD (which needs only the parsed object), and the
 * plan's receipt (a SHA-256 over its instructions and BTF, 0.5-1.7 ms a load under
 * TCG), computed while the loading thread issues the plan's commands, which only read
 * the plan. The caller must call bpfld_beside_wait() before what `arg` points to goes
 * away, and before it returns to whoever holds the module. With one CPU online, or
 * without memory for the work item, the handle is NULL and bpfld_beside_start() runs
 * `fn` right away in the caller (bpfld_beside_try_start() leaves that to the caller).
 */
struct bpfld_beside {
	struct work_struct work;
	void (*fn)(void *arg);
	void *arg;
	int state;	/* BPFLD_BESIDE_*, for bpfld_beside_sync() */
	struct task_struct *worker;	/* set before state is RUNNING */
	/* The loading thread's, the caller's memory cgroup, which the work's allocations
	 * are charged to as the thread's are (referenced by the thread's job, which waits
	 * for the work). */
	struct mem_cgroup *memcg;
};

enum {
	BPFLD_BESIDE_QUEUED,
	BPFLD_BESIDE_RUNNING,
	BPFLD_BESIDE_DONE,	/* fn returned: it no longer touches arg */
};

static void bpfld_beside_fn(struct work_struct *work)
{
	struct bpfld_beside *b = container_of(work, struct bpfld_beside, work);

	struct mem_cgroup *old;

	b->worker = current;
	smp_store_release(&b->state, BPFLD_BESIDE_RUNNING);
	old = set_active_memcg(b->memcg);
	b->fn(b->arg);
	set_active_memcg(old);
	smp_store_release(&b->state, BPFLD_BESIDE_DONE);
}

/* As bpfld_beside_start(), but NULL without running fn where that would run it here. */
void *bpfld_beside_try_start(void (*fn)(void *arg), void *arg);
void *bpfld_beside_try_start(void (*fn)(void *arg), void *arg)
{
	struct bpfld_beside *b = NULL;
	unsigned int cpu;

	/* Another CPU's: an unbound worker is often woken on this CPU, where it preempts
	 * the loading thread and the two run one after the other. The next online one
	 * after this CPU, so that loads running on different CPUs put their work on
	 * different CPUs (the first online CPU but this one would take every load's work
	 * but its own). Only a hint: this thread may move, and a CPU that goes offline
	 * meanwhile has its work run on another (queue_work_on() only needs a CPU that
	 * has been online). */
	cpu = raw_smp_processor_id();
	cpu = cpumask_next_wrap(cpu, cpu_online_mask, cpu, true);
	if (cpu < nr_cpu_ids)
		b = kmalloc(sizeof(*b), GFP_KERNEL | __GFP_NOWARN);
	if (!b)
		return NULL;
	INIT_WORK(&b->work, bpfld_beside_fn);
	b->fn = fn;
	b->arg = arg;
	/* Read as set_active_memcg() gives it back (no accessor in 6.12). */
	b->memcg = set_active_memcg(NULL);
	set_active_memcg(b->memcg);
	b->state = BPFLD_BESIDE_QUEUED;
	queue_work_on(cpu, bpfld_wq, &b->work);
	return b;
}

void *bpfld_beside_start(void (*fn)(void *arg), void *arg);
void *bpfld_beside_start(void (*fn)(void *arg), void *arg)
{
	void *b = bpfld_beside_try_start(fn, arg);

	if (!b)
		fn(arg);
	return b;
}

/*
 * Wait until the work's function has returned: what `arg` points to may then go, and
 * its results be read; bpfld_beside_wait() must still follow, before the module may
 * go. While the work runs on another CPU, and nothing else wants this one, spin, as a
 * mutex waiter spins while the owner runs (mutex_spin_on_owner()): asleep, the end of
 * the work has to wake this thread, an IPI and a switch. Under TCG, loads alternating
 * the two ways in one run: the plan step of bpf_cubic 2.13 -> 1.67 ms, core_task 2.02
 * -> 1.77, netif_receive_skb 2.62 -> 2.36 (medians of 15-17 loads each). Bounded in
 * time, and never for work not yet started (its worker may wait for this CPU) or whose
 * worker is not on a CPU or its vCPU is preempted (it would not end while we spin).
 */
void bpfld_beside_sync(void *handle);
void bpfld_beside_sync(void *handle)
{
	struct bpfld_beside *b = handle;
	u64 until;

	if (!b)
		return;
	until = ktime_get_ns() + BPFLD_SPIN_NS;
	/* The worker's task_struct stays while RCU is held (it is freed after a grace
	 * period), as mutex_spin_on_owner() relies on. */
	rcu_read_lock();
	while (smp_load_acquire(&b->state) == BPFLD_BESIDE_RUNNING &&
	       bpfld_task_on_cpu(b->worker) && !need_resched() &&
	       ktime_get_ns() < until)
		cpu_relax();
	rcu_read_unlock();
	if (smp_load_acquire(&b->state) != BPFLD_BESIDE_DONE)
		flush_work(&b->work);
}

void bpfld_beside_wait(void *handle);
void bpfld_beside_wait(void *handle)
{
	struct bpfld_beside *b = handle;

	if (!b)
		return;
	/* Uninterruptible, as the work reads the caller's plan: bounded by one hash. */
	flush_work(&b->work);
	kfree(b);
}

/* The caller is dying; in the loading thread, it passed its SIGKILL on (see
 * bpfld_iso_join()).
 */
bool bpfld_fatal_signal_pending(void);
bool bpfld_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* --- Kernel symbol addresses, for typeless __ksym externs ------------------------ *
 *
 * libbpf reads /proc/kallsyms; kallsyms_lookup_name() is not exported to modules in
 * 6.12. The BPF helper bpf_kallsyms_lookup_name() is, to BPF_PROG_TYPE_SYSCALL
 * programs, and kern_sys_bpf() runs such a program in the kernel with a kernel pointer
 * as its context (libbpf's light skeleton loader programs call the same helper for
 * their typeless ksyms). So a load with typeless ksyms loads such a program
 * (bpfld_ksym_open()) once, in the loading thread, as the caller (the helper answers
 * -EPERM to a caller that may not see kernel addresses, where /proc/kallsyms shows
 * zeros), runs it once per name and closes it. Names are looked up to 503 bytes (the
 * program's stack holds the name and the result; kernel symbols may have up to 511).
 * kallsyms_lookup_name() returns the first of several symbols of one name (libbpf
 * refuses such a name as ambiguous) and also searches the modules' symbols (which
 * /proc/kallsyms lists too).
 */
#define BPFLD_KSYM_NAME_LEN 504

struct bpfld_ksym_ctx {
	char name[BPFLD_KSYM_NAME_LEN];
	u64 addr;
};

/* The instructions bpfld_name_to_stack() emits. */
#define BPFLD_NAME_TO_STACK_INSNS (2 * BPFLD_KSYM_NAME_LEN / 8 + 1)

/*
 * The start of a lookup program, at @i: the name (the context's first
 * BPFLD_KSYM_NAME_LEN bytes) copied to the stack's 512 bytes, since the verifier lets a
 * helper read memory of the stack or a map, not of the context; r6 = the context.
 * Returns where the program goes on.
 */
static struct bpf_insn *bpfld_name_to_stack(struct bpf_insn *i)
{
	int off;

	for (off = 0; off < BPFLD_KSYM_NAME_LEN; off += 8) {
		*i++ = BPF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_1, off);
		*i++ = BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_2, -512 + off);
	}
	*i++ = BPF_MOV64_REG(BPF_REG_6, BPF_REG_1);
	return i;
}

/*
 * Load @insns (up to @end) as a sleepable BPF_PROG_TYPE_SYSCALL program called @name,
 * and free them: the program's fd in this thread's table, or a negative errno.
 */
static int bpfld_syscall_prog_load(struct bpf_insn *insns, struct bpf_insn *end,
				   const char *name)
{
	static const char license[] = "GPL";
	union bpf_attr attr = {};
	int fd;

	attr.prog_type = BPF_PROG_TYPE_SYSCALL;
	attr.prog_flags = BPF_F_SLEEPABLE;
	attr.insns = (u64)(unsigned long)insns;
	attr.insn_cnt = end - insns;
	attr.license = (u64)(unsigned long)license;
	strscpy(attr.prog_name, name, sizeof(attr.prog_name));
	fd = kern_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	kfree(insns);
	return fd;
}

/*
 * Run program @prog_fd once with @ctx (@size bytes) as its context: kern_sys_bpf()'s
 * result, the program's return value in *@retval.
 */
static int bpfld_syscall_prog_run(int prog_fd, void *ctx, u32 size, u32 *retval)
{
	union bpf_attr attr = {};
	int err;

	attr.test.prog_fd = prog_fd;
	attr.test.ctx_in = (u64)(unsigned long)ctx;
	attr.test.ctx_size_in = size;
	err = kern_sys_bpf(BPF_PROG_TEST_RUN, &attr, sizeof(attr));
	*retval = attr.test.retval;
	return err;
}

/* The lookup program's fd in this thread's table, or a negative errno. */
int bpfld_ksym_open(void);
int bpfld_ksym_open(void)
{
	struct bpf_insn *insns, *i;

	insns = kcalloc(BPFLD_NAME_TO_STACK_INSNS + 10, sizeof(*insns), GFP_KERNEL);
	if (!insns)
		return -ENOMEM;
	/* The stack's 512 bytes: the name, then the helper's result. */
	i = bpfld_name_to_stack(insns);
	/* r0 = bpf_kallsyms_lookup_name(fp - 512, BPFLD_KSYM_NAME_LEN, 0, fp - 8) */
	*i++ = BPF_MOV64_REG(BPF_REG_1, BPF_REG_10);
	*i++ = BPF_ALU64_IMM(BPF_ADD, BPF_REG_1, -512);
	*i++ = BPF_MOV64_IMM(BPF_REG_2, BPFLD_KSYM_NAME_LEN);
	*i++ = BPF_MOV64_IMM(BPF_REG_3, 0);
	*i++ = BPF_MOV64_REG(BPF_REG_4, BPF_REG_10);
	*i++ = BPF_ALU64_IMM(BPF_ADD, BPF_REG_4, -8);
	/* A helper id, as user space writes it (not BPF_EMIT_CALL's kernel offset). */
	*i++ = BPF_RAW_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_kallsyms_lookup_name);
	/* ctx->addr = *(fp - 8); return r0 */
	*i++ = BPF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, -8);
	*i++ = BPF_STX_MEM(BPF_DW, BPF_REG_6, BPF_REG_1,
			   offsetof(struct bpfld_ksym_ctx, addr));
	*i++ = BPF_EXIT_INSN();
	return bpfld_syscall_prog_load(insns, i, "bpfld_kallsyms");
}

/*
 * The address of kernel symbol `name` (`len` bytes, no NUL) through the program of
 * bpfld_ksym_open(): 0 and *addr set, -ENOENT (no such symbol), -EPERM (the caller may
 * not see kernel addresses), -ENAMETOOLONG (503 bytes at most), or another negative
 * errno.
 */
int bpfld_ksym_lookup(int prog_fd, const char *name, size_t len, u64 *addr);
int bpfld_ksym_lookup(int prog_fd, const char *name, size_t len, u64 *addr)
{
	struct bpfld_ksym_ctx *ctx;
	u32 retval;
	int err;

	*addr = 0;
	if (!len || memchr(name, 0, len))
		return -ENOENT;
	if (len >= BPFLD_KSYM_NAME_LEN)
		return -ENAMETOOLONG;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	memcpy(ctx->name, name, len);
	err = bpfld_syscall_prog_run(prog_fd, ctx, sizeof(*ctx), &retval);
	if (!err)
		err = (int)retval;
	if (!err)
		*addr = ctx->addr;
	kfree(ctx);
	return err;
}

/* --- Kernel module BTF objects, for kfuncs, ksyms and attach targets in modules --- *
 *
 * A program that calls a module's kfunc, reads a module's typed ksym or attaches to a
 * module's function names that module's BTF object by fd (fd_array, the ld_imm64's
 * second half, attach_btf_obj_fd); libbpf opens it by id (BPF_BTF_GET_FD_BY_ID),
 * which kern_sys_bpf() does not take, and btf_get_fd_by_id() is not exported. The
 * BPF helper bpf_btf_find_by_name_kind() is, to BPF_PROG_TYPE_SYSCALL programs: it
 * finds a type by name and kind in vmlinux, then in the modules by BTF id (the order
 * libbpf loads them in), and for a module's returns a new fd of its BTF object in the
 * current task's table with the type's id. So a load that uses modules loads such a
 * program (bpfld_btf_find_open()) in the loading thread, runs it once per module with
 * a type the plan found there, and checks that the kernel found the same id.
 */
struct bpfld_btf_find_ctx {
	char name[BPFLD_KSYM_NAME_LEN];
	u32 kind;
	u32 pad;
	s64 ret;
};

void bpfld_close_fd(int fd);

/* The program's fd in this thread's table, or a negative errno. */
int bpfld_btf_find_open(void);
int bpfld_btf_find_open(void)
{
	struct bpf_insn *insns, *i;

	insns = kcalloc(BPFLD_NAME_TO_STACK_INSNS + 10, sizeof(*insns), GFP_KERNEL);
	if (!insns)
		return -ENOMEM;
	i = bpfld_name_to_stack(insns);
	/* r0 = bpf_btf_find_by_name_kind(fp - 512, BPFLD_KSYM_NAME_LEN, ctx->kind, 0) */
	*i++ = BPF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_1,
			   offsetof(struct bpfld_btf_find_ctx, kind));
	*i++ = BPF_MOV64_REG(BPF_REG_1, BPF_REG_10);
	*i++ = BPF_ALU64_IMM(BPF_ADD, BPF_REG_1, -512);
	*i++ = BPF_MOV64_IMM(BPF_REG_2, BPFLD_KSYM_NAME_LEN);
	*i++ = BPF_MOV64_IMM(BPF_REG_4, 0);
	*i++ = BPF_RAW_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_btf_find_by_name_kind);
	/* ctx->ret = r0; return 0 */
	*i++ = BPF_STX_MEM(BPF_DW, BPF_REG_6, BPF_REG_0,
			   offsetof(struct bpfld_btf_find_ctx, ret));
	*i++ = BPF_MOV64_IMM(BPF_REG_0, 0);
	*i++ = BPF_EXIT_INSN();
	return bpfld_syscall_prog_load(insns, i, "bpfld_btf_find");
}

/*
 * The fd of the module BTF object that has `prefix` + `name` (`plen` + `len` bytes, no
 * NUL) of BTF kind `kind` with id `id`, through the program of bpfld_btf_find_open():
 * the fd (in this thread's table), or -ENOENT (no such type), -ESRCH (the kernel found
 * it in vmlinux, or under another id: another module came first), -ENAMETOOLONG, or
 * another negative errno.
 */
int bpfld_btf_find(int prog_fd, const char *prefix, size_t plen, const char *name,
		   size_t len, u32 kind, u32 id);
int bpfld_btf_find(int prog_fd, const char *prefix, size_t plen, const char *name,
		   size_t len, u32 kind, u32 id)
{
	struct bpfld_btf_find_ctx *ctx;
	int err, fd;
	u32 retval;
	s64 ret;

	if (!len || memchr(name, 0, len) || memchr(prefix, 0, plen))
		return -ENOENT;
	if (plen >= BPFLD_KSYM_NAME_LEN || len >= BPFLD_KSYM_NAME_LEN - plen)
		return -ENAMETOOLONG;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	memcpy(ctx->name, prefix, plen);
	memcpy(ctx->name + plen, name, len);
	ctx->kind = kind;
	/* An fd of 0 is vmlinux's: a module's BTF gets another (see bpfld_fd0). */
	err = bpfld_syscall_prog_run(prog_fd, ctx, sizeof(*ctx), &retval);
	ret = ctx->ret;
	kfree(ctx);
	if (err)
		return err;
	if (ret < 0)
		return ret;
	fd = (int)(ret >> 32);
	if (fd <= 0)
		return -ESRCH; /* vmlinux's */
	if ((u32)ret != id) {
		bpfld_close_fd(fd);
		return -ESRCH;
	}
	return fd;
}

/* --- Arenas ---------------------------------------------------------------------- *
 *
 * libbpf maps a BPF_MAP_TYPE_ARENA map in the loading process right after creating
 * it: the first mapping sets the arena's user address, which its programs need before
 * they load, and the global __arena variables are written into it. The loading thread
 * runs in the caller's address space (kthread_use_mm() in bpfld_iso_run()), so it maps
 * the arena there: shared, read-write, at the object's map_extra if it gives one but
 * never over an existing mapping (MAP_FIXED_NOREPLACE, where libbpf uses MAP_FIXED in
 * its own process). A load that fails afterwards unmaps it; a load that succeeds
 * leaves it to the caller, with its address in bpfld_map_info.
 */
long bpfld_arena_map(int fd, u64 len, u64 addr, const void *data, size_t data_len,
		     u64 *out);
long bpfld_arena_map(int fd, u64 len, u64 addr, const void *data, size_t data_len,
		     u64 *out)
{
	unsigned long flags = MAP_SHARED | (addr ? MAP_FIXED_NOREPLACE : 0);
	struct file *file;
	unsigned long a;

	if (!current->mm)
		return -EOPNOTSUPP;
	if (data_len > len)
		return -EINVAL;
	/*
	 * A map_extra past the caller's address space (libbpf widens a 32-bit
	 * __ulong enum, so clang 14 objects can ask for 0xffffffffffffe000): the
	 * kernel created the arena, but no mapping can be there. Refused before
	 * vm_mmap(), whose arena_get_unmapped_area() can WARN on such an address;
	 * libbpf's mmap() fails with EFAULT.
	 */
	if (addr && (addr >= current->mm->task_size ||
		     len > current->mm->task_size - addr))
		return -EFAULT;
	file = fget(fd);
	if (!file)
		return -EBADF;
	a = vm_mmap(file, addr, len, PROT_READ | PROT_WRITE, flags, 0);
	fput(file);
	if (IS_ERR_VALUE(a))
		return (long)a;
	if (data_len && copy_to_user((void __user *)a, data, data_len)) {
		/* Left mapped if a fatal signal stops vm_munmap() (it takes the mmap
		 * lock killably): then *out says where, for the caller to unmap. */
		if (vm_munmap(a, len))
			*out = a;
		return -EFAULT;
	}
	*out = a;
	return 0;
}

/*
 * Undo bpfld_arena_map(), in the thread that made it or in the caller: 0, or
 * -EINTR with the mapping left if a fatal signal is pending (root killed the loading
 * thread, or the caller is being killed), which the caller's way out retries.
 */
int bpfld_arena_unmap(u64 addr, u64 len);
int bpfld_arena_unmap(u64 addr, u64 len)
{
	return vm_munmap(addr, len);
}

/*
 * In the loading thread: close an fd of init_files, releasing its file at once (see
 * bpfld_fput()). close_fd() would also flush the file: BPF objects' files have no
 * ->flush, and no lock or dnotify watch is ever taken on the thread's fds.
 */
void bpfld_close_fd(int fd);
void bpfld_close_fd(int fd)
{
	struct file *file = file_close_fd(fd);

	if (file)
		__fput_sync(file);
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

/*
 * The file at @fd in the caller's table if it is @obj's (its private_data: a BPF map
 * or program just looked up by that fd, and referenced), with a reference; NULL with
 * *@err -EBADF if the fd was closed and reused in between.
 */
static struct file *bpfld_fget_of(int fd, void *obj, int *err)
{
	struct file *file = fget(fd);

	if (file && file->private_data == obj)
		return file;
	if (file)
		fput(file);
	*err = -EBADF;
	return NULL;
}

/*
 * The file of the BPF map at @fd in the caller's table, referenced, for a load to use
 * instead of creating one (struct bpfld_map_reuse); NULL with *@err -EBADF (no such
 * fd, or it changed while looked at) or -EINVAL (not a map). bpf_map_get() checks
 * that the fd is a map's (its f_op); the file fget() then returns for the same fd
 * must be that map's (its private_data), or the fd was closed and reused between.
 */
struct file *bpfld_map_fget(int fd, int *err);
struct file *bpfld_map_fget(int fd, int *err)
{
	struct bpf_map *map = bpf_map_get(fd);
	struct file *file;

	if (IS_ERR(map)) {
		*err = PTR_ERR(map);
		return NULL;
	}
	file = bpfld_fget_of(fd, map, err);
	bpf_map_put(map);
	return file;
}

/*
 * Whether the map of @file (from bpfld_map_fget()) differs from a definition, as
 * libbpf's map_is_reuse_compat() compares them (what BPF_OBJ_GET_INFO_BY_FD reports:
 * the struct's fields): 0 if not, else 1 map_type, 2 key_size, 3 value_size,
 * 4 max_entries, 5 map_flags, 6 map_extra. A devmap's BPF_F_RDONLY_PROG is left out:
 * the kernel sets it on every devmap.
 */
int bpfld_map_differs(struct file *file, u32 type, u32 key_size, u32 value_size,
		      u32 max_entries, u32 flags, u64 extra);
int bpfld_map_differs(struct file *file, u32 type, u32 key_size, u32 value_size,
		      u32 max_entries, u32 flags, u64 extra)
{
	const struct bpf_map *map = file->private_data;
	u32 map_flags = map->map_flags;

	if (map->map_type == BPF_MAP_TYPE_DEVMAP || map->map_type == BPF_MAP_TYPE_DEVMAP_HASH)
		map_flags &= ~BPF_F_RDONLY_PROG;
	if (map->map_type != type)
		return 1;
	if (map->key_size != key_size)
		return 2;
	if (map->value_size != value_size)
		return 3;
	if (map->max_entries != max_entries)
		return 4;
	if (map_flags != flags)
		return 5;
	if (map->map_extra != extra)
		return 6;
	return 0;
}

/*
 * The file of the BPF program at @fd in the caller's table, referenced, for a load's
 * program to attach to (struct bpfld_attach_target); NULL with *@err -EBADF or -EINVAL
 * (not a program, or one offloaded to a device). 6.12 exports no lookup of a program
 * of any type, so bpf_prog_get_type_dev() is asked with each type in turn: it answers
 * -EINVAL for a program of another type and for an fd that is no program. As for
 * maps, the file fget() then returns for the fd must be that program's.
 */
struct file *bpfld_prog_fget(int fd, int *err);
struct file *bpfld_prog_fget(int fd, int *err)
{
	struct bpf_prog *prog = ERR_PTR(-EINVAL);
	struct file *file;
	int type;

	for (type = BPF_PROG_TYPE_UNSPEC + 1; type < __MAX_BPF_PROG_TYPE; type++) {
		prog = bpf_prog_get_type_dev(fd, type, false);
		if (!IS_ERR(prog) || PTR_ERR(prog) != -EINVAL)
			break;
	}
	if (IS_ERR(prog)) {
		*err = PTR_ERR(prog);
		return NULL;
	}
	file = bpfld_fget_of(fd, prog, err);
	bpf_prog_put(prog);
	return file;
}

/*
 * In the loading thread: a new fd (O_CLOEXEC) for another reference of @file, never 0
 * (which BPF_PROG_LOAD reads as "none": see bpfld_fd0; -EBUSY if 0 is all there is).
 */
int bpfld_fd_of(struct file *file);
int bpfld_fd_of(struct file *file)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd == 0) {
		put_unused_fd(fd);
		return -EBUSY;
	}
	if (fd > 0)
		fd_install(fd, get_file(file));
	return fd;
}

/* Files we created with BPF_MAP_CREATE or took (bpfld_map_fget): private_data is the map. */
u32 bpfld_map_file_id(struct file *file);
u32 bpfld_map_file_id(struct file *file)
{
	struct bpf_map *map = file->private_data;

	return map->id;
}

/*
 * Write the program at @prog_fd (in the current task's table) into slot @key of the
 * program array of @map_file, a map the caller passed for reuse (bpfld_map_reuse),
 * keeping in *@old, with the array's reference to it, the program the slot held (NULL
 * if none). bpfld_prog_array_restore() puts it back if the load fails later,
 * bpfld_prog_array_release() drops it if the load succeeds.
 *
 * This is the BPF_MAP_UPDATE_ELEM command (kernel/bpf/syscall.c, map_update_elem();
 * kernel/bpf/arraymap.c, bpf_fd_array_map_update_elem()) less the last step, which
 * drops the replaced program: a write of the map counted while it runs (writecnt,
 * which BPF_MAP_FREEZE waits out), refused (-EPERM) through a file not opened for
 * writing or once the map is frozen, the program taken and checked by the map's own
 * op (its type and owner, not an extension's target), and the exchange and the JIT's
 * direct tail calls patched under the map's poke mutex. It is made here because 6.12
 * gives a module no way to get the replaced program: the command drops it, and a
 * module holds no fd of a program it did not create. Sleeps (the mutex).
 */
int bpfld_prog_array_swap(struct file *map_file, u32 key, int prog_fd, void **old);
int bpfld_prog_array_swap(struct file *map_file, u32 key, int prog_fd, void **old)
{
	struct bpf_map *map = map_file->private_data;
	struct bpf_array *array = container_of(map, struct bpf_array, map);
	void *ours;
	int err = 0;

	*old = NULL;
	if (map->map_type != BPF_MAP_TYPE_PROG_ARRAY || !map->ops->map_poke_run)
		return -EINVAL;
	if (key >= map->max_entries)
		return -E2BIG;
	atomic64_inc(&map->writecnt);
	if (!(map_file->f_mode & FMODE_CAN_WRITE) || READ_ONCE(map->frozen)) {
		err = -EPERM;
		goto out;
	}
	ours = map->ops->map_fd_get_ptr(map, map_file, prog_fd);
	if (IS_ERR(ours)) {
		err = PTR_ERR(ours);
		goto out;
	}
	mutex_lock(&array->aux->poke_mutex);
	*old = xchg(array->ptrs + key, ours);
	map->ops->map_poke_run(map, key, *old, ours);
	mutex_unlock(&array->aux->poke_mutex);
out:
	atomic64_dec(&map->writecnt);
	return err;
}

/*
 * Undo bpfld_prog_array_swap() when the load fails after it: if slot @key of the map
 * of @map_file still holds the program of @prog_file, put @old back (the slot is
 * emptied if @old is NULL), else leave the slot alone, another writer's since, and
 * drop @old. No program of a failed load stays reachable through the caller's maps,
 * and the slot holds what it held before the load unless someone wrote it since.
 *
 * 6.12 has no compare-and-exchange command for a program array; every writer of its
 * slots (BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, the map's clearing when its last
 * user reference goes, which cannot happen while the load holds @map_file) exchanges
 * them under the map's poke mutex, so the compare is made inside it. Then, as the
 * update does: the tail calls the JIT made direct are patched (map_poke_run), and the
 * slot's reference to the load's program is dropped after a grace period. It writes
 * a map frozen since (BPF_MAP_FREEZE, which the command would refuse): the load's
 * write came first, and nothing verified depends on a program array's contents.
 * Sleeps (the mutex).
 */
int bpfld_prog_array_restore(struct file *map_file, struct file *prog_file, u32 key, void *old);
int bpfld_prog_array_restore(struct file *map_file, struct file *prog_file, u32 key, void *old)
{
	struct bpf_map *map = map_file->private_data;
	struct bpf_array *array = container_of(map, struct bpf_array, map);
	void *ours = prog_file->private_data;

	if (map->map_type != BPF_MAP_TYPE_PROG_ARRAY || key >= map->max_entries ||
	    !map->ops->map_poke_run) {
		/* Not the map bpfld_prog_array_swap() wrote: only @old to drop. */
		if (old && map->ops->map_fd_put_ptr)
			map->ops->map_fd_put_ptr(map, old, true);
		return -EINVAL;
	}
	mutex_lock(&array->aux->poke_mutex);
	if (cmpxchg(array->ptrs + key, ours, old) != ours) {
		mutex_unlock(&array->aux->poke_mutex);
		if (old)
			map->ops->map_fd_put_ptr(map, old, true);
		return 0;
	}
	map->ops->map_poke_run(map, key, ours, old);
	mutex_unlock(&array->aux->poke_mutex);
	map->ops->map_fd_put_ptr(map, ours, true);
	return 0;
}

/*
 * The load that made bpfld_prog_array_swap() succeeded: drop the program the slot
 * held before (@old, NULL if none), as the update command drops it.
 */
void bpfld_prog_array_release(struct file *map_file, void *old);
void bpfld_prog_array_release(struct file *map_file, void *old)
{
	struct bpf_map *map = map_file->private_data;

	if (old)
		map->ops->map_fd_put_ptr(map, old, true);
}

/*
 * Undo the registration of the plain struct_ops map of `map_file` that this load made
 * (BPFLD_LOAD_REGISTER_STRUCT_OPS) when the load fails after it. As the
 * BPF_MAP_DELETE_ELEM command does for a struct_ops map (kernel/bpf/syscall.c,
 * map_delete_elem()): the map's own delete, in a context that may sleep, which
 * unregisters it and drops the reference its registration took. A map made for a
 * link (BPF_F_LINK) is never registered by a load.
 */
int bpfld_struct_ops_unreg(struct file *map_file);
int bpfld_struct_ops_unreg(struct file *map_file)
{
	struct bpf_map *map = map_file->private_data;
	u32 key = 0;

	if (map->map_type != BPF_MAP_TYPE_STRUCT_OPS || (map->map_flags & BPF_F_LINK))
		return -EINVAL;
	return map->ops->map_delete_elem(map, &key);
}

/*
 * In the loading thread, after BPF_MAP_FREEZE of a global data map (.rodata, .kconfig:
 * an array of one element) at `fd`: 0 if its value is `data` (`len` bytes, then zeros
 * up to the value size), -EBADMSG if not. The verifier takes a frozen read-only map's
 * contents as constants, and between the update and the freeze any process with
 * CAP_SYS_ADMIN can open the map by id and write it. Once it is frozen nothing from
 * user space can (a writable mapping made before would have failed the freeze), and
 * the programs that will use it cannot (BPF_F_RDONLY_PROG).
 */
int bpfld_frozen_value_check(int fd, const void *data, u32 len);
int bpfld_frozen_value_check(int fd, const void *data, u32 len)
{
	struct bpf_map *map = bpf_map_get(fd);
	const u8 *v;
	u32 key = 0;
	int ret = 0;

	if (IS_ERR(map))
		return PTR_ERR(map);
	if (map->map_type != BPF_MAP_TYPE_ARRAY || map->max_entries != 1 ||
	    len > map->value_size || !READ_ONCE(map->frozen)) {
		ret = -EINVAL;
		goto out;
	}
	rcu_read_lock();
	v = map->ops->map_lookup_elem(map, &key);
	if (!v || memcmp(v, data, len) || memchr_inv(v + len, 0, map->value_size - len))
		ret = -EBADMSG;
	rcu_read_unlock();
out:
	bpf_map_put(map);
	return ret;
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
