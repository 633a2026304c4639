// SPDX-License-Identifier: GPL-2.0
/*
 * The per-task self-test's C side (x86_64): copy a sleeping task's kernel
 * stack and take the kernel's own stack_trace_save_tsk() of it inside one
 * window in which the task provably did not run, so the backend's walk of
 * the copy and the kernel's walk of the live stack see the same stack.
 */
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <linux/stacktrace.h>
#include <linux/uaccess.h>
#include "graft.h"

int graft_shim_trace_task(struct task_struct *t, void *buf, unsigned long *lo, unsigned long *sp,
			  unsigned long *trace, unsigned int max, unsigned int *n);

/*
 * As graft_shim_copy_stack() (shim.c), with the kernel's trace taken between
 * the two checks: on_cpu clear and the context-switch counts and thread.sp
 * unchanged across both reads mean the task stayed switched out.
 */
int graft_shim_trace_task(struct task_struct *t, void *buf, unsigned long *lo, unsigned long *sp,
			  unsigned long *trace, unsigned int max, unsigned int *n)
{
	unsigned long csw, base;

	if (READ_ONCE(t->__state) == TASK_DEAD && !smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_DEAD;
	csw = READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
	smp_rmb();
	if (smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_RUNNING;
	base = (unsigned long)task_stack_page(t);
	*sp = READ_ONCE(t->thread.sp);
	if (!base || copy_from_kernel_nofault(buf, (void *)base, THREAD_SIZE))
		return GRAFT_TASK_RUNNING;
	*n = stack_trace_save_tsk(t, trace, max, 0);
	smp_rmb();
	if (READ_ONCE(t->on_cpu) || READ_ONCE(t->thread.sp) != *sp ||
	    READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw) != csw)
		return GRAFT_TASK_RUNNING;
	*lo = base;
	return GRAFT_TASK_COPIED;
}
