/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arm64: what graft's kernel glue needs of the arch, beside the backend
 * crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function, called by do_idle()
 * (kernel/sched/idle.c) in task context with interrupts off: the one of
 * arch/arm64/kernel/topology.c, built into every arm64 kernel (topology.o
 * is obj-y), replacing kernel/sched/idle.c's __weak one; the activity
 * monitors (AMU) only decide whether it samples their counters
 * after its ftrace site.  `graft-inspect sites vmlinux` shows its site
 * (pfe) in graft's arm64 kernel.
 */
#define GRAFT_IDLE_HOOK "arch_cpu_idle_enter"

/*
 * cpu_switch_to() (arch/arm64/kernel/entry.S) saves x19-x28, fp, sp and lr
 * (as pc) in thread.cpu_context; thread_saved_fp()/thread_saved_pc() read
 * them back for the kernel's own walk.
 */
static __always_inline void graft_arch_switched_out(const struct task_struct *t, struct graft_switched_out *c)
{
	c->sp = READ_ONCE(t->thread.cpu_context.sp);
	c->fp = READ_ONCE(t->thread.cpu_context.fp);
	c->pc = READ_ONCE(t->thread.cpu_context.pc);
}

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
/*
 * The direct-call channel: call_direct_funcs() stores the target with
 * arch_ftrace_set_direct_caller() in direct_tramp, which ftrace_caller reads
 * after the ops ran (ftrace_caller_direct_late: arch/arm64/include/asm/
 * ftrace.h, arch/arm64/kernel/entry-ftrace.S; 0: none).
 */
static __always_inline unsigned long *graft_arch_direct_slot(struct ftrace_regs *fregs)
{
	return &arch_ftrace_regs(fregs)->direct_tramp;
}
#define graft_arch_direct_slot graft_arch_direct_slot
#endif

#endif
