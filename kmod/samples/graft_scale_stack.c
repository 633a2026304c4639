// SPDX-License-Identifier: GPL-2.0
/*
 * One of graft's 32 stacked patches on one function (S12's scale part):
 * module graft_scale_stack_<k> (k = 01..32) replaces graft_test_scale's
 * graft_scale_fn_0000() with version k.  Not a module by itself: kmod/Kbuild
 * generates samples/graft_scale_stack_<k>.c, which includes this file, and
 * compiles each with -DGRAFT_SCALE_STACK_ID=<k>, so the 32 modules (distinct
 * names, as insmod needs) come from this one source.  The patch is named
 * after its module.
 */
#include <linux/module.h>
#include <generated/utsrelease.h>
#include "../graft.h"
#include "graft_test_scale.h"

#if !defined(GRAFT_SCALE_STACK_ID) || GRAFT_SCALE_STACK_ID < 1 || GRAFT_SCALE_STACK_ID > GRAFT_SCALE_MAX_VERSION
#error "GRAFT_SCALE_STACK_ID: the patch's version, 1..GRAFT_SCALE_MAX_VERSION (kmod/Kbuild sets it)"
#endif

static int graft_scale_stack_fn(void)
{
	return GRAFT_SCALE_RET(GRAFT_SCALE_STACK_ID, 0);
}

static struct graft_func_desc funcs[] = {
	{ .old_name = "graft_scale_fn_0000", .new_func = graft_scale_stack_fn },
};

static struct graft_object_desc objs[] = {
	{ .name = "graft_test_scale", .funcs = funcs, .nfuncs = ARRAY_SIZE(funcs) },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = KBUILD_MODNAME,
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = ARRAY_SIZE(objs),
};

static int __init graft_scale_stack_init(void)
{
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_scale_stack_exit(void)
{
	graft_unregister_patch(&patch);
}

module_init(graft_scale_stack_init);
module_exit(graft_scale_stack_exit);
MODULE_DESCRIPTION("graft scale test: one of 32 patches stacked on graft_scale_fn_0000");
MODULE_LICENSE("GPL");
