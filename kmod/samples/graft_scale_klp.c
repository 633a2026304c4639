// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream livepatch's side of graft's scale bench: a klp patch of the
 * first n (module parameter, 1..1000, default 1000) of graft_test_scale's
 * functions, one klp_object naming the module, with replacements returning
 * version 100 (GRAFT_SCALE_KLP_VERSION).  The same functions
 * graft_scale_patch replaces at the same n, so `ci/run-qemu.sh bench` times
 * both engines on one workload in one boot.  klp's func array ends at an
 * empty entry: the table holds all 1,000 and one empty entry, and init
 * empties entry n before klp_enable_patch().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/livepatch.h>
#include <linux/module.h>
#include "graft_test_scale.h"

static unsigned int n = GRAFT_SCALE_FUNCS;
module_param(n, uint, 0400);
MODULE_PARM_DESC(n, "how many of graft_test_scale's functions to replace (1..1000, the first n)");

#define GRAFT_SCALE_KLP(a, b, c) \
	static int graft_scale_klp_0##a##b##c(void) \
	{ \
		return GRAFT_SCALE_RET(GRAFT_SCALE_KLP_VERSION, GRAFT_SCALE_INDEX(a, b, c)); \
	}
GRAFT_SCALE_EACH(GRAFT_SCALE_KLP)

#define GRAFT_SCALE_KLP_FUNC(a, b, c) \
	{ .old_name = GRAFT_SCALE_STR(a, b, c), .new_func = graft_scale_klp_0##a##b##c },
static struct klp_func funcs[GRAFT_SCALE_FUNCS + 1] = {
	GRAFT_SCALE_EACH(GRAFT_SCALE_KLP_FUNC)
	{ }
};

static struct klp_object objs[] = {
	{
		.name = "graft_test_scale",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int graft_scale_klp_init(void)
{
	if (!n || n > GRAFT_SCALE_FUNCS) {
		pr_err("n must be 1..%d, not %u\n", GRAFT_SCALE_FUNCS, n);
		return -EINVAL;
	}
	memset(&funcs[n], 0, sizeof(funcs[n]));
	return klp_enable_patch(&patch);
}

static void graft_scale_klp_exit(void)
{
}

module_init(graft_scale_klp_init);
module_exit(graft_scale_klp_exit);
MODULE_DESCRIPTION("upstream livepatch of up to 1,000 functions of graft_test_scale (graft's scale bench)");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
