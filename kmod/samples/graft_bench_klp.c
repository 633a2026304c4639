// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream livepatch's side of graft's per-call benchmark: a klp patch of
 * graft_test_bench_func() in the graft_test_bench module (struct klp_object
 * naming the module, as samples/livepatch/livepatch-callbacks-demo.c does
 * for its module object).  The replacement does what the original and
 * graft's replacement do, one call of graft_test_bench_mark(), with
 * version 3, so the benchmark can check that this version ran.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/livepatch.h>
#include <linux/module.h>

int graft_test_bench_mark(int x, int version);

static noinline int graft_bench_klp_func(int x)
{
	return graft_test_bench_mark(x, 3);
}

static struct klp_func funcs[] = {
	{
		.old_name = "graft_test_bench_func",
		.new_func = graft_bench_klp_func,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "graft_test_bench",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int graft_bench_klp_init(void)
{
	return klp_enable_patch(&patch);
}

static void graft_bench_klp_exit(void)
{
}

module_init(graft_bench_klp_init);
module_exit(graft_bench_klp_exit);
MODULE_DESCRIPTION("upstream livepatch of graft_test_bench_func() (graft's benchmark)");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
