// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S10 test: a kprobe on symbol= (default cmdline_proc_show), with a
 * post handler (post=1, the default) or without one (post=0).  On an ftrace
 * site kprobes arm it through an ftrace_ops (kernel/kprobes.c,
 * arm_kprobe_ftrace(): `ipmodify = (p->post_handler != NULL)`): with a post
 * handler kprobe_ipmodify_ops, IPMODIFY, which cannot share the site with
 * graft's IPMODIFY ops (ftrace refuses the second one with -EBUSY); without
 * one kprobe_ftrace_ops, which can.  The module's init returns
 * register_kprobe()'s error, so insmod reports it; loaded, the probe counts
 * its hits in /sys/module/graft_test_kprobe/parameters/: hits (pre handler
 * calls) and post_hits (post handler calls, 0 without one).
 */
#include <linux/kprobes.h>
#include <linux/module.h>

static char *symbol = "cmdline_proc_show";
module_param(symbol, charp, 0400);
MODULE_PARM_DESC(symbol, "function to probe");
static bool post = true;
module_param(post, bool, 0444);
MODULE_PARM_DESC(post, "register the kprobe with a post handler (armed IPMODIFY on an ftrace site)");
static unsigned int hits;
module_param(hits, uint, 0444);
MODULE_PARM_DESC(hits, "pre handler calls");
static unsigned int post_hits;
module_param(post_hits, uint, 0444);
MODULE_PARM_DESC(post_hits, "post handler calls");

static int graft_test_pre(struct kprobe *p, struct pt_regs *regs)
{
	WRITE_ONCE(hits, READ_ONCE(hits) + 1);
	return 0;
}
static void graft_test_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
	WRITE_ONCE(post_hits, READ_ONCE(post_hits) + 1);
}

static struct kprobe graft_test_kp = {
	.pre_handler = graft_test_pre,
};

static int __init graft_test_kprobe_init(void)
{
	int err;

	graft_test_kp.symbol_name = symbol;
	if (post)
		graft_test_kp.post_handler = graft_test_post;
	err = register_kprobe(&graft_test_kp);
	if (err)
		pr_err("graft_test_kprobe: register_kprobe(%s) %s a post handler failed (%d)\n",
		       symbol, post ? "with" : "without", err);
	return err;
}

static void __exit graft_test_kprobe_exit(void)
{
	unregister_kprobe(&graft_test_kp);
}

module_init(graft_test_kprobe_init);
module_exit(graft_test_kprobe_exit);
MODULE_DESCRIPTION("graft test: a kprobe with (IPMODIFY) or without a post handler");
MODULE_LICENSE("GPL");
