// SPDX-License-Identifier: GPL-2.0
/*
 * graft's old_sympos test target (S11): the module graft_test_dup has two
 * static functions named graft_test_dup_func, one in each of its two C
 * files (this one returns 1, graft_test_dup_b.c's returns 2), so the name
 * is ambiguous in the module and a patch must give old_sympos.
 * /proc/graft_test_dup reads "a=<this file's> b=<the other's>".
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

int graft_test_dup_b(void);

static int graft_test_dup_val = 1;

/* noinline, a volatile read: kept out of line under its own name */
static noinline int graft_test_dup_func(void)
{
	return READ_ONCE(graft_test_dup_val);
}

static int graft_test_dup_show(struct seq_file *m, void *v)
{
	seq_printf(m, "a=%d b=%d\n", graft_test_dup_func(), graft_test_dup_b());
	return 0;
}

static int __init graft_test_dup_init(void)
{
	return proc_create_single("graft_test_dup", 0444, NULL, graft_test_dup_show) ? 0 : -ENOMEM;
}

static void __exit graft_test_dup_exit(void)
{
	remove_proc_entry("graft_test_dup", NULL);
}

module_init(graft_test_dup_init);
module_exit(graft_test_dup_exit);
MODULE_DESCRIPTION("graft test target: an ambiguous function name (old_sympos)");
MODULE_LICENSE("GPL");
