// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S4 test target: a module a patch names as an object.
 * graft_test_mod_func() returns 1 (a patched version returns 2); the module
 * calls it from its init and records the result, so whether graft patched
 * the module before its init ran shows in /proc/graft_test_mod:
 * "version=<a call now> init=<the call from init>".
 *
 * C, not Rust: the function patched must have an ftrace site, and this
 * kernel builds Rust without them.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int graft_test_mod_base = 1;
static int graft_test_mod_init_version;

int graft_test_mod_func(void);

/* The function patched (noinline, a volatile read: no constant folding into callers). */
noinline int graft_test_mod_func(void)
{
	return READ_ONCE(graft_test_mod_base);
}

static int graft_test_mod_show(struct seq_file *m, void *v)
{
	seq_printf(m, "version=%d init=%d\n", graft_test_mod_func(), graft_test_mod_init_version);
	return 0;
}

static int __init graft_test_mod_init(void)
{
	graft_test_mod_init_version = graft_test_mod_func();
	return proc_create_single("graft_test_mod", 0444, NULL, graft_test_mod_show) ? 0 : -ENOMEM;
}

static void __exit graft_test_mod_exit(void)
{
	remove_proc_entry("graft_test_mod", NULL);
}

module_init(graft_test_mod_init);
module_exit(graft_test_mod_exit);
MODULE_DESCRIPTION("graft test target: a module object (S4)");
MODULE_LICENSE("GPL");
