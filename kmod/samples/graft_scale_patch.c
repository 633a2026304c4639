// SPDX-License-Identifier: GPL-2.0
/*
 * graft's scale patch: replaces the first n (module parameter, 1..1000,
 * default 1000) of graft_test_scale's functions, one module object
 * graft_test_scale, with replacements returning version 1.  The table holds
 * all 1,000 (expanded from graft_test_scale.h); only its first n entries
 * are registered.  S12's scale part enables it at n=1000; the bench's scale
 * table times it at n = 1, 10, 100, 1000 beside graft_scale_klp.
 *
 * C, with graft.h itself: the table is expanded by the C preprocessor.
 */
#include <linux/module.h>
#include <generated/utsrelease.h>
#include "../graft.h"
#include "graft_test_scale.h"

static unsigned int n = GRAFT_SCALE_FUNCS;
module_param(n, uint, 0400);
MODULE_PARM_DESC(n, "how many of graft_test_scale's functions to replace (1..1000, the first n)");

#define GRAFT_SCALE_V1(a, b, c) \
	static int graft_scale_v1_0##a##b##c(void) \
	{ \
		return GRAFT_SCALE_RET(1, GRAFT_SCALE_INDEX(a, b, c)); \
	}
GRAFT_SCALE_EACH(GRAFT_SCALE_V1)

#define GRAFT_SCALE_V1_DESC(a, b, c) \
	{ .old_name = GRAFT_SCALE_STR(a, b, c), .new_func = graft_scale_v1_0##a##b##c },
static struct graft_func_desc funcs[GRAFT_SCALE_FUNCS] = {
	GRAFT_SCALE_EACH(GRAFT_SCALE_V1_DESC)
};

static struct graft_object_desc objs[] = {
	{ .name = "graft_test_scale", .funcs = funcs },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = "graft_scale_patch",
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = ARRAY_SIZE(objs),
};

static int __init graft_scale_patch_init(void)
{
	if (!n || n > GRAFT_SCALE_FUNCS) {
		pr_err("graft_scale_patch: n must be 1..%d, not %u\n", GRAFT_SCALE_FUNCS, n);
		return -EINVAL;
	}
	objs[0].nfuncs = n;
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_scale_patch_exit(void)
{
	graft_unregister_patch(&patch);
}

module_init(graft_scale_patch_init);
module_exit(graft_scale_patch_exit);
MODULE_DESCRIPTION("graft scale test: a patch of up to 1,000 functions of graft_test_scale");
MODULE_LICENSE("GPL");
