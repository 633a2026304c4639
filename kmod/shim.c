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

#ifdef CONFIG_X86_64
/*
 * The engine's glue (x86_64 only for now; other arches build graft.ko with
 * the self-test alone).  Everything here is a macro, an inline, a static
 * kernel object Rust cannot declare, or the exported C entry of the patch
 * registration API; every decision is taken on the Rust side (engine.rs),
 * which drives graft-core's Engine.
 */
#include <linux/ftrace.h>
#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/rcupdate.h>
#include <linux/rcupdate_wait.h>
#include <linux/smp.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>
#include "graft.h"

/* Called from engine.rs (declared here for -Wmissing-prototypes). */
void graft_shim_mutex_lock(void);
void graft_shim_mutex_unlock(void);
void graft_shim_synchronize(void);
void *graft_shim_current(void);
int graft_shim_idle_cpu(void);
unsigned int graft_shim_nr_cpus(void);
bool graft_shim_cpu_online(unsigned int cpu);
void graft_shim_kick_cpu(unsigned int cpu);
int graft_shim_idle_hook(bool on);
void *graft_shim_boot_idle(unsigned int *cpu);
void *graft_shim_ops_register(unsigned long ip, unsigned long site, int *err);
void graft_shim_ops_unregister(void *p, unsigned long ip);
unsigned long graft_shim_lookup(const char *name);
void graft_shim_taint(void);
bool graft_shim_module_get(struct module *m);
void graft_shim_module_put(struct module *m);
int graft_shim_snapshot(struct task_struct **out, int max);
void graft_shim_put_task(struct task_struct *t);
unsigned long graft_shim_thread_size(void);
int graft_shim_copy_stack(struct task_struct *t, void *buf, unsigned long *lo, unsigned long *sp);
void graft_shim_schedule(unsigned int ms);
int graft_shim_task_pid(struct task_struct *t);
const char *graft_shim_task_comm(struct task_struct *t);
void graft_shim_cancel_work(void);
int graft_shim_sysfs_init(void);
void graft_shim_sysfs_exit(void);
void *graft_shim_patch_dir(const char *name, int *err);
void graft_shim_patch_dir_remove(void *k);

/* engine.rs */
unsigned long graft_rs_target(unsigned long site);
void graft_rs_idle(unsigned long cpu, unsigned long parent_ip, unsigned long sp, unsigned long fp);
void graft_rs_work(void);
ssize_t graft_rs_show(const char *patch, int attr, char *buf);
ssize_t graft_rs_stragglers(const char *patch, char *buf);
int graft_rs_store(const char *patch, int attr, bool val);
int graft_rs_register(const struct graft_patch_desc *desc, struct module *owner);
int graft_rs_unregister(const struct graft_patch_desc *desc);

/*
 * One lock: graft_mutex serialises control (registration, sysfs writes,
 * transition passes).  The ftrace handler takes none: it reads an
 * RCU-published view (view.rs).
 */
static DEFINE_MUTEX(graft_mutex);

void graft_shim_mutex_lock(void) { mutex_lock(&graft_mutex); }
void graft_shim_mutex_unlock(void) { mutex_unlock(&graft_mutex); }
void *notrace graft_shim_current(void) { return current; }
/* The CPU when current is its idle task (in any context), else -1. */
int notrace graft_shim_idle_cpu(void)
{
	return is_idle_task(current) ? raw_smp_processor_id() : -1;
}
unsigned int graft_shim_nr_cpus(void) { return nr_cpu_ids; }
/* init_task (exported) is the boot CPU's idle task (init/init_task.c). */
void *graft_shim_boot_idle(unsigned int *cpu)
{
	*cpu = task_cpu(&init_task);
	return &init_task;
}
bool graft_shim_cpu_online(unsigned int cpu) { return cpu_online(cpu); }

/*
 * Wait until no ftrace handler can still see the view unpublished before
 * the call.  The handler runs with preemption disabled: a read-side
 * section for synchronize_rcu().  synchronize_rcu_tasks_rude() also covers
 * handlers where RCU is not watching on architectures that allow tracing
 * there (it is a no-op with CONFIG_ARCH_WANTS_NO_INSTR, kernel/rcu/tasks.h);
 * upstream's klp_synchronize_transition() forces a schedule on each CPU for
 * the same reason.
 */
