// SPDX-License-Identifier: GPL-2.0
/*
 * graft's C shim: wrappers for what the kernel offers only as macros,
 * inlines or static objects, so the Rust side can call them (tasks and
 * their stacks, RCU, the transition pass's timer and work, files).  The
 * rest of the C is split by why it is C: shim_hooks.c, shim_sysfs.c,
 * shim_api.c (see shim_internal.h).
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
	*hi = base + THREAD_SIZE;	/* (Rust takes off the arch's top padding) */
	return current->flags & PF_KTHREAD;
}

#include "shim_internal.h"

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
 * section for synchronize_rcu().  That covers every handler call only
 * where RCU watches wherever ftrace can call it: with
 * CONFIG_ARCH_WANTS_NO_INSTR (x86_64, arm64, s390, riscv) every function
 * called where RCU is not watching is noinstr, hence never traced.
 * Elsewhere (powerpc) a handler may run where RCU does not watch, and only
 * a context switch on its CPU proves it returned: upstream's
 * klp_synchronize_transition() (kernel/livepatch/transition.c) runs a work
 * item on each CPU, and synchronize_rcu_tasks_rude() does the same from a
 * kthread that sleeps HZ/10 between grace periods
 * (rcu_spawn_tasks_rude_kthread(), kernel/rcu/tasks.h): 100 ms per wait,
 * most of a transition on powerpc.  graft queues one work item per CPU
 * (graft_sched_work) when it publishes and flushes them when it must know
 * the old view unread: a work that ran after the publication means its CPU
 * scheduled since, so the handler sections that had begun there before it
 * have ended; a work still pending from an earlier publication runs after
 * this one too.  High-priority workers, so a loaded CPU runs them soon.
 */
unsigned long graft_shim_start_poll(void);
void graft_shim_cond_synchronize(unsigned long cookie);
#ifdef CONFIG_ARCH_WANTS_NO_INSTR
static void graft_sched_start(void) { }
static void graft_sched_wait(void) { }
static void graft_sched_init(void) { }
#else
static DEFINE_PER_CPU(struct work_struct, graft_sched_work);
static void graft_sched_fn(struct work_struct *w) { }
static void graft_sched_start(void)
{
	int cpu;

	cpus_read_lock();
	for_each_online_cpu(cpu)
		queue_work_on(cpu, system_highpri_wq, per_cpu_ptr(&graft_sched_work, cpu));
	cpus_read_unlock();
}
static void graft_sched_wait(void)
{
	int cpu;

	/* a CPU that went offline meanwhile ran the stopper: its work may run
	 * elsewhere (or not at all if never queued): flushing is enough */
	for_each_possible_cpu(cpu)
		flush_work(per_cpu_ptr(&graft_sched_work, cpu));
}
static void graft_sched_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		INIT_WORK(per_cpu_ptr(&graft_sched_work, cpu), graft_sched_fn);
}
#endif

/*
 * graft's own workqueue, for the transition passes, the control work that
 * starts a transition (graft_call_highpri()) and the sys_exit probe's
 * (un)registration: high priority (nice -20 workers), so that busy tasks
 * do not delay a pass; unbound, so that a pass runs on whichever CPU the
 * scheduler finds free rather than on the one that queued it (under load
 * with an observer polling at SCHED_FIFO on that CPU, a pass of 1,000
 * stacks pinned there took 20 to 30 ms instead of 3 to 5).
 */
struct workqueue_struct *graft_wq;

/* At init, before anything queues work or publishes a view. */
int graft_shim_sched_init(void)
{
	graft_wq = alloc_workqueue("graft", WQ_UNBOUND | WQ_HIGHPRI, 0);
	if (!graft_wq)
		return -ENOMEM;
	graft_sched_init();
	return 0;
}
/*
 * Module exit, after the passes, the probe's work and every control path
 * ended: no work item may still run graft.ko's code.
 */
