/* SPDX-License-Identifier: GPL-2.0 */
/*
 * riscv (riscv64): what graft's kernel glue needs of the arch, beside the
 * backend crate's TaskStacks (docs/PORTING.md, "The kernel side").
 */
#ifndef GRAFT_ARCH_H
#define GRAFT_ARCH_H

/*
 * The idle loop's per-iteration traceable function.  riscv has no
 * arch_cpu_idle_enter() of its own (arch/riscv/kernel/process.c defines
 * only arch_cpu_idle(), noinstr), so this is the empty __weak one of
 * kernel/sched/idle.c, which do_idle() calls on every iteration with
 * interrupts off.  Being __weak it is never inlined, and clang's
 * -fpatchable-function-entry gives it a site like any function
 * (`graft-inspect sites vmlinux`).
 *
 * At the hook, ftrace_regs_get_stack_pointer() is sp at the traced
 * function's entry (ftrace_caller stores it, arch/riscv/kernel/mcount-dyn.S)
 * and ftrace_regs_get_frame_pointer() s0, do_idle()'s frame pointer, saved
 * only with HAVE_FUNCTION_GRAPH_FP_TEST (FUNCTION_GRAPH_TRACER and
 * FRAME_POINTER, which qemu-images/config/riscv.config keeps): the
 * backend's hook_caller_regs() walks from there with pc = parent_ip (ra).
 */
#define GRAFT_IDLE_HOOK "arch_cpu_idle_enter"

/*
 * __switch_to (arch/riscv/kernel/entry.S) stores ra, sp and s0-s11 in
 * thread; walk_stackframe() (arch/riscv/kernel/stacktrace.c) starts a
 * blocked task from thread.s[0], thread.sp and thread.ra, and so does the
 * backend (switched_out_regs()).
 */
static __always_inline void graft_arch_switched_out(const struct task_struct *t, struct graft_switched_out *c)
{
	c->sp = READ_ONCE(t->thread.sp);
	c->fp = READ_ONCE(t->thread.s[0]);
	c->pc = READ_ONCE(t->thread.ra);
}

/*
 * No graft_arch_redirect: ftrace_caller (mcount-dyn.S) returns by `jr t0`
 * with t0 = fregs->epc, which ftrace_regs_set_instruction_pointer() sets,
 * unless a direct call's fregs->t1 is set, which it takes first (a direct
 * trampoline then returns to t0, the replacement, as on x86).  riscv has
 * no KPROBES_ON_FTRACE, so no kprobe handler runs in the same ftrace_caller
 * to move epc back.
 */

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
/*
 * The direct-call channel: call_direct_funcs() stores the target with
 * arch_ftrace_set_direct_caller() in the saved t1, which ftrace_caller
 * reloads after the ops ran and jumps to when it is not 0 (arch/riscv/
 * include/asm/ftrace.h, arch/riscv/kernel/mcount-dyn.S).
 */
static __always_inline unsigned long *graft_arch_direct_slot(struct ftrace_regs *fregs)
{
	return &arch_ftrace_regs(fregs)->t1;
}
#define graft_arch_direct_slot graft_arch_direct_slot
#endif

#endif
