/* SPDX-License-Identifier: GPL-2.0 */
/*
 * s390: what graft's kernel glue needs of the arch, beside the backend
 * crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/* The idle loop's per-iteration traceable function: arch/s390/kernel/idle.c. */
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

#endif