void graft_shim_synchronize(void)
{
	synchronize_rcu();
	synchronize_rcu_tasks_rude();
}

/*
 * The ftrace handler, as upstream's klp_ftrace_handler(): the recursion
 * guard (which also disables preemption), then graft_rs_target() picks the
 * version for the current task (0: run the original) from the published
 * view, given the site's row, which the ops carry in ->private.
 */
static void notrace graft_ftrace_handler(unsigned long ip, unsigned long parent_ip,
					 struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	unsigned long target;
	int bit = ftrace_test_recursion_trylock(ip, parent_ip);

	if (WARN_ON_ONCE(bit < 0))
		return;
	target = graft_rs_target((unsigned long)ops->private);
	if (target)
		ftrace_regs_set_instruction_pointer(fregs, target);
	ftrace_test_recursion_unlock(bit);
}

/*
 * Idle tasks.  for_each_process_thread() does not list the per-CPU idle
 * tasks, and they never leave their CPU, so no pass can walk them.
 * Upstream switches them in do_idle() (kernel/sched/idle.c,
 * klp_update_patch_state()), which a module cannot hook; the closest
 * exported equivalent is an ftrace_ops (no IPMODIFY) on a traceable
 * function do_idle() calls on every idle-loop iteration:
 * arch_cpu_idle_enter() (arch/x86/kernel/process.c), called in task context
 * with interrupts off just before the CPU idles.  Its handler lets the idle
 * task check its own stack (graft_rs_idle), as upstream's idle task does at
 * a point where only the idle loop's frames are on its stack, and records
 * the idle task's pointer (idle_task() is not exported) so a pass can walk
 * it while its CPU is busy.  Registered for graft.ko's life: its cost is a
 * few loads per idle entry.
 */
static void notrace graft_idle_handler(unsigned long ip, unsigned long parent_ip,
				       struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	int bit;

	/* in_task(): on an interrupt the stack is not the idle loop's */
	if (!is_idle_task(current) || !in_task())
		return;
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	/*
	 * At the traced function's entry (ftrace_caller, before its
	 * prologue): the stack pointer points at the return address into the
	 * caller and the frame pointer is the caller's.
	 */
	graft_rs_idle(raw_smp_processor_id(), parent_ip, ftrace_regs_get_stack_pointer(fregs),
		      ftrace_regs_get_frame_pointer(fregs));
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops graft_idle_ops = { .func = graft_idle_handler };
static unsigned long graft_idle_ip;

/* Register (on) or unregister the idle hook; idempotent. */
int graft_shim_idle_hook(bool on)
{
	static const char fn[] = "arch_cpu_idle_enter";
	int err;

	if (on == !!graft_idle_ip)
		return 0;
	if (!on) {
		/* waits for handlers in flight */
		WARN_ON(unregister_ftrace_function(&graft_idle_ops));
		ftrace_set_filter_ip(&graft_idle_ops, graft_idle_ip, 1, 0);
		graft_idle_ip = 0;
		return 0;
	}
	graft_idle_ip = graft_shim_lookup(fn);
	if (!graft_idle_ip) {
		pr_err("graft: idle tasks: %s not found\n", fn);
		return -ENOENT;
	}
	err = ftrace_set_filter_ip(&graft_idle_ops, graft_idle_ip, 0, 0);
	if (!err) {
		err = register_ftrace_function(&graft_idle_ops);
		if (err)
			ftrace_set_filter_ip(&graft_idle_ops, graft_idle_ip, 1, 0);
	}
	if (err) {
		pr_err("graft: idle tasks: cannot trace %s (%d): no transition can complete\n", fn, err);
		graft_idle_ip = 0;
	}
	return err;
}

/*
 * Make an idle CPU run its idle loop again: the IPI (or, for a polling
 * CPU, the need_resched it sets instead) ends the current idle period.
 * wake_up_if_idle(), upstream's kick, is not exported.
 */
static void graft_kick(void *unused) { }
void graft_shim_kick_cpu(unsigned int cpu)
{
	if (cpu_online(cpu))
		smp_call_function_single(cpu, graft_kick, NULL, 0);
}

/*
 * One ftrace_ops per patched function, filtered on its site `ip`; `site`
 * is the site's row in the view.
 */
void *graft_shim_ops_register(unsigned long ip, unsigned long site, int *err)
{
	struct ftrace_ops *ops = kzalloc(sizeof(*ops), GFP_KERNEL);

	if (!ops) {
		*err = -ENOMEM;
		return NULL;
	}
	ops->func = graft_ftrace_handler;
	ops->private = (void *)site;
	/* upstream klp's flags (kernel/livepatch/patch.c) */
	ops->flags = FTRACE_OPS_FL_DYNAMIC |
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
		     FTRACE_OPS_FL_SAVE_REGS |
#endif
		     FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT;
	*err = ftrace_set_filter_ip(ops, ip, 0, 0);
	if (!*err) {
		*err = register_ftrace_function(ops);
		if (*err)
			ftrace_set_filter_ip(ops, ip, 1, 0);
	}
	if (*err) {
		kfree(ops);
		return NULL;
	}
	return ops;
}

void graft_shim_ops_unregister(void *p, unsigned long ip)
{
	struct ftrace_ops *ops = p;

	/* waits for every handler call in flight (dynamic ops) */
	WARN_ON(unregister_ftrace_function(ops));
	ftrace_set_filter_ip(ops, ip, 1, 0);
	kfree(ops);
}

/*
 * A function's ftrace site by name, through register_kprobe() (kallsyms
 * lookups are not exported): on x86 the probe's address is the symbol plus
 * any ENDBR, which is where ftrace's site is.  0 if unknown.
 */
unsigned long graft_shim_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	return addr;
}

