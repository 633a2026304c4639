/* SPDX-License-Identifier: GPL-2.0 */
/*
 * s390: what graft's kernel glue needs of the arch, beside the backend
 * crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function: arch/s390/kernel/idle.c
 * (empty, out of line, with an ftrace site: `graft-inspect sites`).
 */
#define GRAFT_IDLE_HOOK "arch_cpu_idle_enter"

/*
 * __switch_to (arch/s390/kernel/entry.S) saves r6-r15 in its frame and
 * stores r15 in thread.ksp; the frame's r14 slot holds the resume address.
 */
static __always_inline void graft_arch_switched_out(const struct task_struct *t, struct graft_switched_out *c)
{
	c->sp = READ_ONCE(t->thread.ksp);
	c->fp = 0;
	c->pc = 0;
}

/*
 * The handler's redirect (shim_hooks.c).  ftrace_common's return path
 * (arch/s390/kernel/mcount.S) branches to orig_gpr2 if it is non-zero,
 * else to psw.addr, with r2-r15 as at the traced function's entry (r14 the
 * caller's return address); orig_gpr2 is cleared on every entry and is
 * otherwise only the direct-call channel (arch_ftrace_set_direct_caller()).
 *
 * psw.addr alone, as ftrace_regs_set_instruction_pointer() and upstream's
 * klp_ftrace_handler() set it, does not survive a kprobe on the same
 * function whose ftrace_ops runs after graft's: s390's
 * kprobe_ftrace_handler() (arch/s390/kernel/ftrace.c) sets psw.addr to the
 * site + MCOUNT_INSN_SIZE after its handlers and, unlike x86's, does not
 * restore the address it found; ftrace calls the newest ftrace_ops first
 * (add_ftrace_ops() in kernel/trace/ftrace.c), so a patch enabled while a
 * kprobe armed earlier sits on the function would run the old function.
 * graft therefore also sets orig_gpr2, which no kprobe touches.  A direct
 * call (a BPF trampoline sharing the function, FTRACE_OPS_FL_SHARE_IPMODIFY)
 * keeps its orig_gpr2: it is entered with r0 = psw.addr, the replacement,
 * as with any IP-modifying ftrace_ops.  The other side of it: a kprobe
 * pre handler that moves psw.addr itself (error injection), run after
 * graft's handler, no longer overrides graft's replacement.
 */
static __always_inline void graft_arch_redirect(struct ftrace_regs *fregs, unsigned long target)
{
	struct pt_regs *regs = &arch_ftrace_regs(fregs)->regs;

	ftrace_regs_set_instruction_pointer(fregs, target);
	if (!regs->orig_gpr2)
		regs->orig_gpr2 = target;
}
#define graft_arch_redirect graft_arch_redirect

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
/* orig_gpr2: the direct-call channel above (0: none) */
static __always_inline unsigned long *graft_arch_direct_slot(struct ftrace_regs *fregs)
{
	return &arch_ftrace_regs(fregs)->regs.orig_gpr2;
}
#define graft_arch_direct_slot graft_arch_direct_slot
#endif

#endif
