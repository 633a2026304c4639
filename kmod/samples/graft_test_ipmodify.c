// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S5 and S10 test where the kernel has no upstream livepatch
 * (riscv: no HAVE_LIVEPATCH, so no CONFIG_LIVEPATCH, kernel/livepatch/Kconfig):
 * another IP-modifying ftrace user on symbol= (default cmdline_proc_show),
 * standing in for upstream's livepatch-sample, whose klp_ftrace_handler()
 * is what holds a function's IPMODIFY elsewhere.  ftrace lets one
 * IPMODIFY ftrace_ops on a function (kernel/trace/ftrace.c,
 * __ftrace_hash_update_ipmodify(): -EBUSY for the second), so a graft patch
 * of the function is refused while this is loaded, and this is refused
 * (its init returns register_ftrace_function()'s error, insmod reports it)
 * while a graft patch holds the function.  Its handler only counts calls
 * (/sys/module/graft_test_ipmodify/parameters/hits) and leaves the
 * instruction pointer as it is.
 */
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/string.h>

static char *symbol = "cmdline_proc_show";
module_param(symbol, charp, 0400);
MODULE_PARM_DESC(symbol, "function to hold");
static unsigned int hits;
module_param(hits, uint, 0444);
MODULE_PARM_DESC(hits, "handler calls");

static void notrace graft_test_ipmodify_handler(unsigned long ip, unsigned long parent_ip,
						struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	WRITE_ONCE(hits, READ_ONCE(hits) + 1);
}

static struct ftrace_ops graft_test_ipmodify_ops = {
	.func = graft_test_ipmodify_handler,
	/* as klp_patch_func() (kernel/livepatch/patch.c) sets its ops (a static
	 * ops: ftrace adds FTRACE_OPS_FL_DYNAMIC for module data itself) */
	.flags = FTRACE_OPS_FL_IPMODIFY
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
		 | FTRACE_OPS_FL_SAVE_REGS
#endif
		 ,
};

static int __init graft_test_ipmodify_init(void)
{
	int err;

	err = ftrace_set_filter(&graft_test_ipmodify_ops, symbol, strlen(symbol), 1);
	if (err) {
		pr_err("graft_test_ipmodify: no ftrace site for %s (%d)\n", symbol, err);
		return err;
	}
	err = register_ftrace_function(&graft_test_ipmodify_ops);
	if (err) {
		pr_err("graft_test_ipmodify: failed to register ftrace handler for function '%s' (%d)\n",
		       symbol, err);
		ftrace_free_filter(&graft_test_ipmodify_ops);
	}
	return err;
}

static void __exit graft_test_ipmodify_exit(void)
{
	unregister_ftrace_function(&graft_test_ipmodify_ops);
	ftrace_free_filter(&graft_test_ipmodify_ops);
}

module_init(graft_test_ipmodify_init);
module_exit(graft_test_ipmodify_exit);
MODULE_DESCRIPTION("graft test: an IP-modifying ftrace_ops holding one function (upstream livepatch's stand-in)");
MODULE_LICENSE("GPL");