void graft_shim_taint(void) { add_taint(TAINT_LIVEPATCH, LOCKDEP_STILL_OK); }
bool graft_shim_module_get(struct module *m) { return try_module_get(m); }
void graft_shim_module_put(struct module *m) { module_put(m); }

/*
 * Tasks.  A snapshot of every thread (for_each_process_thread is a macro),
 * each with a reference; -ENOSPC when more than max exist.
 */
int graft_shim_snapshot(struct task_struct **out, int max)
{
	struct task_struct *g, *t;
	int n = 0;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		if (n == max) {
			rcu_read_unlock();
			while (n)
				put_task_struct(out[--n]);
			return -ENOSPC;
		}
		get_task_struct(t);
		out[n++] = t;
	}
	rcu_read_unlock();
	return n;
}

void graft_shim_put_task(struct task_struct *t) { put_task_struct(t); }
unsigned long graft_shim_thread_size(void) { return THREAD_SIZE; }

/*
 * Copy a task's kernel stack from its saved thread.sp up into buf
 * (THREAD_SIZE bytes, at the same offsets) if it is off CPU
 * and stays off CPU across the copy.  __schedule() bumps nvcsw or nivcsw
 * before every switch away from a task, and on_cpu is set before the task
 * runs again and cleared only once it is switched out (thread.sp saved):
 * so on_cpu clear before and after and the counts unchanged mean the task
 * did not run while its stack was copied.  (x86 is TSO: a store the task
 * made to its stack after running again is seen only with its on_cpu
 * store.)  A runnable task that is off CPU (preempted) is copied too; its
 * stack then holds the preemption's pt_regs, which the unwinder refuses
 * unless they are user-mode regs at the top.  Returns GRAFT_TASK_RUNNING,
 * GRAFT_TASK_DEAD (exited: never runs again) or GRAFT_TASK_COPIED with the
 * stack base and the saved thread.sp.
 */
