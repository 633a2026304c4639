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
bool graft_shim_current_stack(unsigned long *lo, unsigned long *hi);

const char *graft_shim_release(void)
{
	return UTS_RELEASE;
}

/*
 * The current task's kernel stack [*lo, *hi) (task_stack_page() is an
 * inline and THREAD_SIZE a macro), and whether it is a kernel thread.
 */
bool notrace graft_shim_current_stack(unsigned long *lo, unsigned long *hi)
{
	unsigned long base = (unsigned long)task_stack_page(current);

	*lo = base;
	*hi = base + THREAD_SIZE;
	return current->flags & PF_KTHREAD;
}

/*
 * The engine's glue.  Everything here is a macro, an inline, a static
 * kernel object Rust cannot declare, or the exported C entry of the patch
 * registration API; every decision is taken on the Rust side (engine.rs),
 * which drives graft-core's Engine.
 */
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/uio.h>
#include <linux/completion.h>
#include <linux/ftrace.h>
#include <linux/hrtimer.h>
#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/rcupdate.h>
#include <linux/rcupdate_wait.h>
#include <linux/smp.h>
#include <linux/stacktrace.h>
#include <linux/sysfs.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>
#include "graft.h"
#include "shim.h"
#include "graft_arch.h"	/* the arch being built (Kbuild: arch/<arch>/) */

/* Called from engine.rs (declared here for -Wmissing-prototypes). */
void graft_shim_synchronize(void);
struct task_struct *graft_shim_current(void);
int graft_shim_idle_cpu(void);
unsigned int graft_shim_nr_cpus(void);
bool graft_shim_cpu_online(unsigned int cpu);
void graft_shim_kick_cpu(unsigned int cpu);
int graft_shim_idle_hook(bool on);
struct task_struct *graft_shim_boot_idle(unsigned int *cpu);
struct ftrace_ops *graft_shim_ops_register(unsigned long ip, unsigned long site, int *err);
void graft_shim_ops_unregister(struct ftrace_ops *ops, unsigned long ip);
unsigned long graft_shim_lookup(const char *name);
void graft_shim_taint(void);
bool graft_shim_module_get(struct module *m);
void graft_shim_module_put(struct module *m);
int graft_shim_snapshot(struct task_struct **out, int max);
void graft_shim_put_task(struct task_struct *t);
unsigned long graft_shim_thread_size(void);
void graft_shim_schedule(unsigned int ms);
int graft_shim_task_pid(struct task_struct *t);
const char *graft_shim_task_comm(struct task_struct *t);
void graft_shim_cancel_work(void);
int graft_shim_sysfs_init(void);
void graft_shim_sysfs_exit(void);
struct kobject *graft_shim_patch_dir(const char *name, int *err);
void graft_shim_patch_dir_remove(struct kobject *k);
struct kobject *graft_shim_obj_dir(struct kobject *parent, const char *name, int *err);
int graft_shim_module_notifier(bool on);
u64 graft_shim_now_ns(void);

/* engine.rs */
unsigned long graft_rs_target(unsigned long site);
void graft_rs_idle(unsigned long cpu, unsigned long parent_ip, unsigned long sp, unsigned long fp);
void graft_rs_work(void);
ssize_t graft_rs_show(const char *patch, int attr, char *buf);
ssize_t graft_rs_stragglers(const char *patch, char *buf);
int graft_rs_store(const char *patch, int attr, bool val);
int graft_rs_register(const struct graft_patch_desc *desc, struct module *owner);
int graft_rs_unregister(const struct graft_patch_desc *desc);
ssize_t graft_rs_show_obj(const char *patch, const char *obj, char *buf);
int graft_rs_module_event(const char *name, bool going);

/*
 * Control (registration, sysfs writes, transition passes) is serialised by
 * engine.rs's GRAFT_MUTEX, a Rust global_lock!.  The ftrace handler takes
 * no lock: it reads an RCU-published view (view.rs).
 */
