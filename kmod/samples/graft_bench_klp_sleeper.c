// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream livepatch's side of graft's blocked-task benchmark: a klp patch
 * of graft_test_sleeper_func() in the graft_test_sleeper module, the
 * function graft's graft_test_sleeper_patch replaces.  The replacement
 * sleeps like the original when asked (through the exported
 * graft_test_sleeper_wait(), so this module depends on the target) and
 * records version 3.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/livepatch.h>
#include <linux/module.h>

int graft_test_sleeper_wait(int block, int version);

static noinline int graft_bench_klp_sleeper_func(int block)
{
	int r = graft_test_sleeper_wait(block, 3);

	barrier(); /* not a tail call, as the original */
	return r;
}

static struct klp_func funcs[] = {
	{
		.old_name = "graft_test_sleeper_func",
		.new_func = graft_bench_klp_sleeper_func,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "graft_test_sleeper",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int graft_bench_klp_sleeper_init(void)
{
	return klp_enable_patch(&patch);
}

static void graft_bench_klp_sleeper_exit(void)
{
}

module_init(graft_bench_klp_sleeper_init);
module_exit(graft_bench_klp_sleeper_exit);
MODULE_DESCRIPTION("upstream livepatch of graft_test_sleeper_func() (graft's benchmark)");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
