// SPDX-License-Identifier: GPL-2.0
/*
 * graft's C shim: wrappers for what the kernel offers only as macros or
 * inline functions, so the Rust side can call them.
 */
#include <linux/build_bug.h>
#include <linux/kallsyms.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <generated/utsrelease.h>

/* kenv.rs hands sprint_symbol() buffers of KSYM_BUF (1024) bytes. */
static_assert(KSYM_SYMBOL_LEN <= 1024);

const char *graft_shim_release(void);
void graft_shim_current_stack(unsigned long *lo, unsigned long *hi);

const char *graft_shim_release(void)
{
	return UTS_RELEASE;
}

/*
 * The current task's kernel stack [*lo, *hi): task_stack_page() is an
 * inline and THREAD_SIZE a macro.
 */
void graft_shim_current_stack(unsigned long *lo, unsigned long *hi)
{
	unsigned long base = (unsigned long)task_stack_page(current);

	*lo = base;
	*hi = base + THREAD_SIZE;
}
