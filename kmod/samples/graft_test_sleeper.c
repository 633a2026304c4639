// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S7/S11 test target: /proc/graft_test_sleeper.  Writing "1" calls
 * graft_test_sleeper_func(1), which sleeps inside itself until "r" is
 * written (or 30 s pass), so a task can be held inside the function a patch
 * replaces; writing "0" calls it without sleeping.  Reading shows
 * "version=<last caller: 1 original, 2 patch> blocked=<tasks sleeping>".
 *
 * C, not Rust: the function patched must have an ftrace site, and this
 * kernel builds Rust without them.  graft_test_sleeper_wait() is exported
 * for the patch module (graft_test_sleeper_patch), whose replacement sleeps
 * the same way, so the patch module depends on this one.
 */
#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(graft_test_wq);
static atomic_t graft_test_gen = ATOMIC_INIT(0);
static atomic_t graft_test_blocked = ATOMIC_INIT(0);
static int graft_test_version;

int graft_test_sleeper_wait(int block, int version);
int graft_test_sleeper_func(int block);

/* Record the caller's version; if block, sleep until released (30 s at most). */
int graft_test_sleeper_wait(int block, int version)
{
	int gen = atomic_read(&graft_test_gen);

	WRITE_ONCE(graft_test_version, version);
	if (!block)
		return 0;
	atomic_inc(&graft_test_blocked);
	wait_event_interruptible_timeout(graft_test_wq, atomic_read(&graft_test_gen) != gen, 30 * HZ);
	atomic_dec(&graft_test_blocked);
	return 0;
}
EXPORT_SYMBOL_GPL(graft_test_sleeper_wait);

/* The function patched (noinline: it keeps its own frame and ftrace site). */
noinline int graft_test_sleeper_func(int block)
{
	int r = graft_test_sleeper_wait(block, 1);

	barrier(); /* not a tail call: this frame stays on the stack */
	return r;
}

static ssize_t graft_test_write(struct file *f, const char __user *ubuf, size_t n, loff_t *pos)
{
	char c;

	if (!n || get_user(c, ubuf))
		return -EINVAL;
	switch (c) {
	case '0':
	case '1':
		graft_test_sleeper_func(c == '1');
		break;
	case 'r':
		atomic_inc(&graft_test_gen);
		wake_up_all(&graft_test_wq);
		break;
	default:
		return -EINVAL;
	}
	return n;
}

static ssize_t graft_test_read(struct file *f, char __user *ubuf, size_t n, loff_t *pos)
{
	char buf[48];
	int len = scnprintf(buf, sizeof(buf), "version=%d blocked=%d\n",
			    READ_ONCE(graft_test_version), atomic_read(&graft_test_blocked));

	return simple_read_from_buffer(ubuf, n, pos, buf, len);
}

static const struct proc_ops graft_test_ops = {
	.proc_read = graft_test_read,
	.proc_write = graft_test_write,
	.proc_lseek = default_llseek,
};

static int __init graft_test_init(void)
{
	return proc_create("graft_test_sleeper", 0600, NULL, &graft_test_ops) ? 0 : -ENOMEM;
}

static void __exit graft_test_exit(void)
{
	/* release every sleeper first; remove_proc_entry() waits for them */
	atomic_inc(&graft_test_gen);
	wake_up_all(&graft_test_wq);
	remove_proc_entry("graft_test_sleeper", NULL);
}

module_init(graft_test_init);
module_exit(graft_test_exit);
MODULE_DESCRIPTION("graft test target: a function a task can sleep in");
MODULE_LICENSE("GPL");