struct task_struct *notrace graft_shim_current(void) { return current; }
/* The CPU when current is its idle task (in any context), else -1. */
int notrace graft_shim_idle_cpu(void)
{
	return is_idle_task(current) ? raw_smp_processor_id() : -1;
}
unsigned int graft_shim_nr_cpus(void) { return nr_cpu_ids; }
/* init_task (exported) is the boot CPU's idle task (init/init_task.c). */
struct task_struct *graft_shim_boot_idle(unsigned int *cpu)
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
unsigned long graft_shim_start_poll(void);
void graft_shim_cond_synchronize(unsigned long cookie);
/* A grace period's cookie, started now without waiting (view.rs publish). */
unsigned long graft_shim_start_poll(void) { return start_poll_synchronize_rcu_expedited(); }
/* Wait until the grace period of `cookie` is over (at once if it is). */
void graft_shim_cond_synchronize(unsigned long cookie)
{
	cond_synchronize_rcu_expedited(cookie);
	synchronize_rcu_tasks_rude();	/* no-op on x86_64, see below */
}

void graft_shim_synchronize(void)
{
	/*
	 * Expedited: a control path publishes a view at most a few times per
	 * transition, and a normal grace period under load (1,000 tasks, 16
	 * busy loops) took tens of milliseconds each time, most of a
	 * transition; the expedited one costs an IPI per busy CPU.
	 */
	synchronize_rcu_expedited();
	synchronize_rcu_tasks_rude();
}

/*
 * The ftrace handler, as upstream's klp_ftrace_handler(): the recursion
 * guard (which also disables preemption), then graft_rs_target() picks the
 * version for the current task (0: run the original) from the published
 * view, given the site's row, which the ops carry in ->private.
 */
/*
 * view.rs's published view (`graft_view`, struct View, repr(C)) starts with
 * the per-site targets: [site][0] for a task not yet switched (or any task
 * outside a transition: equal then), [site][1] for a switched one.  When
 * they agree no task lookup is needed, and the handler decides here
 * without a call into Rust: that is every call outside a transition.  The
 * acquire pairs with publish()'s release store (view.rs).
 */
extern void *graft_view;
static __always_inline unsigned long graft_target(unsigned long site)
{
	const unsigned long (*t)[2] = smp_load_acquire(&graft_view);

	if (unlikely(!t))
		return 0;
	if (likely(t[site][0] == t[site][1]))
		return t[site][1];
	return graft_rs_target(site);
}

