// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S11 bad patches: one module whose parameter mode= picks the
 * defect; graft_register_patch() must refuse each with a dmesg line and an
 * errno, which insmod reports, leaving no /sys/kernel/graft/graft_test_bad.
 *
 *   unknown  a function no symbol names                   -ENOENT
 *   notrace  a function without an ftrace site            -EINVAL
 *   dup      the same function twice in one patch         -EEXIST
 *   object   the same module object twice                 -EEXIST
 *            (upstream's errno; insmod reports EBUSY: the kernel
 *            keeps EEXIST from init for "already loaded")
 *   modsym   graft_test_mod:graft_no_such_function: refused
 *            (-ENOENT) while graft_test_mod is loaded; while it
 *            is not, deferred (accepted), and loading
 *            graft_test_mod is then refused (S4)
 *   ambiguous  graft_test_dup:graft_test_dup_func, a name
 *            the module has twice, without old_sympos     -EINVAL
 *   sympos3  the same with old_sympos 3 (there are 2)     -EINVAL
 *   kernel   built for another kernel (kernel_release)    -EINVAL
 *   abi      built against graft ABI 1                    -EINVAL
 *   abi2     built against graft ABI 2 (its 40-byte
 *            description, before system states)           -EINVAL
 *   statezero  a system state of id 0                     -EINVAL
 *   statedup   one state id declared twice                -EINVAL
 *   statecount states given with nstates 0                -EINVAL
 *   busy     a valid patch, loaded while another patch's
 *            transition runs                              -EBUSY
 *
 * (C, with graft.h itself: a module parameter selects the case.)
 */
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <generated/utsrelease.h>
#include "../graft.h"

static char *mode = "unknown";
module_param(mode, charp, 0400);
MODULE_PARM_DESC(mode, "unknown|notrace|dup|object|modsym|ambiguous|sympos3|kernel|abi|abi2|statezero|statedup|statecount|busy|nulldesc|nullname|nullnew|dotname|slashname");

static int graft_test_bad_show(struct seq_file *m, void *v)
{
	seq_puts(m, "graft_test_bad must never be enabled\n");
	return 0;
}

static struct graft_func_desc funcs[2] = {
	{ .old_name = "cmdline_proc_show", .new_func = graft_test_bad_show },
	{ .old_name = "cmdline_proc_show", .new_func = graft_test_bad_show },
};

static struct graft_object_desc objs[2] = {
	{ .funcs = funcs, .nfuncs = 1 },
	{ .funcs = funcs + 1, .nfuncs = 1 },
};

static struct graft_state states[2] = {
	{ .id = 1, .version = 1 },
	{ .id = 2, .version = 1 },
};

static struct graft_patch_desc patch = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = "graft_test_bad",
	.kernel_release = UTS_RELEASE,
	.objs = objs,
	.nobjs = 1,
};

static int __init graft_test_bad_init(void)
{
	if (!strcmp(mode, "unknown"))
		funcs[0].old_name = "graft_no_such_function";
	else if (!strcmp(mode, "notrace"))
		funcs[0].old_name = "trace_clock_jiffies"; /* kernel/trace is built notrace */
	else if (!strcmp(mode, "dup"))
		objs[0].nfuncs = 2;
	else if (!strcmp(mode, "ambiguous") || !strcmp(mode, "sympos3")) {
		objs[0].name = "graft_test_dup";
		funcs[0].old_name = "graft_test_dup_func";
		funcs[0].old_sympos = mode[0] == 's' ? 3 : 0;
	} else if (!strcmp(mode, "kernel"))
		patch.kernel_release = "0.0.0-other";
	else if (!strcmp(mode, "abi"))
		patch.abi_version = 1;
	else if (!strcmp(mode, "abi2")) {
		/* graft.h of ABI 2 ended the description after replace */
		patch.abi_version = 2;
		patch.size = offsetof(struct graft_patch_desc, states);
	} else if (!strcmp(mode, "statezero") || !strcmp(mode, "statedup")) {
		states[1].id = mode[5] == 'z' ? 0 : 1;
		patch.states = states;
		patch.nstates = ARRAY_SIZE(states);
	} else if (!strcmp(mode, "statecount"))
		patch.states = states;
	else if (!strcmp(mode, "modsym")) {
		objs[0].name = "graft_test_mod";
		funcs[0].old_name = "graft_no_such_function";
	} else if (!strcmp(mode, "object")) {
		objs[0].name = objs[1].name = "graft_no_such_module";
		patch.nobjs = 2;
	}
	else if (!strcmp(mode, "nulldesc"))
		return graft_register_patch(NULL, THIS_MODULE);
	else if (!strcmp(mode, "nullname"))
		funcs[0].old_name = NULL;
	else if (!strcmp(mode, "nullnew"))
		funcs[0].new_func = NULL;
	else if (!strcmp(mode, "dotname"))
		patch.name = "..";
	else if (!strcmp(mode, "slashname"))
		patch.name = "graft/bad";
	else if (strcmp(mode, "busy")) {
		pr_err("graft_test_bad: unknown mode %s\n", mode);
		return -EINVAL;
	}
	return graft_register_patch(&patch, THIS_MODULE);
}

static void __exit graft_test_bad_exit(void)
{
	/* only reached if a defect was accepted: undo it */
	graft_unregister_patch(&patch);
}

module_init(graft_test_bad_init);
module_exit(graft_test_bad_exit);
MODULE_DESCRIPTION("graft test: patches graft must refuse");
MODULE_LICENSE("GPL");