#ifndef CONFIG_SMP
#error "graft's task checks read task_struct.on_cpu (CONFIG_SMP)"
#endif
int graft_shim_copy_stack(struct task_struct *t, void *buf, unsigned long *lo, unsigned long *sp)
{
	unsigned long csw, base, from;

	if (READ_ONCE(t->__state) == TASK_DEAD && !smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_DEAD;
	csw = READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
	smp_rmb();
	if (smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_RUNNING;
	base = (unsigned long)task_stack_page(t);
	*sp = READ_ONCE(t->thread.sp);
	/*
	 * Only the live part, [thread.sp, top): a sleeping task's frames all
	 * lie above its saved stack pointer, and copying a few hundred bytes
	 * instead of THREAD_SIZE is what keeps a pass over 1,000 tasks short.
	 * The bytes go where they sit in the stack (buf + offset), and the
	 * reader refuses reads below thread.sp.
	 */
	from = *sp & ~7UL;
	if (!base || from < base || from >= base + THREAD_SIZE ||
	    copy_from_kernel_nofault(buf + (from - base), (void *)from, base + THREAD_SIZE - from))
		return GRAFT_TASK_RUNNING;
	smp_rmb();
	if (READ_ONCE(t->on_cpu) || READ_ONCE(t->thread.sp) != *sp ||
	    READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw) != csw)
		return GRAFT_TASK_RUNNING;
	*lo = base;
	return GRAFT_TASK_COPIED;
}

/* For straggler reports. */
int graft_shim_task_pid(struct task_struct *t) { return task_pid_nr(t); }
const char *graft_shim_task_comm(struct task_struct *t) { return t->comm; }

/* Transition passes run from one delayed work item. */
static void graft_work_fn(struct work_struct *w) { graft_rs_work(); }
static DECLARE_DELAYED_WORK(graft_work, graft_work_fn);
void graft_shim_schedule(unsigned int ms) { schedule_delayed_work(&graft_work, msecs_to_jiffies(ms)); }
void graft_shim_cancel_work(void) { cancel_delayed_work_sync(&graft_work); }

/*
 * sysfs: /sys/kernel/graft/<patch>/{enabled,transition,force,replace,
 * stack_order,stragglers} and <patch>/vmlinux/patched, with upstream livepatch's modes
 * (Documentation/ABI/testing/sysfs-kernel-livepatch).  The object directory
 * is a named attribute group, so every callback gets the patch's kobject.
 */
static struct kobject *graft_root;

#define GRAFT_SHOW(attr, id)							\
static ssize_t attr##_show(struct kobject *k, struct kobj_attribute *a, char *buf)	\
{										\
	return graft_rs_show(kobject_name(k), id, buf);				\
}
GRAFT_SHOW(enabled, GRAFT_ATTR_ENABLED)
GRAFT_SHOW(transition, GRAFT_ATTR_TRANSITION)
GRAFT_SHOW(replace, GRAFT_ATTR_REPLACE)
GRAFT_SHOW(stack_order, GRAFT_ATTR_STACK_ORDER)
GRAFT_SHOW(patched, GRAFT_ATTR_PATCHED)

/* The running transition's stragglers with their stacks (one page). */
static ssize_t stragglers_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return graft_rs_stragglers(kobject_name(k), buf);
}

static ssize_t graft_store_bool(struct kobject *k, int attr, const char *buf, size_t n)
{
	bool val;
	int err = kstrtobool(buf, &val);

	if (err)
		return -EINVAL;
	err = graft_rs_store(kobject_name(k), attr, val);
	return err ? err : n;
}
static ssize_t enabled_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, GRAFT_ATTR_ENABLED, buf, n);
}
static ssize_t force_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, GRAFT_ATTR_FORCE, buf, n);
}
static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute transition_attr = __ATTR_RO(transition);
static struct kobj_attribute force_attr = __ATTR_WO(force);
static struct kobj_attribute replace_attr = __ATTR_RO(replace);
static struct kobj_attribute stack_order_attr = __ATTR_RO(stack_order);
static struct kobj_attribute patched_attr = __ATTR_RO(patched);
/* root only, as /proc/<pid>/stack: stack contents are not for everyone */
static struct kobj_attribute stragglers_attr = __ATTR(stragglers, 0400, stragglers_show, NULL);
static struct attribute *graft_attrs[] = {
	&enabled_attr.attr, &transition_attr.attr, &force_attr.attr,
	&replace_attr.attr, &stack_order_attr.attr, &stragglers_attr.attr, NULL
};
static struct attribute *graft_obj_attrs[] = { &patched_attr.attr, NULL };
static const struct attribute_group graft_group = { .attrs = graft_attrs };
/* vmlinux only: patching modules is not supported yet */
static const struct attribute_group graft_obj_group = { .name = "vmlinux", .attrs = graft_obj_attrs };
static const struct attribute_group *graft_groups[] = { &graft_group, &graft_obj_group, NULL };