static void notrace graft_ftrace_handler(unsigned long ip, unsigned long parent_ip,
					 struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	unsigned long target;
	int bit = ftrace_test_recursion_trylock(ip, parent_ip);

	if (WARN_ON_ONCE(bit < 0))
		return;
	target = graft_target((unsigned long)ops->private);
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
	static const char fn[] = GRAFT_IDLE_HOOK;
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
struct ftrace_ops *graft_shim_ops_register(unsigned long ip, unsigned long site, int *err)
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

void graft_shim_ops_unregister(struct ftrace_ops *ops, unsigned long ip)
{
	/* waits for every handler call in flight (dynamic ops) */
	WARN_ON(unregister_ftrace_function(ops));
	ftrace_set_filter_ip(ops, ip, 1, 0);
	kfree(ops);
}

/*
 * An address in a function, by name, through register_kprobe() (kallsyms
 * lookups are not exported), 0 if unknown.  The probe's address is the
 * symbol's start plus the arch's entry adjustment (arch_adjust_kprobe_addr():
 * past an ENDBR on x86, the local entry on powerpc), not the ftrace site:
 * the Rust side keeps only the symbol it falls in, and the backend finds the
 * site from the symbol's start (objects.rs resolve_func()).
 *
 * The probe is registered disabled (KPROBE_FLAG_DISABLED: never armed, no
 * text touched) only to learn its address.  Unregistering one waits for an
 * RCU grace period (unregister_kprobes() in kernel/kprobes.c calls
 * synchronize_rcu()), which took 60 ms of a patch module's load under load,
 * so the probes are unregistered in batches from a work item instead of in
 * the caller's path; graft_shim_cancel_work() waits for them.
 */
struct graft_lookup_probe {
	struct kprobe kp;
	struct llist_node node;
};
static LLIST_HEAD(graft_lookup_dead);

static void graft_lookup_reap(struct work_struct *w)
{
	struct llist_node *n = llist_del_all(&graft_lookup_dead);
	struct graft_lookup_probe *p, *t, *done[16];
	struct kprobe *kps[16];
	int k = 0, i;

	llist_for_each_entry_safe(p, t, n, node) {
		done[k] = p;
		kps[k++] = &p->kp;
		if (k == ARRAY_SIZE(kps) || !t) {
			unregister_kprobes(kps, k);	/* one grace period per batch */
			for (i = 0; i < k; i++)
				kfree(done[i]);
			k = 0;
		}
	}
}
static DECLARE_WORK(graft_lookup_work, graft_lookup_reap);

static unsigned long graft_probe_addr(const char *name, unsigned long addr)
{
	struct graft_lookup_probe *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return 0;
	p->kp.symbol_name = name;
	p->kp.addr = (kprobe_opcode_t *)addr;
	p->kp.flags = KPROBE_FLAG_DISABLED;
	if (register_kprobe(&p->kp)) {
		kfree(p);
		return 0;
	}
	addr = (unsigned long)p->kp.addr;
	/* the name belongs to the caller; the address identifies the probe */
	p->kp.symbol_name = NULL;
	llist_add(&p->node, &graft_lookup_dead);
	/* unbound: the reaping needs no CPU of its own (Linux 7.3 deprecates
	 * system_wq; schedule_work() is system_percpu_wq) */
	queue_work(system_dfl_wq, &graft_lookup_work);
	return addr;
}

unsigned long graft_shim_lookup(const char *name)
{
	return graft_probe_addr(name, 0);
}

u64 graft_shim_now_ns(void) { return ktime_get_ns(); }


/*
 * /proc/kallsyms for objects.rs (ksyms.rs), which parses it with
 * graft-core's kallsyms module: kallsyms_on_each_symbol() and
 * module_kallsyms_on_each_symbol() are not exported, so symbols by name
 * with old_sympos are read from the file.  The C side only opens and reads
 * it: kernel_read() wants ->read_iter, and /proc/kallsyms has only
 * ->proc_read = seq_read, so it is read as seq_read() does (fs/seq_file.c),
 * through the exported seq_read_iter(), into a kernel buffer.  Its open
 * (kallsyms_open(), seq_open()) made private_data the seq_file.
 */
void *graft_shim_kallsyms_open(int *err);
ssize_t graft_shim_kallsyms_read(void *p, char *buf, size_t len, long long *pos);
void graft_shim_kallsyms_close(void *p);

void *graft_shim_kallsyms_open(int *err)
{
	struct file *f = filp_open("/proc/kallsyms", O_RDONLY, 0);

	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	if (!f->private_data || ((struct seq_file *)f->private_data)->file != f) {
		filp_close(f, NULL);
		*err = -EINVAL;
		return NULL;
	}
	*err = 0;
	return f;
}

/* Up to len bytes at *pos (advanced); 0 at the end, or -errno. */
ssize_t graft_shim_kallsyms_read(void *p, char *buf, size_t len, long long *pos)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t r;

	cond_resched();
	init_sync_kiocb(&kiocb, p);
	kiocb.ki_pos = *pos;
	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, len);
	r = seq_read_iter(&kiocb, &iter);
	*pos = kiocb.ki_pos;
	return r;
}

