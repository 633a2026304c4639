/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86_64: what graft's kernel glue needs of the arch, beside the backend
 * crate's TaskStacks (docs/PORTING.md, "The kernel side").  Kbuild puts this
 * directory on the include path of the arch being built.
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function (called from do_idle()
 * in task context with interrupts off): arch/x86/kernel/process.c.
 */
#define GRAFT_IDLE_HOOK "arch_cpu_idle_enter"

/*
 * __switch_to_asm (arch/x86/entry/entry_64.S) pushes the callee-saved
 * registers (struct inactive_task_frame) and stores rsp in thread.sp.
 */
static __always_inline void graft_arch_switched_out(const struct task_struct *t, struct graft_switched_out *c)
{
	c->sp = READ_ONCE(t->thread.sp);
	c->fp = 0;
	c->pc = 0;
}

#endif