int graft_shim_sysfs_init(void)
{
	graft_root = kobject_create_and_add("graft", kernel_kobj);
	return graft_root ? 0 : -ENOMEM;
}
void graft_shim_sysfs_exit(void) { kobject_put(graft_root); }

void *graft_shim_patch_dir(const char *name, int *err)
{
	struct kobject *k = kobject_create_and_add(name, graft_root);

	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = sysfs_create_groups(k, graft_groups);
	if (*err) {
		kobject_put(k);
		return NULL;
	}
	return k;
}
void graft_shim_patch_dir_remove(void *k) { kobject_put(k); }

/* The patch modules' entry points (graft.h). */
int graft_register_patch(const struct graft_patch_desc *desc, struct module *owner)
{
	return graft_rs_register(desc, owner);
}
EXPORT_SYMBOL_GPL(graft_register_patch);

int graft_unregister_patch(const struct graft_patch_desc *desc)
{
	return graft_rs_unregister(desc);
}
EXPORT_SYMBOL_GPL(graft_unregister_patch);
#endif /* CONFIG_X86_64 */

/*
 * Shadow variables (graft.h), every arch: the logic is shadow.rs's; here
 * the exported entry points, the lock, and kzalloc() (an inline with
 * allocation hooks).
 */
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "graft.h"

void *graft_shim_kzalloc(size_t size, gfp_t gfp);
unsigned long graft_shim_shadow_lock(void);
void graft_shim_shadow_unlock(unsigned long flags);
void *graft_rs_shadow_get(void *obj, unsigned long id);
void *graft_rs_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				   graft_shadow_ctor_t ctor, void *ctor_data, bool fail_if_exists);
void graft_rs_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor);
void graft_rs_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor);

/* upstream's klp_shadow_lock (kernel/livepatch/shadow.c) */
static DEFINE_SPINLOCK(graft_shadow_lock);

void *graft_shim_kzalloc(size_t size, gfp_t gfp) { return kzalloc(size, gfp); }
unsigned long graft_shim_shadow_lock(void)
{
	unsigned long flags;

	spin_lock_irqsave(&graft_shadow_lock, flags);
	return flags;
}
void graft_shim_shadow_unlock(unsigned long flags) { spin_unlock_irqrestore(&graft_shadow_lock, flags); }

void *graft_shadow_get(void *obj, unsigned long id)
{
	return graft_rs_shadow_get(obj, id);
}
EXPORT_SYMBOL_GPL(graft_shadow_get);

void *graft_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
			 graft_shadow_ctor_t ctor, void *ctor_data)
{
	return graft_rs_shadow_get_or_alloc(obj, id, size, gfp_flags, ctor, ctor_data, true);
}
EXPORT_SYMBOL_GPL(graft_shadow_alloc);

void *graft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				graft_shadow_ctor_t ctor, void *ctor_data)
{
	return graft_rs_shadow_get_or_alloc(obj, id, size, gfp_flags, ctor, ctor_data, false);
}
EXPORT_SYMBOL_GPL(graft_shadow_get_or_alloc);

void graft_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor)
{
	graft_rs_shadow_free(obj, id, dtor);
}
EXPORT_SYMBOL_GPL(graft_shadow_free);

void graft_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor)
{
	graft_rs_shadow_free_all(id, dtor);
}
EXPORT_SYMBOL_GPL(graft_shadow_free_all);