void graft_shim_kallsyms_close(void *p)
{
	filp_close(p, NULL);
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
 * Copy a switched-out task's kernel stack: the one copy routine of the
 * transition passes, <patch>/stragglers and the per-task self-test
 * (tasks.rs).  The saved context (graft_arch.h) says where the live part
 * starts; only [ctx.sp, top) is copied, to the same offsets of buf
 * (THREAD_SIZE bytes), since a switched-out task's frames all lie above its
 * saved stack pointer and copying a few hundred bytes instead of THREAD_SIZE
 * keeps a pass over 1,000 tasks short.  When trace is not NULL, the kernel's
 * own stack_trace_save_tsk() of the task is taken inside the same window.
 *
 * The copy is kept only if the task provably did not run while it was
 * taken: off CPU before and after, the same saved context, and the same
 * context-switch count (__schedule() bumps nvcsw or nivcsw before every
 * switch away from a task).  Why that proves a consistent copy on every
 * arch, weakly ordered ones (arm64, powerpc) included:
 *
 *  1. The first on_cpu read is an acquire.  The task's last switch-out
 *     ended with finish_task()'s smp_store_release(&prev->on_cpu, 0)
 *     (kernel/sched/core.c), after its context was saved and after every
 *     store it made to its stack: reading 0 makes all of them visible to
 *     the copy.  A stale context-switch count read before it (the smp_rmb()
 *     keeps it first) can only make the final comparison fail.
 *  2. For the task to run again, the CPU that switches it in first stores
 *     on_cpu = 1 (prepare_task(), in context_switch()), and that store is
 *     ordered before any store the task then makes to its stack: x86 and
 *     s390 keep stores in program order; arm64's __switch_to() executes
 *     dsb(ish) between the two; on powerpc the release of the runqueue lock
 *     in finish_lock_switch() (lwsync, which orders earlier stores before
 *     later ones) comes before the task returns from the scheduler, and
 *     what the task stores before it (the rest of __switch_to()/_switch and
 *     finish_task_switch()'s frame) lies in the scheduler's frames below
 *     __schedule(), which is notrace and never patched.
 *  3. So if the copy read any store the task made after running again,
 *     the on_cpu read after the second smp_rmb() (an acquire, so the
 *     counts are read after it) sees 1, or, if the task already switched
 *     out again, the release of that switch-out, whose count increment is
 *     then visible: the copy is refused either way.  (Message passing with
 *     a store-store barrier on the writer and a read barrier on the reader
 *     is forbidden on arm64 and powerpc.)
 *
 * A runnable task that is off CPU (preempted) is copied too; its stack then
 * holds the preemption's pt_regs, which the unwinder refuses unless they
 * are user-mode regs at the top.  Returns GRAFT_TASK_RUNNING, GRAFT_TASK_DEAD
 * (exited: never runs again) or GRAFT_TASK_COPIED with *out filled.
 */
#ifndef CONFIG_SMP
#error "graft's task checks read task_struct.on_cpu (CONFIG_SMP)"
#endif
int graft_shim_copy_stack(struct task_struct *t, void *buf, struct graft_task_stack *out,
			  unsigned long *trace, unsigned int max, unsigned int *n);
int graft_shim_copy_stack(struct task_struct *t, void *buf, struct graft_task_stack *out,
			  unsigned long *trace, unsigned int max, unsigned int *n)
{
	struct graft_switched_out after;
	unsigned long csw, base, from;

	if (n)
		*n = 0;
	if (READ_ONCE(t->__state) == TASK_DEAD && !smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_DEAD;
	csw = READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
	smp_rmb();
	if (smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_RUNNING;
	base = (unsigned long)task_stack_page(t);
	graft_arch_switched_out(t, &out->ctx);
	from = out->ctx.sp & ~7UL;
	if (!base || from < base || from >= base + THREAD_SIZE ||
	    copy_from_kernel_nofault(buf + (from - base), (void *)from, base + THREAD_SIZE - from))
		return GRAFT_TASK_RUNNING;
	if (trace)
		*n = stack_trace_save_tsk(t, trace, max, 0);
	smp_rmb();
	if (smp_load_acquire(&t->on_cpu))
		return GRAFT_TASK_RUNNING;
	graft_arch_switched_out(t, &after);
	if (memcmp(&after, &out->ctx, sizeof(after)) ||
	    READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw) != csw)
		return GRAFT_TASK_RUNNING;
	out->lo = base;
	out->kthread = !!(READ_ONCE(t->flags) & PF_KTHREAD);
	return GRAFT_TASK_COPIED;
}

/* For straggler reports. */
int graft_shim_task_pid(struct task_struct *t) { return task_pid_nr(t); }
const char *graft_shim_task_comm(struct task_struct *t) { return t->comm; }

/*
 * Tasks also switch on their way back to user space, as upstream's do
 * (klp_update_patch_state() from the exit-to-user-mode work, which a module
 * cannot hook): a probe on the sys_exit tracepoint lets the task walk its
 * own stack there and switch (view.rs graft_rs_syscall_exit).  Without it a
 * task that stays on a CPU (a released task exiting, a syscall loop) is
 * only switched once some pass finds it off the CPU.  The tracepoint is not
 * exported to modules; for_each_kernel_tracepoint() and
 * tracepoint_probe_register() are.  It is registered only while a
 * transition runs: it puts every task's syscall exit on the slow path
 * (syscall_regfunc()).  Syscall tracepoints may fault (TRACE_EVENT_SYSCALL,
 * include/linux/tracepoint.h): the probe runs preemptible, so it disables
 * preemption for the view (an RCU read-side section, view.rs).
 */
void graft_rs_syscall_exit(void);
int graft_shim_sys_exit_hook(bool on);
void graft_shim_sys_exit_exit(void);
static struct tracepoint *graft_tp_sys_exit;
static bool graft_sys_exit_on;
static void graft_find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sys_exit"))
		graft_tp_sys_exit = tp;
}
static void notrace graft_sys_exit_probe(void *data, struct pt_regs *regs, long ret)
{
	preempt_disable_notrace();
	graft_rs_syscall_exit();
	preempt_enable_notrace();
}
static int graft_sys_exit_set(bool on)
{
	int err;

	if (on == graft_sys_exit_on)
		return 0;
	if (!graft_tp_sys_exit)
		for_each_kernel_tracepoint(graft_find_tp, NULL);
	if (!graft_tp_sys_exit)
		return -ENOENT;
	if (on)
		err = tracepoint_probe_register(graft_tp_sys_exit, (void *)graft_sys_exit_probe, NULL);
	else
		err = tracepoint_probe_unregister(graft_tp_sys_exit, (void *)graft_sys_exit_probe, NULL);
	if (!err)
		graft_sys_exit_on = on;
	return err;
}

/*
 * (Un)registered from a work item of its own, never in a transition's
 * path: registering the first probe after one was removed waits for an RCU
 * grace period and an SRCU one (tp_rcu_cond_sync() in kernel/tracepoint.c),
 * about 55 ms in these guests, which would delay the transition's first
 * pass; most transitions complete in that first pass, and the probe serves
 * the tasks that outlast it.
 */
static bool graft_sys_exit_want;
static DEFINE_MUTEX(graft_sys_exit_mutex);
static void graft_sys_exit_fn(struct work_struct *w)
{
	int err;

	mutex_lock(&graft_sys_exit_mutex);
	err = graft_sys_exit_set(READ_ONCE(graft_sys_exit_want));
	mutex_unlock(&graft_sys_exit_mutex);
	if (err)
		pr_warn_once("graft: no switch at syscall exit (%d): passes alone switch tasks\n", err);
}
static DECLARE_WORK(graft_sys_exit_work, graft_sys_exit_fn);

int graft_shim_sys_exit_hook(bool on)
{
	WRITE_ONCE(graft_sys_exit_want, on);
	/* not system_wq: Linux 7.3 warns it is deprecated (system_dfl_wq is
	 * its unbound successor; the probe needs no particular CPU) */
	queue_work(system_dfl_wq, &graft_sys_exit_work);
	return 0;
}
/* Module exit: no probe call may still run graft.ko's code. */
void graft_shim_sys_exit_exit(void)
{
	WRITE_ONCE(graft_sys_exit_want, false);
	cancel_work_sync(&graft_sys_exit_work);
	mutex_lock(&graft_sys_exit_mutex);
	graft_sys_exit_set(false);
	mutex_unlock(&graft_sys_exit_mutex);
	tracepoint_synchronize_unregister();
}

/*
 * Transition passes run from one work item, on the high-priority system
 * workqueue (nice -20 workers): under load a pass queued on system_wq
 * waited behind the busy tasks for the CPU, which delays every task's
 * switch; a pass is short and sleeps nowhere.  The delay between passes
 * is an hrtimer's, not a delayed work's: a timer-wheel delay is a whole
 * number of jiffies (4 ms at HZ=250), and the retries of a transition
 * (Transition::next_delay_ms: 1, then 2 ms) are what decides how soon a
 * task that left the changed code is switched.
 */
static void graft_work_fn(struct work_struct *w) { graft_rs_work(); }
static DECLARE_WORK(graft_work, graft_work_fn);
static struct hrtimer graft_timer;
static enum hrtimer_restart graft_timer_fn(struct hrtimer *t)
{
	queue_work(system_highpri_wq, &graft_work);
	return HRTIMER_NORESTART;
}
void graft_shim_timer_init(void);
void graft_shim_timer_init(void)
{
	hrtimer_setup(&graft_timer, graft_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
}
void graft_shim_schedule(unsigned int ms)
{
	if (!ms)
		queue_work(system_highpri_wq, &graft_work);
	else
		hrtimer_start(&graft_timer, ms_to_ktime(ms), HRTIMER_MODE_REL);
}
void graft_shim_cancel_work(void)
{
	/* the work may rearm the timer, the timer requeue the work */
	hrtimer_cancel(&graft_timer);
	cancel_work_sync(&graft_work);
	hrtimer_cancel(&graft_timer);
	flush_work(&graft_lookup_work);
}

/*
 * sysfs: /sys/kernel/graft/<patch>/{enabled,transition,force,replace,
 * stack_order,forced,progress,stragglers} and <patch>/vmlinux/patched, with upstream livepatch's modes
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
/*
 * transition reads without GRAFT_MUTEX: the completion of a transition
 * (every task switched, the view without transition published, callbacks
 * run, module references dropped) is what it reports, and the ftrace_ops
 * that are then unregistered under the mutex (synchronize_rcu_tasks() and
 * a trampoline freed per function, tens of milliseconds) are cleanup no
 * task depends on.  The pointer is only compared, never followed.
 */
static struct kobject *graft_transition_kobj;
void graft_shim_set_transition(struct kobject *k);
void graft_shim_set_transition(struct kobject *k) { smp_store_release(&graft_transition_kobj, k); }
static ssize_t transition_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", smp_load_acquire(&graft_transition_kobj) == k);
}
GRAFT_SHOW(replace, GRAFT_ATTR_REPLACE)
GRAFT_SHOW(stack_order, GRAFT_ATTR_STACK_ORDER)
/* 1 once a forced transition touched the patch (force itself is write-only) */
GRAFT_SHOW(forced, GRAFT_ATTR_FORCED)
/* "switched total" tasks of the patch's running transition, else empty */
GRAFT_SHOW(progress, GRAFT_ATTR_PROGRESS)
/* <patch>/<object>/patched (objects.rs) */
static ssize_t patched_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return graft_rs_show_obj(kobject_name(k->parent), kobject_name(k), buf);
}

/* The running transition's stragglers with their stacks (one page). */
static ssize_t stragglers_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return graft_rs_stragglers(kobject_name(k), buf);
}

