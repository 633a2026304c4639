// SPDX-License-Identifier: GPL-2.0
/*
 * graft.ko's hooks into the running kernel: the notrace handlers ftrace,
 * the idle loop and the sys_exit tracepoint call (built on inline helpers
 * Rust cannot call), and their setup (ftrace_ops, kprobes for name
 * lookups, the tracepoint probe, the module notifier).
 */
#include "shim_internal.h"

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

static unsigned long graft_probe_addr(const char *name)
{
	struct graft_lookup_probe *p = kzalloc(sizeof(*p), GFP_KERNEL);
	unsigned long addr;

	if (!p)
		return 0;
	p->kp.symbol_name = name;
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
	return graft_probe_addr(name);
}

u64 graft_shim_now_ns(void) { return ktime_get_ns(); }


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


void graft_lookup_flush(void)
{
	flush_work(&graft_lookup_work);
}
