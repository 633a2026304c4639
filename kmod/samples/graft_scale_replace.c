// SPDX-License-Identifier: GPL-2.0
/*
 * graft's scale replace patch (replace=true, version 2): replaces n (module
 * parameter, 1..500, default 500) of graft_test_scale's functions, the even
 * ones in order (graft_scale_fn_0000, _0002, .., _0998 at n=500), so the
 * functions an earlier patch (graft_scale_patch) replaced and this one drops
 * are interleaved with the ones it keeps: after it, 500 run version 2 and
 * the other 500 run their original again.  Only the even functions get a
 * replacement here (graft_scale_v2_even() picks them out of
 * graft_test_scale.h's expansion).
 */
#include <linux/module.h>
#include <generated/utsrelease.h>
#include "../graft.h"
#include "graft_test_scale.h"

#define GRAFT_SCALE_REPLACE_MAX (GRAFT_SCALE_FUNCS / 2)

static unsigned int n = GRAFT_SCALE_REPLACE_MAX;
module_param(n, uint, 0400);
MODULE_PARM_DESC(n, "how many of graft_test_scale's even functions to replace (1..500, the first n)");

/* f(a, b, c) for an even last digit c, nothing for an odd one */
#define graft_scale_v2_even(f, a, b, c) graft_scale_v2_even_##c(f, a, b, c)
#define graft_scale_v2_even_0(f, a, b, c) f(a, b, c)
#define graft_scale_v2_even_1(f, a, b, c)
#define graft_scale_v2_even_2(f, a, b, c) f(a, b, c)
#define graft_scale_v2_even_3(f, a, b, c)
#define graft_scale_v2_even_4(f, a, b, c) f(a, b, c)
#define graft_scale_v2_even_5(f, a, b, c)
#define graft_scale_v2_even_6(f, a, b, c) f(a, b, c)
#define graft_scale_v2_even_7(f, a, b, c)
#define graft_scale_v2_even_8(f, a, b, c) f(a, b, c)
#define graft_scale_v2_even_9(f, a, b, c)

#define GRAFT_SCALE_V2(a, b, c) \
	static int graft_scale_v2_0##a##b##c(void) \
	{ \
		return GRAFT_SCALE_RET(2, GRAFT_SCALE_INDEX(a, b, c)); \
	}
#define GRAFT_SCALE_V2_EVEN(a, b, c) graft_scale_v2_even(GRAFT_SCALE_V2, a, b, c)
GRAFT_SCALE_EACH(GRAFT_SCALE_V2_EVEN)

#define GRAFT_SCALE_V2_DESC(a, b, c) \
	{ .old_name = GRAFT_SCALE_STR(a, b, c), .new_func = graft_scale_v2_0##a##b##c },
#define GRAFT_SCALE_V2_EVEN_DESC(a, b, c) graft_scale_v2_even(GRAFT_SCALE_V2_DESC, a, b, c)
static struct graft_func_desc funcs[] = {
	GRAFT_SCALE_EACH(GRAFT_SCALE_V2_EVEN_DESC)
};
static_assert(ARRAY_SIZE(funcs) == GRAFT_SCALE_REPLACE_MAX);

static struct graft_object_desc objs[] = {
	{ .name = "graft_test_scale", .funcs = funcs },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = "graft_scale_replace",
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = ARRAY_SIZE(objs),
	.replace = true,
};

static int __init graft_scale_replace_init(void)
{
	if (!n || n > GRAFT_SCALE_REPLACE_MAX) {
		pr_err("graft_scale_replace: n must be 1..%d, not %u\n", GRAFT_SCALE_REPLACE_MAX, n);
		return -EINVAL;
	}
	objs[0].nfuncs = n;
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_scale_replace_exit(void)
{
	graft_unregister_patch(&patch);
}

module_init(graft_scale_replace_init);
module_exit(graft_scale_replace_exit);
MODULE_DESCRIPTION("graft scale test: a replace patch keeping 500 of graft_test_scale's functions");
MODULE_LICENSE("GPL");