/*
 * A write of `enabled` (which starts a transition) runs on
 * system_highpri_wq while the writer sleeps: the writer is any task, and
 * under load (16 busy threads on 2 CPUs) one at
 * nice 0 got a ninth of a CPU, which stretched the milliseconds of CPU
 * work before a transition (ftrace registration, the task snapshot, the
 * view) nine times over.  The worker runs graft's code exactly as the
 * caller would have, under GRAFT_MUTEX; its result is the caller's.
 * (Callbacks therefore run in a kworker: upstream promises process
 * context and klp_mutex, not the caller's task.)
 */
struct graft_call {
	struct work_struct work;
	int (*fn)(void *arg);
	void *arg;
	int ret;
	struct completion done;
};

static void graft_call_fn(struct work_struct *w)
{
	struct graft_call *c = container_of(w, struct graft_call, work);

	c->ret = c->fn(c->arg);
	complete(&c->done);
}

static int graft_call_highpri(int (*fn)(void *arg), void *arg)
{
	struct graft_call c = { .fn = fn, .arg = arg };

	INIT_WORK_ONSTACK(&c.work, graft_call_fn);
	init_completion(&c.done);
	queue_work(system_highpri_wq, &c.work);
	wait_for_completion(&c.done);
	destroy_work_on_stack(&c.work);
	return c.ret;
}