void graft_shim_sched_exit(void)
{
	graft_sched_wait();
	if (graft_wq)
		destroy_workqueue(graft_wq);
	graft_wq = NULL;
}
/* A grace period's cookie, started now without waiting (view.rs publish). */
unsigned long graft_shim_start_poll(void)
{
	graft_sched_start();
	return start_poll_synchronize_rcu_expedited();
}
/* Wait until the grace period of `cookie` is over (at once if it is). */
void graft_shim_cond_synchronize(unsigned long cookie)
{
	cond_synchronize_rcu_expedited(cookie);
	graft_sched_wait();
}

void graft_shim_synchronize(void)
{
	/*
	 * Expedited: a control path publishes a view at most a few times per
	 * transition, and a normal grace period under load (1,000 tasks, 16
	 * busy loops) took tens of milliseconds each time, most of a
	 * transition; the expedited one costs an IPI per busy CPU.
	 */
	graft_sched_start();
	synchronize_rcu_expedited();
	graft_sched_wait();
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
 * Descriptor validation (validate.rs): a patch module's description is a
 * static of its owner module, so graft reads none of it before each
 * pointer is shown to lie in the owner's memory.  Which region holds an
 * address is the kernel's own within_module_mem_type() (an inline); the
 * owner is first shown to be a module's struct module.
 *
 * graft_shim_module_self(): whether mod reads as a module that lies in its
 * own MOD_DATA, as every module's THIS_MODULE does (kernel/module/main.c:
 * .gnu.linkonce.this_module is a writable section, "MOD_DATA hosts mod").
 * Read with copy_from_kernel_nofault(), so a pointer to unmapped memory is
 * refused instead of faulting; once it holds, the whole struct module is
 * readable and the other two may read it.
 */
bool graft_shim_module_self(const struct module *mod)
{
	unsigned long self = (unsigned long)mod;
	unsigned int size;
	void *base;

	if (copy_from_kernel_nofault(&base, &mod->mem[MOD_DATA].base, sizeof(base)) ||
	    copy_from_kernel_nofault(&size, &mod->mem[MOD_DATA].size, sizeof(size)))
		return false;
	return self - (unsigned long)base < size &&
	       size - (self - (unsigned long)base) >= sizeof(*mod);
}

/*
 * Which region of mod holds addr (GRAFT_MEM_*, shim.h), and in *left the
 * bytes from addr to that region's end (0 when none holds it).
 */
int graft_shim_module_mem(const struct module *mod, unsigned long addr, unsigned long *left)
{
	for_each_mod_mem_type(type) {
		if (!within_module_mem_type(addr, mod, type))
			continue;
		*left = mod->mem[type].size - (addr - (unsigned long)mod->mem[type].base);
		if (type == MOD_TEXT)
			return GRAFT_MEM_TEXT;
		return mod_mem_type_is_init(type) ? GRAFT_MEM_INIT : GRAFT_MEM_DATA;
	}
	*left = 0;
	return GRAFT_MEM_NONE;
}

/*
 * The module list, for the unwind tables of modules (graft_shim_module_unwind).
 * Nothing exported finds a module by address (__module_address() and
 * find_module() are not), so graft walks the list as __module_address()
 * does (kernel/module/main.c), from its head `modules`, whose address
 * kallsyms gives (orc.rs in kmod/arch/x86_64).  It is taken only if this
 * module is on the list it heads.
 */
static struct list_head *graft_modules;

