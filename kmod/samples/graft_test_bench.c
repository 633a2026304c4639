// SPDX-License-Identifier: GPL-2.0
/*
 * graft's benchmark target: /proc/graft_test_bench.  Writing N (decimal)
 * calls graft_test_bench_func() N times between two ktime_get_ns() in the
 * writer's context; reading gives "calls=N ns=T version=V" for the last
 * run, V being the version the last call ran (1: this original, 2:
 * graft's replacement, 3: upstream livepatch's).  The guest's bench mode (qemu-images/guest/bench.sh)
 * times the function unpatched, patched by upstream livepatch
 * (graft_bench_klp) and patched by graft (graft_bench_patch).
 *
 * C, not Rust: the function patched must have an ftrace site, and this
 * kernel builds Rust without them.  Every version, original or
 * replacement, does the same work: one call of the exported
 * graft_test_bench_mark(), so the figures differ only by the redirection
 * and the patch modules depend on this module (it cannot unload under them;
 * graft's patch names the function with object NULL, as S7's).
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>

/* Each run is capped so a bad write cannot hold the CPU for long. */
#define GRAFT_BENCH_MAX_CALLS 10000000UL

static DEFINE_MUTEX(graft_bench_lock);
static int graft_bench_version;
static unsigned long graft_bench_calls;
static u64 graft_bench_ns;
static long graft_bench_sink;

int graft_test_bench_mark(int x, int version);
int graft_test_bench_func(int x);

/*
 * Record the caller's version; the result feeds the loop's sum.  noinline:
 * the original calls it as the replacements do.
 */
noinline int graft_test_bench_mark(int x, int version)
{
	WRITE_ONCE(graft_bench_version, version);
	return x + version;
}
EXPORT_SYMBOL_GPL(graft_test_bench_mark);

/* The function patched (noinline: it keeps its own call and ftrace site). */
noinline int graft_test_bench_func(int x)
{
	return graft_test_bench_mark(x, 1);
}

static ssize_t graft_bench_write(struct file *f, const char __user *ubuf, size_t n, loff_t *pos)
{
	unsigned long calls, i;
	long sum = 0;
	u64 t0, t1;
	int err = kstrtoul_from_user(ubuf, n, 10, &calls);

	if (err)
		return err;
	if (!calls || calls > GRAFT_BENCH_MAX_CALLS) {
		pr_err("graft_test_bench: calls must be 1..%lu, not %lu\n", GRAFT_BENCH_MAX_CALLS, calls);
		return -EINVAL;
	}
	mutex_lock(&graft_bench_lock);
	t0 = ktime_get_ns();
	/* preemptible (PREEMPT_LAZY in this kernel): no cond_resched() needed */
	for (i = 0; i < calls; i++)
		sum += graft_test_bench_func((int)i);
	t1 = ktime_get_ns();
	graft_bench_calls = calls;
	graft_bench_ns = t1 - t0;
	/* the sum is used, so the calls cannot be dropped */
	WRITE_ONCE(graft_bench_sink, sum);
	mutex_unlock(&graft_bench_lock);
	return n;
}

static ssize_t graft_bench_read(struct file *f, char __user *ubuf, size_t n, loff_t *pos)
{
	char buf[96];
	u64 per_call_x100;
	int len;

	mutex_lock(&graft_bench_lock);
	per_call_x100 = graft_bench_calls ? div64_u64(graft_bench_ns * 100, graft_bench_calls) : 0;
	len = scnprintf(buf, sizeof(buf), "calls=%lu ns=%llu version=%d per_call_ns=%llu.%02llu\n",
			graft_bench_calls, graft_bench_ns, READ_ONCE(graft_bench_version),
			per_call_x100 / 100, per_call_x100 % 100);
	mutex_unlock(&graft_bench_lock);
	return simple_read_from_buffer(ubuf, n, pos, buf, len);
}

static const struct proc_ops graft_bench_ops = {
	.proc_read = graft_bench_read,
	.proc_write = graft_bench_write,
	.proc_lseek = default_llseek,
};

static int __init graft_bench_init(void)
{
	return proc_create("graft_test_bench", 0600, NULL, &graft_bench_ops) ? 0 : -ENOMEM;
}

static void __exit graft_bench_exit(void)
{
	remove_proc_entry("graft_test_bench", NULL);
}

module_init(graft_bench_init);
module_exit(graft_bench_exit);
MODULE_DESCRIPTION("graft test target: per-call cost of a patched function");
MODULE_LICENSE("GPL");
