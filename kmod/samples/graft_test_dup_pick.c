// SPDX-License-Identifier: GPL-2.0
/*
 * graft's pre-image test (S11): replaces the graft_test_dup_func of
 * module graft_test_dup whose code matches the pre-image given as
 * parameters, with one returning 30.  The name is ambiguous there (one
 * per C file, graft_test_dup_a.c and _b.c, whose code differs): with
 * sympos=0 graft must pick the copy the pre-image describes; with a
 * sympos naming the other copy, it must still patch the matching one; a
 * pre-image no copy matches is refused.
 *
 * The host computes the pre-image of the second copy from graft_test_dup.ko
 * (`graft-inspect preimage --orig graft_test_dup.ko --params
 * graft_test_dup_func,2`, ci/run-qemu.sh) and puts the line into the
 * image as /graft/ko/graft_test_dup_pick.params.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <generated/utsrelease.h>
#include "../graft.h"

static unsigned long pre_size;
module_param(pre_size, ulong, 0400);
static unsigned long long pre_hash;
module_param(pre_hash, ullong, 0400);
static char *pre_masks = "";
module_param(pre_masks, charp, 0400);
static unsigned long sympos;
module_param(sympos, ulong, 0400);

#define MAX_MASKS 32
static struct graft_preimage_mask masks[MAX_MASKS];
static struct graft_preimage pre;
static char masks_buf[512];

static int graft_test_dup_func_v3(void)
{
	return 30;
}

static struct graft_func_desc funcs[] = {
	{ .old_name = "graft_test_dup_func", .new_func = graft_test_dup_func_v3, .preimage = &pre },
};

static struct graft_object_desc objs[] = {
	{ .name = "graft_test_dup", .funcs = funcs, .nfuncs = ARRAY_SIZE(funcs) },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = KBUILD_MODNAME,
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = ARRAY_SIZE(objs),
};

/* "offset:len,..." into masks[]; graft checks their order and bounds */
static int parse_masks(void)
{
	char *p = masks_buf, *m;

	if (strscpy(masks_buf, pre_masks, sizeof(masks_buf)) < 0)
		return -E2BIG;
	while ((m = strsep(&p, ",")) && *m) {
		char *len = strchr(m, ':');

		if (!len || pre.nmasks == MAX_MASKS)
			return -EINVAL;
		*len++ = 0;
		if (kstrtouint(m, 0, &masks[pre.nmasks].offset) || kstrtouint(len, 0, &masks[pre.nmasks].len))
			return -EINVAL;
		pre.nmasks++;
	}
	return 0;
}

static int __init graft_test_dup_pick_init(void)
{
	int err = parse_masks();

	if (err) {
		pr_err("graft_test_dup_pick: bad pre_masks '%s'\n", pre_masks);
		return err;
	}
	pre.size = pre_size;
	pre.hash = pre_hash;
	pre.masks = pre.nmasks ? masks : NULL;
	funcs[0].old_sympos = sympos;
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_test_dup_pick_exit(void)
{
	graft_unregister_patch(&patch);
}

module_init(graft_test_dup_pick_init);
module_exit(graft_test_dup_pick_exit);
MODULE_DESCRIPTION("graft test: a pre-image picks among functions of one name (S11)");
MODULE_LICENSE("GPL");
