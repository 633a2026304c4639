// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S13 system states, version 1: upstream's
 * tools/testing/selftests/livepatch/test_modules/test_klp_state.c in
 * graft's C ABI (graft.h), with the same callbacks and log lines.
 *
 * It declares two states:
 *
 *   1  CONSOLE_LOGLEVEL_STATE (upstream's): post_patch saves
 *      console_loglevel in the state's data (allocated by pre_patch) and
 *      sets it to CONSOLE_LOGLEVEL_MOTORMOUTH; pre_unpatch restores it;
 *      post_unpatch frees the data.  Version 1 "does not support
 *      migration": it never looks at a previous patch's state.
 *   2  CMDLINE_COUNT_STATE (graft's): the replacement of
 *      cmdline_proc_show() counts reads of /proc/cmdline in a shadow
 *      variable (id 2) of its inode; the counters belong to the state, so
 *      they survive an atomic replace by a patch that carries it
 *      (graft_test_state2/3, which take the state over) and are freed by
 *      post_unpatch.
 *
 * /proc/cmdline reads "<module>: state 1 v<version>, read <n>" while it
 * is patched.  Parameters for graft's own cases (S13):
 *   version=N  the version of state 1 it declares (default 1); 2 or more
 *              also makes it a migrating patch (as graft_test_state2)
 *   replace=0  a non-replace patch (default: replace, as upstream's)
 *   sleeper=1  also patch graft_test_sleeper_func() of the S7 test module
 *              (version 4), so that a task sleeping in it holds the
 *              transition: S13 reverses one and checks that the state goes
 *              back to the patch it would have replaced.  (The module
 *              always links against graft_test_sleeper.)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <generated/utsrelease.h>
#include "../graft.h"

#define CONSOLE_LOGLEVEL_STATE 1
#define CMDLINE_COUNT_STATE 2

static unsigned int version = 1;
module_param(version, uint, 0444);
MODULE_PARM_DESC(version, "version of state 1 (CONSOLE_LOGLEVEL_STATE); 2 or more migrates");
static bool replace = true;
module_param(replace, bool, 0444);
MODULE_PARM_DESC(replace, "atomic replace (cumulative) patch");
static bool sleeper;
module_param(sleeper, bool, 0444);
MODULE_PARM_DESC(sleeper, "also patch graft_test_sleeper_func() (a transition a task can hold)");

/* graft_test_sleeper.c: sleeps like its function, as version `version` */
int graft_test_sleeper_wait(int block, int version);

static struct graft_patch_desc patch;

/* The replacement of graft_test_sleeper_func() (version 4). */
static noinline int state_sleeper_func(int block)
{
	int r = graft_test_sleeper_wait(block, 4);

	/* not a tail call: this frame stays while the task sleeps */
	barrier();
	return r;
}

static struct graft_func_desc sleeper_funcs[] = {
	{ .old_name = "graft_test_sleeper_func", .new_func = state_sleeper_func },
};

static int state_cmdline_proc_show(struct seq_file *m, void *v)
{
	u64 *n = graft_shadow_get_or_alloc(file_inode(m->file), CMDLINE_COUNT_STATE, sizeof(*n),
					   GFP_KERNEL, NULL, NULL);

	seq_printf(m, "%s: state %d v%u, read %llu\n", KBUILD_MODNAME, CONSOLE_LOGLEVEL_STATE, version,
		   n ? ++*n : 0ULL);
	return 0;
}

/* Whether this patch migrates (takes over and hands back) the state. */
static bool migrates(void)
{
	return version >= 2;
}

static int allocate_loglevel_state(void)
{
	struct graft_state *loglevel_state = graft_get_state(&patch, CONSOLE_LOGLEVEL_STATE);

	if (!loglevel_state)
		return -EINVAL;
	if (migrates() && graft_get_prev_state(CONSOLE_LOGLEVEL_STATE)) {
		pr_info("%s: space to store console_loglevel already allocated\n", __func__);
		return 0;
	}
	loglevel_state->data = kzalloc(sizeof(console_loglevel), GFP_KERNEL);
	if (!loglevel_state->data)
		return -ENOMEM;
	pr_info("%s: allocating space to store console_loglevel\n", __func__);
	return 0;
}

static void fix_console_loglevel(void)
{
	struct graft_state *loglevel_state = graft_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	struct graft_state *prev = migrates() ? graft_get_prev_state(CONSOLE_LOGLEVEL_STATE) : NULL;

	if (!loglevel_state)
		return;
	if (prev) {
		pr_info("%s: taking over the console_loglevel change\n", __func__);
		loglevel_state->data = prev->data;
		return;
	}
	/* (upstream's test writes it blindly: a lost state would oops here) */
	if (!loglevel_state->data) {
		pr_err("%s: no space to store console_loglevel\n", __func__);
		return;
	}
	pr_info("%s: fixing console_loglevel\n", __func__);
	*(int *)loglevel_state->data = console_loglevel;
	console_loglevel = CONSOLE_LOGLEVEL_MOTORMOUTH;
}

static void restore_console_loglevel(void)
{
	struct graft_state *loglevel_state = graft_get_state(&patch, CONSOLE_LOGLEVEL_STATE);

	if (!loglevel_state)
		return;
	if (migrates() && graft_get_prev_state(CONSOLE_LOGLEVEL_STATE)) {
		pr_info("%s: passing the console_loglevel change back to the old livepatch\n", __func__);
		return;
	}
	if (!loglevel_state->data) {
		pr_err("%s: no stored console_loglevel\n", __func__);
		return;
	}
	pr_info("%s: restoring console_loglevel\n", __func__);
	console_loglevel = *(int *)loglevel_state->data;
}

static void free_loglevel_state(void)
{
	struct graft_state *loglevel_state = graft_get_state(&patch, CONSOLE_LOGLEVEL_STATE);

	if (!loglevel_state)
		return;
	if (migrates() && graft_get_prev_state(CONSOLE_LOGLEVEL_STATE)) {
		pr_info("%s: keeping space to store console_loglevel\n", __func__);
		return;
	}
	pr_info("%s: freeing space for the stored console_loglevel\n", __func__);
	kfree(loglevel_state->data);
	loglevel_state->data = NULL;
}

/* The shadow counters of CMDLINE_COUNT_STATE go with the state. */
static void free_cmdline_counters(void)
{
	if (migrates() && graft_get_prev_state(CMDLINE_COUNT_STATE)) {
		pr_info("%s: keeping the cmdline read counters\n", __func__);
		return;
	}
	pr_info("%s: freeing the cmdline read counters\n", __func__);
	graft_shadow_free_all(CMDLINE_COUNT_STATE, NULL);
}

static int pre_patch_callback(const struct graft_object_desc *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	return allocate_loglevel_state();
}

static void post_patch_callback(const struct graft_object_desc *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	fix_console_loglevel();
}

static void pre_unpatch_callback(const struct graft_object_desc *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	restore_console_loglevel();
}

static void post_unpatch_callback(const struct graft_object_desc *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	free_loglevel_state();
	free_cmdline_counters();
}

static struct graft_func_desc funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = state_cmdline_proc_show },
};

static struct graft_object_desc objs[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = funcs,
		.nfuncs = ARRAY_SIZE(funcs),
		.callbacks = {
			.pre_patch = pre_patch_callback,
			.post_patch = post_patch_callback,
			.pre_unpatch = pre_unpatch_callback,
			.post_unpatch = post_unpatch_callback,
		},
	},
	{
		.name = "graft_test_sleeper",	/* with sleeper=1 */
		.funcs = sleeper_funcs,
		.nfuncs = ARRAY_SIZE(sleeper_funcs),
	},
};

static struct graft_state states[] = {
	{ .id = CONSOLE_LOGLEVEL_STATE, .version = 1 },
	{ .id = CMDLINE_COUNT_STATE, .version = 1 },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = KBUILD_MODNAME,
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = 1,
	.states = states,
	.nstates = ARRAY_SIZE(states),
};

static int __init graft_test_state_init(void)
{
	states[0].version = version;
	patch.replace = replace;
	patch.nobjs = sleeper ? 2 : 1;
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_test_state_exit(void)
{
	graft_unregister_patch(&patch);
}

module_init(graft_test_state_init);
module_exit(graft_test_state_exit);
MODULE_DESCRIPTION("graft test: system state modification (upstream's test_klp_state)");
MODULE_LICENSE("GPL");