int graft_shim_set_modules(unsigned long head)
{
	struct list_head *h = (struct list_head *)head;
	struct module *mod;
	bool found = false;

	if (!h)
		return -ENOENT;
	rcu_read_lock();
	list_for_each_entry_rcu(mod, h, list) {
		if (mod == THIS_MODULE) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	if (!found)
		return -EINVAL;
	WRITE_ONCE(graft_modules, h);
	return 0;
}

/*
 * The unwind table of the formed module whose text (core or init) holds
 * ip, as __module_address() finds it; false for none.  The caller holds
 * rcu_read_lock() until it is done with the table: a module's memory and
 * its tables are freed only after a grace period (free_module(),
 * kernel/module/main.c).
 */
bool graft_shim_module_unwind(unsigned long ip, struct graft_unwind_table *t)
{
#ifdef GRAFT_ARCH_MODULE_UNWIND
	struct list_head *h = READ_ONCE(graft_modules);
	struct module *mod;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "graft_shim_module_unwind() without rcu_read_lock()");
	if (!h)
		return false;
	list_for_each_entry_rcu(mod, h, list) {
		if (mod->state == MODULE_STATE_UNFORMED)
			continue;
		if (within_module_mem_type(ip, mod, MOD_TEXT) || within_module_mem_type(ip, mod, MOD_INIT_TEXT))
			return graft_arch_module_unwind(mod, t);
	}
#endif
	return false;
}

/* mod->name (MODULE_NAME_LEN bytes with its NUL). */
const char *graft_shim_module_name(const struct module *mod) { return mod->name; }

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
 *     __schedule(), which is notrace and never patched; riscv (RVWMO) the
 *     same way: that release is smp_store_release() (the ticket or queued
 *     spinlock's unlock), whose `fence rw,w` orders every earlier load
 *     and store before every later store.
 *  3. So if the copy read any store the task made after running again,
 *     the on_cpu read after the second smp_rmb() (an acquire, so the
 *     counts are read after it) sees 1, or, if the task already switched
 *     out again, the release of that switch-out, whose count increment is
 *     then visible: the copy is refused either way.  (Message passing with
 *     a store-store barrier on the writer and a read barrier on the reader
 *     is forbidden on arm64, powerpc and riscv.)
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
 * Transition passes run from one work item, on graft_wq (high priority:
 * under load a pass queued on system_wq waited behind the busy tasks for
 * the CPU, which delays every task's switch; a pass is short and sleeps
 * nowhere).  The delay between passes
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
	queue_work(graft_wq, &graft_work);
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
		queue_work(graft_wq, &graft_work);
	else
		hrtimer_start(&graft_timer, ms_to_ktime(ms), HRTIMER_MODE_REL);
}
void graft_shim_cancel_work(void)
{
	/* the work may rearm the timer, the timer requeue the work */
	hrtimer_cancel(&graft_timer);
	cancel_work_sync(&graft_work);
	hrtimer_cancel(&graft_timer);
}

/*
 * Control work that starts a transition (a write of `enabled`, the enable
 * of a patch module's registration) runs on graft_wq while the caller
 * sleeps: the caller is any task, and
 * under load (16 busy threads on 2 CPUs) one at
 * nice 0 got a ninth of a CPU, which stretched the milliseconds of CPU
 * work before a transition (ftrace registration, the task snapshot, the
 * view) nine times over, and a caller preempted while it held GRAFT_MUTEX
 * held up the transition's first pass (a nice -20 worker) behind it.  The
 * worker runs graft's code exactly as the caller would have, under
 * GRAFT_MUTEX; its result is the caller's.
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

int graft_call_highpri(int (*fn)(void *arg), void *arg)
{
	struct graft_call c = { .fn = fn, .arg = arg };

	INIT_WORK_ONSTACK(&c.work, graft_call_fn);
	init_completion(&c.done);
	queue_work(graft_wq, &c.work);
	wait_for_completion(&c.done);
	destroy_work_on_stack(&c.work);
	return c.ret;
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
 * Shadow variables (shadow.rs; exported by shim_api.c): the lock, and
 * kzalloc() (an inline with allocation hooks).
 */
#include <linux/spinlock.h>

void *graft_shim_kzalloc(size_t size, gfp_t gfp);
unsigned long graft_shim_shadow_lock(void);
void graft_shim_shadow_unlock(unsigned long flags);

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

