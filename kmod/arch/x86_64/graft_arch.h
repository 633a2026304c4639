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

/*
 * With CONFIG_X86_FRED the top 16 bytes of a task's stack lie above its
 * pt_regs (arch/x86/include/asm/thread_info.h): Debian's amd64 kernel.
 */
#define GRAFT_ARCH_STACK_TOP_PADDING TOP_OF_KERNEL_STACK_PADDING

#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
/*
 * Where call_direct_funcs() leaves a direct call's target for
 * ftrace_regs_caller, which branches there instead of returning
 * (arch_ftrace_set_direct_caller(), arch/x86/include/asm/ftrace.h; 0: none).
 */
static __always_inline unsigned long *graft_arch_direct_slot(struct ftrace_regs *fregs)
{
	return &arch_ftrace_regs(fregs)->regs.orig_ax;
}
#define graft_arch_direct_slot graft_arch_direct_slot
#endif

#ifdef CONFIG_UNWINDER_ORC
/*
 * A module's ORC table (struct mod_arch_specific, arch/x86/include/asm/
 * module.h), sorted at load by unwind_module_init() before the module is
 * formed (module_finalize(), arch/x86/kernel/module.c).
 */
#define GRAFT_ARCH_MODULE_UNWIND 1
static __always_inline bool graft_arch_module_unwind(const struct module *mod, struct graft_unwind_table *t)
{
	t->ip = (unsigned long)mod->arch.orc_unwind_ip;
	t->entries = (unsigned long)mod->arch.orc_unwind;
	t->n = mod->arch.num_orcs;
	return t->ip && t->entries && t->n;
}
#endif

#endif