struct graft_store_args {
	const char *patch;
	int attr;
	bool val;
};

static int graft_store_fn(void *p)
{
	struct graft_store_args *a = p;

	return graft_rs_store(a->patch, a->attr, a->val);
}

static ssize_t graft_store_bool(struct kobject *k, struct kobj_attribute *a, int attr, const char *buf, size_t n)
{
	bool val;
	int err = kstrtobool(buf, &val);

	if (err) {
		/* as upstream's enabled_store()/force_store(): -EINVAL, and a line */
		pr_err_ratelimited("graft: %s: %s: not a boolean, write refused\n", kobject_name(k), a->attr.name);
		return -EINVAL;
	}
	if (attr == GRAFT_ATTR_ENABLED) {
		/* the name lives while this write holds the file (kernfs) */
		struct graft_store_args args = { kobject_name(k), attr, val };

		err = graft_call_highpri(graft_store_fn, &args);
	} else {
		err = graft_rs_store(kobject_name(k), attr, val);
	}
	return err ? err : n;
}
static ssize_t enabled_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, a, GRAFT_ATTR_ENABLED, buf, n);
}
static ssize_t force_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, a, GRAFT_ATTR_FORCE, buf, n);
}
static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute transition_attr = __ATTR_RO(transition);
static struct kobj_attribute force_attr = __ATTR_WO(force);
static struct kobj_attribute replace_attr = __ATTR_RO(replace);
static struct kobj_attribute stack_order_attr = __ATTR_RO(stack_order);
static struct kobj_attribute forced_attr = __ATTR_RO(forced);
static struct kobj_attribute progress_attr = __ATTR_RO(progress);
static struct kobj_attribute patched_attr = __ATTR_RO(patched);
/* root only, as /proc/<pid>/stack: stack contents are not for everyone */
static struct kobj_attribute stragglers_attr = __ATTR(stragglers, 0400, stragglers_show, NULL);
static struct attribute *graft_attrs[] = {
	&enabled_attr.attr, &transition_attr.attr, &force_attr.attr,
	&replace_attr.attr, &stack_order_attr.attr, &forced_attr.attr,
	&progress_attr.attr, &stragglers_attr.attr, NULL
};
static const struct attribute_group graft_group = { .attrs = graft_attrs };
static const struct attribute_group *graft_groups[] = { &graft_group, NULL };

