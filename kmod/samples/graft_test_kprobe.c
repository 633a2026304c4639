// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S10 test: a kprobe with a post handler on symbol= (default
 * cmdline_proc_show).  On an ftrace site such a kprobe is armed through
 * kprobes' IPMODIFY ftrace_ops (kernel/kprobes.c, arm_kprobe_ftrace():
 * `ipmodify = (p->post_handler != NULL)`), which cannot share the site
 * with graft's IPMODIFY ops: ftrace refuses the second one with -EBUSY.
 * The module's init returns register_kprobe()'s error, so insmod reports
 * it; loaded, the probe counts its hits in /sys/module/.../parameters/hits.
 */
#include <linux/kprobes.h>
#include <linux/module.h>

static char *symbol = "cmdline_proc_show";
module_param(symbol, charp, 0400);
MODULE_PARM_DESC(symbol, "function to probe");
static unsigned int hits;
module_param(hits, uint, 0444);
MODULE_PARM_DESC(hits, "post handler calls");

static int graft_test_pre(struct kprobe *p, struct pt_regs *regs) { return 0; }
static void graft_test_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
	WRITE_ONCE(hits, READ_ONCE(hits) + 1);
}

static struct kprobe graft_test_kp = {
	.pre_handler = graft_test_pre,
	.post_handler = graft_test_post,
};

static int __init graft_test_kprobe_init(void)
{
	int err;

	graft_test_kp.symbol_name = symbol;
	err = register_kprobe(&graft_test_kp);
	if (err)
		pr_err("graft_test_kprobe: register_kprobe(%s) with a post handler failed (%d)\n", symbol, err);
	return err;
}

static void __exit graft_test_kprobe_exit(void)
{
	unregister_kprobe(&graft_test_kp);
}

module_init(graft_test_kprobe_init);
module_exit(graft_test_kprobe_exit);
MODULE_DESCRIPTION("graft test: a kprobe with a post handler (IPMODIFY)");
MODULE_LICENSE("GPL");
