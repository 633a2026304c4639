// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S10 test of the fast path: another ftrace direct-call user on
 * cmdline_proc_show(), as BPF's fentry/fexit trampolines are (kernel/bpf/
 * trampoline.c).  It registers register_ftrace_direct() to a function of
 * cmdline_proc_show()'s prototype (fs/proc/cmdline.c), entered directly
 * (x86_64's jump mode, s390's and riscv's direct call) or through a trampoline
 * (arm64), that prints
 * "graft_test_direct", so /proc/cmdline shows whose call runs.  ftrace
 * allows one direct call on a function (register_ftrace_direct(): -EBUSY),
 * and this ftrace_ops has no ops_func, so it never shares a function with
 * an IP-modifying ftrace_ops (-EBUSY both ways, kernel/trace/ftrace.c):
 * loading it fails while graft's patch holds the function (handler or fast
 * path), and graft's patch is refused while this holds it.  Elsewhere its
 * init refuses (-EOPNOTSUPP): the target is no trampoline.
 */
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>

static const char symbol[] = "cmdline_proc_show";

static int __used noinline graft_test_direct_show(struct seq_file *m, void *v)
{
	seq_puts(m, "graft_test_direct\n");
	return 0;
}

static struct ftrace_ops graft_test_direct_ops;

#ifdef CONFIG_ARM64
/*
 * arm64's direct call enters its target with x30 after the site's BL and
 * x9 the caller's return (arch/arm64/kernel/entry-ftrace.S): restore x30,
 * then branch to the function (BTI C, hint #34, for ftrace_caller's BR X17).
 */
void graft_test_direct_tramp(void);
asm(".pushsection .text, \"ax\", %progbits\n"
    ".balign 8\n"
    "graft_test_direct_tramp:\n"
    "	hint #34\n"
    "	mov x30, x9\n"
    "	b graft_test_direct_show\n"
    ".popsection\n");
#define GRAFT_TEST_DIRECT_TRAMP ((unsigned long)graft_test_direct_tramp)
#else
#define GRAFT_TEST_DIRECT_TRAMP 0UL
#endif

/*
 * Where the direct call enters the function itself: x86_64's jump mode (the
 * site becomes a jmp to it), s390's direct call (entered as ftrace_caller
 * would be, %r14 still the caller's return: arch/s390/kernel/mcount.S),
 * riscv's (entered from ftrace_caller, ra still the caller's return:
 * arch/riscv/kernel/mcount-dyn.S).
 * arm64 enters the trampoline above.  Elsewhere: 0, refused.
 */
static unsigned long graft_test_direct_addr(void)
{
	if (IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_JMP))
		return ftrace_jmp_set((unsigned long)graft_test_direct_show);
	if (IS_ENABLED(CONFIG_S390) || IS_ENABLED(CONFIG_RISCV))
		return (unsigned long)graft_test_direct_show;
	return GRAFT_TEST_DIRECT_TRAMP;
}

static int __init graft_test_direct_init(void)
{
	int err;

	if (!IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS) || !graft_test_direct_addr()) {
		pr_err("graft_test_direct: no ftrace direct call into a function in this kernel\n");
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
