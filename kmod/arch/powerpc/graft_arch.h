/* SPDX-License-Identifier: GPL-2.0 */
/*
 * powerpc (ppc64le): what graft's kernel glue needs of the arch, beside the
 * backend crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function.  powerpc has no
 * arch_cpu_idle_enter() of its own, so this is the empty __weak one of
 * kernel/sched/idle.c, which do_idle() calls on every iteration with
 * interrupts off, before the CPU idles.  Being __weak (its definition may be
 * replaced at link time) it is never inlined into do_idle(), and
 * -mprofile-kernel instruments it like any function: `graft-inspect sites
 * vmlinux` shows `mflr r0; bl _mcount; blr`, site at +4, form `mprofile`,
 * and do_idle() reaches it by `bl`.  The other per-iteration candidates are
 * worse: arch_cpu_idle() (arch/powerpc/kernel/idle.c) runs inside
 * default_idle_call()'s ct_cpuidle_enter(), where RCU is not watching, and
 * not at all in poll mode; cpuidle_idle_call() is inlined into do_idle()
 * (no symbol in this vmlinux); cpu_idle_poll() and default_idle_call() are
 * __cpuidle, with no ftrace site.  graft.ko refuses to load if the hook
 * cannot be traced ("idle tasks: cannot trace").
 *
 * At the hook r1 is still do_idle()'s frame (ftrace_regs_get_stack_pointer(),
 * gpr[1] as ftrace_caller saved it) and parent_ip the return address into
 * do_idle(): the backend's hook_caller_regs() walks from there.
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