int graft_shim_sysfs_init(void)
{
	graft_root = kobject_create_and_add("graft", kernel_kobj);
	return graft_root ? 0 : -ENOMEM;
}
void graft_shim_sysfs_exit(void) { kobject_put(graft_root); }

/* A directory under parent with either attribute groups or one file. */
static struct kobject *graft_dir(struct kobject *parent, const char *name, const struct attribute_group **groups,
		       const struct attribute *file, int *err)
{
	struct kobject *k = kobject_create_and_add(name, parent);

	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = groups ? sysfs_create_groups(k, groups) : sysfs_create_file(k, file);
	if (*err) {
		kobject_put(k);
		return NULL;
	}
	return k;
}

struct kobject *graft_shim_patch_dir(const char *name, int *err)
{
	return graft_dir(graft_root, name, graft_groups, NULL, err);
}
void graft_shim_patch_dir_remove(struct kobject *k) { kobject_put(k); }

/* One <patch>/<object> directory ("vmlinux" or a module's name) with patched. */
struct kobject *graft_shim_obj_dir(struct kobject *parent, const char *name, int *err)
{
	return graft_dir(parent, name, NULL, &patched_attr.attr, err);
}

/*
 * Module objects (objects.rs): whether a module is loaded is what its
 * /sys/module/<name>/initstate reads (find_module() is not exported);
 * objects.rs builds the path and parses the text (graft-core's modstate).
 * Up to len bytes from the start of the file at path, or -errno.
 */
ssize_t graft_shim_read_file(const char *path, char *buf, size_t len);

ssize_t graft_shim_read_file(const char *path, char *buf, size_t len)
{
	struct file *f = filp_open(path, O_RDONLY, 0);
	loff_t pos = 0;
	ssize_t n;

	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, len, &pos);
	filp_close(f, NULL);
	return n;
}

/*
 * COMING runs in prepare_coming_module() (kernel/module/main.c) after
 * ftrace_module_enable() and before the module's init: its ftrace records
 * are live.  GOING runs after its exit (or a failed init), before
 * ftrace_release_mod().  An error at COMING refuses the module, as
 * upstream's klp_module_coming().
 */
static int graft_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;

	if (action == MODULE_STATE_COMING)
		return notifier_from_errno(graft_rs_module_event(mod->name, false));
	if (action == MODULE_STATE_GOING)
		graft_rs_module_event(mod->name, true);
	return NOTIFY_DONE;
}
static struct notifier_block graft_module_nb = { .notifier_call = graft_module_notify };

int graft_shim_module_notifier(bool on)
{
	return on ? register_module_notifier(&graft_module_nb) : unregister_module_notifier(&graft_module_nb);
}

/* The patch modules' entry points (graft.h). */
int graft_register_patch(const struct graft_patch_desc *desc, struct module *owner)
{
	/*
	 * In the caller's context, not graft_call_highpri(): resolving a
	 * module object reads /proc/kallsyms (objects.rs), which a kworker
	 * cannot open (its root is not the caller's: -ENOENT).
	 */
	return graft_rs_register(desc, owner);
}
EXPORT_SYMBOL_GPL(graft_register_patch);

int graft_unregister_patch(const struct graft_patch_desc *desc)
{
	return graft_rs_unregister(desc);
}
EXPORT_SYMBOL_GPL(graft_unregister_patch);

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
