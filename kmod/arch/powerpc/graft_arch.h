/* SPDX-License-Identifier: GPL-2.0 */
/*
 * powerpc (ppc64le): what graft's kernel glue needs of the arch, beside the
 * backend crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function.  powerpc has no
 * arch_cpu_idle_enter() of its own: this is the empty __weak one of
 * kernel/sched/idle.c, which the engine port must replace by another
 * per-iteration function (PORTING.md §9.7).
 */
#define GRAFT_IDLE_HOOK "arch_cpu_idle_enter"

/*
 * _switch (arch/powerpc/kernel/switch.S) builds its frame and stores r1 in
 * thread.ksp; the frame's _NIP holds the resume address.
 */
static __always_inline void graft_arch_switched_out(const struct task_struct *t, struct graft_switched_out *c)
{
	c->sp = READ_ONCE(t->thread.ksp);
	c->fp = 0;
	c->pc = 0;
}

#endif
