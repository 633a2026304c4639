// SPDX-License-Identifier: GPL-2.0
/*
 * One of graft's 32 stacked patches on one function (S12's scale part):
 * module graft_scale_stack_<k> (k = 01..32) replaces graft_test_scale's
 * graft_scale_fn_0000() with version k.  With spread=1 it replaces three
 * functions instead, graft_scale_fn_<3(k-1)> .. <3(k-1)+2>, with version
 * k: the 32 patches then hold 96 distinct sites, more than arm64's 64
 * fast-path trampolines (S12's part d).  Not a module by itself: kmod/Kbuild
 * generates samples/graft_scale_stack_<k>.c, which includes this file, and
 * compiles each with -DGRAFT_SCALE_STACK_ID=<k>, so the 32 modules (distinct
 * names, as insmod needs) come from this one source.  The patch is named
 * after its module.
 */
#include <linux/kallsyms.h>
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

static bool spread;
module_param(spread, bool, 0400);

#define SPREAD_FUNCS 3
#define SPREAD_INDEX(j) (SPREAD_FUNCS * (GRAFT_SCALE_STACK_ID - 1) + (j))

static int graft_scale_spread_fn0(void)
{
	return GRAFT_SCALE_RET(GRAFT_SCALE_STACK_ID, SPREAD_INDEX(0));
}

static int graft_scale_spread_fn1(void)
{
	return GRAFT_SCALE_RET(GRAFT_SCALE_STACK_ID, SPREAD_INDEX(1));
}

static int graft_scale_spread_fn2(void)
{
	return GRAFT_SCALE_RET(GRAFT_SCALE_STACK_ID, SPREAD_INDEX(2));
}

/* the names, written by the init (graft wants them in the module's data) */
static char spread_names[SPREAD_FUNCS][KSYM_NAME_LEN];
static struct graft_func_desc spread_funcs[SPREAD_FUNCS] = {
	{ .old_name = spread_names[0], .new_func = graft_scale_spread_fn0 },
	{ .old_name = spread_names[1], .new_func = graft_scale_spread_fn1 },
	{ .old_name = spread_names[2], .new_func = graft_scale_spread_fn2 },
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
	if (spread) {
		for (int j = 0; j < SPREAD_FUNCS; j++)
			snprintf(spread_names[j], sizeof(spread_names[j]), "graft_scale_fn_%04d", SPREAD_INDEX(j));
		objs[0].funcs = spread_funcs;
		objs[0].nfuncs = SPREAD_FUNCS;
	}
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
