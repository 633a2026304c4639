// SPDX-License-Identifier: GPL-2.0
/*
 * graft's scale target (S12's scale part, the bench's scale table): 1,000
 * traceable functions graft_scale_fn_0000() .. graft_scale_fn_0999(),
 * expanded from graft_test_scale.h, and /proc/graft_test_scale, whose read
 * calls every one of them and reports which version each ran:
 *
 *   orig=<count> [v<version>=<count> ...] wrong=<count>
 *
 * orig counts the functions that ran their original, each v<version> those
 * that ran that replacement (only versions that ran are listed, in
 * increasing order), wrong those whose result was no version of that
 * function (another function's replacement, a garbled return).  Unpatched:
 * "orig=1000 wrong=0".
 *
 * C, not Rust: a patched function must have an ftrace site, and this
 * kernel builds Rust without them.  The functions are global and noinline,
 * each with its own result, and called through a table read with
 * READ_ONCE(), so no call is folded or merged away.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include "graft_test_scale.h"

#define GRAFT_SCALE_DECLARE(a, b, c) int GRAFT_SCALE_NAME(a, b, c)(void);
GRAFT_SCALE_EACH(GRAFT_SCALE_DECLARE)

#define GRAFT_SCALE_DEFINE(a, b, c) \
	noinline int GRAFT_SCALE_NAME(a, b, c)(void) \
	{ \
		return GRAFT_SCALE_RET(0, GRAFT_SCALE_INDEX(a, b, c)); \
	}
GRAFT_SCALE_EACH(GRAFT_SCALE_DEFINE)

#define GRAFT_SCALE_ADDR(a, b, c) GRAFT_SCALE_NAME(a, b, c),
static int (*const graft_scale_fns[GRAFT_SCALE_FUNCS])(void) = {
	GRAFT_SCALE_EACH(GRAFT_SCALE_ADDR)
};

static DEFINE_MUTEX(graft_scale_lock);
static unsigned int graft_scale_count[GRAFT_SCALE_MAX_VERSION + 1];

static int graft_scale_show(struct seq_file *m, void *v)
{
	unsigned int i, wrong = 0;

	mutex_lock(&graft_scale_lock);
	memset(graft_scale_count, 0, sizeof(graft_scale_count));
	for (i = 0; i < GRAFT_SCALE_FUNCS; i++) {
		int r = READ_ONCE(graft_scale_fns[i])();
		unsigned int version = (unsigned int)r / 10000;

		if (r < 0 || (unsigned int)r % 10000 != i || version > GRAFT_SCALE_MAX_VERSION)
			wrong++;
		else
			graft_scale_count[version]++;
	}
	seq_printf(m, "orig=%u", graft_scale_count[0]);
	for (i = 1; i <= GRAFT_SCALE_MAX_VERSION; i++)
		if (graft_scale_count[i])
			seq_printf(m, " v%u=%u", i, graft_scale_count[i]);
	seq_printf(m, " wrong=%u\n", wrong);
	mutex_unlock(&graft_scale_lock);
	return 0;
}

static int __init graft_test_scale_init(void)
{
	return proc_create_single("graft_test_scale", 0444, NULL, graft_scale_show) ? 0 : -ENOMEM;
}

static void __exit graft_test_scale_exit(void)
{
	remove_proc_entry("graft_test_scale", NULL);
}

module_init(graft_test_scale_init);
module_exit(graft_test_scale_exit);
MODULE_DESCRIPTION("graft test target: 1,000 traceable functions (scale)");
MODULE_LICENSE("GPL");
