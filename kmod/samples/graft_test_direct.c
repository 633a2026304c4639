// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S10 test of the fast path: another ftrace direct-call user on
 * cmdline_proc_show(), as BPF's fentry/fexit trampolines are (kernel/bpf/
 * trampoline.c).  It registers register_ftrace_direct() in jump mode
 * (ftrace_jmp_set(), CONFIG_DYNAMIC_FTRACE_WITH_JMP: x86_64) to a function
 * of cmdline_proc_show()'s prototype (fs/proc/cmdline.c) that prints
 * "graft_test_direct", so /proc/cmdline shows whose call runs.  ftrace
 * allows one direct call on a function (register_ftrace_direct(): -EBUSY),
 * and this ftrace_ops has no ops_func, so it never shares a function with
 * an IP-modifying ftrace_ops (-EBUSY both ways, kernel/trace/ftrace.c):
 * loading it fails while graft's patch holds the function (handler or fast
 * path), and graft's patch is refused while this holds it.  Without jump
 * mode its init refuses (-EOPNOTSUPP): the target is no trampoline.
 */
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>

static const char symbol[] = "cmdline_proc_show";

static int graft_test_direct_show(struct seq_file *m, void *v)
{
	seq_puts(m, "graft_test_direct\n");
	return 0;
}

static struct ftrace_ops graft_test_direct_ops;

static unsigned long graft_test_direct_addr(void)
{
	return ftrace_jmp_set((unsigned long)graft_test_direct_show);
}

static int __init graft_test_direct_init(void)
{
	int err;

	if (!IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_JMP) || !IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)) {
		pr_err("graft_test_direct: no ftrace direct jump in this kernel\n");
		return -EOPNOTSUPP;
	}
	err = ftrace_set_filter(&graft_test_direct_ops, (unsigned char *)symbol, strlen(symbol), 1);
	if (err) {
		pr_err("graft_test_direct: no ftrace site for %s (%d)\n", symbol, err);
		return err;
	}
	err = register_ftrace_direct(&graft_test_direct_ops, graft_test_direct_addr());
	if (err) {
		pr_err("graft_test_direct: register_ftrace_direct(%s) failed (%d)\n", symbol, err);
		ftrace_free_filter(&graft_test_direct_ops);
	}
	return err;
}

static void __exit graft_test_direct_exit(void)
{
	unregister_ftrace_direct(&graft_test_direct_ops, graft_test_direct_addr(), true);
}

module_init(graft_test_direct_init);
module_exit(graft_test_direct_exit);
MODULE_DESCRIPTION("graft test: another ftrace direct-call user on cmdline_proc_show");
MODULE_LICENSE("GPL");
