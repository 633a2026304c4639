// SPDX-License-Identifier: GPL-2.0
/*
 * graft.ko's hooks into the running kernel: the notrace handlers ftrace,
 * the idle loop and the sys_exit tracepoint call (built on inline helpers
 * Rust cannot call), and their setup (graft's ftrace_ops and its filter,
 * the idle hook, the tracepoint probe, the module notifier).
 */
#include "shim_internal.h"

/*
 * The ftrace handler, as upstream's klp_ftrace_handler(): the recursion
 * guard (which also disables preemption), then the version for the current
 * task (0: run the original) from the published view (view.rs, struct
 * graft_view_head in shim.h).  One ftrace_ops serves every patched site,
 * so the handler finds its site's row from `ip` in the view's hash table:
 * a hash and usually one probe, whatever the number of patched functions.
 * When the row's two targets agree (its `both`) no task lookup is needed
 * and the handler decides here with one load and without a call into
 * Rust: that is every call outside a transition.  The view is read as rcu_dereference() reads
 * (include/linux/rcupdate.h): READ_ONCE() of the pointer, then loads that
 * depend on its value, which every arch Linux supports keeps in order
 * after publish()'s release store (view.rs) without a barrier.  An
 * acquire costs a barrier on every call on powerpc (lwsync: in the guest
 * benchmark 12% of a patched call).
 */
/*
 * graft's one ftrace_ops for every patched site, and beside it the
 * published view (view.rs publish()), so that the handler finds the view
 * through the ops it is called with (no global's address to load: two
 * loads fewer on powerpc).  Never NULL: view.rs's graft_none_view (no
 * sites, no transition) until a view is published, and again at the end.
 */
struct graft_ops {
	struct ftrace_ops ops;
	struct graft_view_head *view;
};
extern struct graft_view_head graft_none_view __attribute__((visibility("hidden")));

/*
 * The byte offset, in a view's table, of the row a site's probe starts at:
 * the site's address with the bits above the table and the low bits of a
 * row (rows are 32 bytes) cleared, `ip & omask`: one AND.  Sites of
 * neighbouring functions take neighbouring rows, so a patch of consecutive
 * functions probes once per site (two sites share a row only within 32
 * bytes); sites far apart fall anywhere, as a hash's would.
 */
#define GRAFT_ROW_SHIFT 5
static __always_inline unsigned long graft_row_off(unsigned long ip, unsigned long omask)
{
	BUILD_BUG_ON(sizeof(struct graft_site_row) != 1UL << GRAFT_ROW_SHIFT);
	return ip & omask;
}

/* Row `off` (a byte offset) of view `v`. */
static __always_inline const struct graft_site_row *graft_row_at(const struct graft_view_head *v, unsigned long off)
{
	return (const struct graft_site_row *)((const char *)v->rows + off);
}

/*
 * The probe's stride after its first row, in bytes (double hashing): an odd
 * number of rows from hash_64() of the site, so sites that share a first
 * row part ways.  Neighbouring functions fill runs of rows: a stride of one
 * row would walk such a run to its end (hundreds of rows when a patch of
 * consecutive functions surrounds the site).  Odd, so a probe visits every
 * row of the power-of-two table; at most half of them are used, so it ends.
 */
static __always_inline unsigned long graft_row_step(unsigned long ip, unsigned long omask)
{
	return (((unsigned long)hash_64(ip, 32) | 1) << GRAFT_ROW_SHIFT) & omask;
}

/* Site `ip`'s probe stride in rows (view.rs fills the table with it). */
unsigned long graft_shim_site_step(unsigned long ip, unsigned long omask)
{
	return graft_row_step(ip, omask) >> GRAFT_ROW_SHIFT;
}

/* The first row of site `ip`'s probe (view.rs fills the table with it). */
unsigned long graft_shim_site_hash(unsigned long ip, unsigned long omask)
{
	return graft_row_off(ip, omask) >> GRAFT_ROW_SHIFT;
}

/* A table's `omask` for `rows` rows (a power of two). */
unsigned long graft_shim_site_omask(unsigned long rows)
{
	return (rows - 1) << GRAFT_ROW_SHIFT;
}

/*
 * The redirect: the kernel's ftrace_regs_set_instruction_pointer(), as
 * upstream's klp_ftrace_handler(), unless the arch's header defines
 * graft_arch_redirect() (s390: graft_arch.h says why).
 */
#ifndef graft_arch_redirect
#define graft_arch_redirect ftrace_regs_set_instruction_pointer
#endif

/*
 * A row whose two targets differ (a transition runs): the current task's
 * state decides (view.rs graft_rs_target).
 */
#ifdef graft_arch_direct_slot
static void graft_direct_overrule(unsigned long ip, struct ftrace_regs *fregs);
#else
static __always_inline void graft_direct_overrule(unsigned long ip, struct ftrace_regs *fregs) { }
#endif

static void notrace __cold noinline graft_ftrace_split(unsigned long ip, unsigned long off,
							const struct graft_view_head *v,
							struct ftrace_regs *fregs, int bit)
{
	unsigned long target = graft_rs_target(v, graft_row_at(v, off));

	/* a handed-back site: its direct call, still registered, is overruled */
	graft_direct_overrule(ip, fregs);
	if (target)
		graft_arch_redirect(fregs, target);
	ftrace_test_recursion_unlock(bit);
}

/* Where a call of site `ip`, row `off` of view `v`, goes; ends the handler (unlocks). */
static __always_inline void graft_ftrace_row(unsigned long ip, unsigned long off, const struct graft_view_head *v,
					     struct ftrace_regs *fregs, int bit)
{
	unsigned long both = graft_row_at(v, off)->both;

	/* 0: the original; GRAFT_ROW_SPLIT: per task; else the version */
	if (likely(both > GRAFT_ROW_SPLIT)) {
		graft_arch_redirect(fregs, both);
	} else if (both == GRAFT_ROW_SPLIT) {
		graft_ftrace_split(ip, off, v, fregs, bit);
		return;
	}
	ftrace_test_recursion_unlock(bit);
}
/*
 * Site `ip` is not in the row its probe starts at (`off`): the rest of the
 * probe (graft_row_step()), then as the handler.
 */
static void notrace __cold noinline graft_ftrace_probe(unsigned long ip, unsigned long off,
							const struct graft_view_head *v,
							struct ftrace_regs *fregs, int bit)
{
	unsigned long step = graft_row_step(ip, v->omask);

	while (graft_row_at(v, off)->ip != ip) {
		if (!graft_row_at(v, off)->ip) {
			ftrace_test_recursion_unlock(bit);
			return;
		}
		off = (off + step) & v->omask;
	}
	graft_ftrace_row(ip, off, v, fregs, bit);
}

/*
 * The handler.  Its common path, the site in the row its probe starts
 * at, is an AND, three loads and a store; the ways out of it that call (the rest
 * of a probe, a split row) end the handler, so no register lives across a
 * call and the common path saves none (a longer inline probe made the
 * compiler save two).  `flatten` inlines what the kernel's inline helpers
 * call (powerpc's redirect calls set_return_regs_changed()), as they are
 * inlined into klp_ftrace_handler().
 */
static void notrace __attribute__((flatten)) graft_ftrace_handler(unsigned long ip, unsigned long parent_ip,
								   struct ftrace_ops *ops,
								   struct ftrace_regs *fregs)
{
	const struct graft_view_head *v;
	unsigned long off;
	int bit = ftrace_test_recursion_trylock(ip, parent_ip);

	if (WARN_ON_ONCE(bit < 0))
		return;
	v = rcu_dereference_raw(container_of(ops, struct graft_ops, ops)->view);
	off = graft_row_off(ip, v->omask);
	if (unlikely(graft_row_at(v, off)->ip != ip)) {
		graft_ftrace_probe(ip, off, v, fregs, bit);
		return;
	}
	graft_ftrace_row(ip, off, v, fregs, bit);
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
	 * prologue) the frame pointer is still the caller's; the stack
	 * pointer is where the call left it (x86_64: at the return address
	 * into the caller; arm64: the caller's, the return address being in
	 * x9): the backend's TaskStacks::hook_caller_regs() knows which.
	 */
	graft_rs_idle(raw_smp_processor_id(), parent_ip, ftrace_regs_get_stack_pointer(fregs),
		      ftrace_regs_get_frame_pointer(fregs));
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops graft_idle_ops = { .func = graft_idle_handler };
static unsigned long graft_idle_ip;

/* The name of the function the idle hook traces (graft_arch.h). */
const char *graft_shim_idle_hook_name(void)
{
	return GRAFT_IDLE_HOOK;
}

/*
 * Register the idle hook on `ip` (the start of GRAFT_IDLE_HOOK's symbol,
 * which the Rust side resolves from /proc/kallsyms; ftrace_location() maps
 * a symbol's start to its site) or unregister it (`ip` 0); idempotent.
 */
int graft_shim_idle_hook(unsigned long ip)
{
	int err;

	if (ip == graft_idle_ip)
		return 0;
	if (graft_idle_ip) {
		/* waits for handlers in flight */
		WARN_ON(unregister_ftrace_function(&graft_idle_ops));
		ftrace_free_filter(&graft_idle_ops);
		graft_idle_ip = 0;
	}
	if (!ip)
		return 0;
	err = ftrace_set_filter_ip(&graft_idle_ops, ip, 0, 1);
	if (!err) {
		err = register_ftrace_function(&graft_idle_ops);
		if (err)
			ftrace_free_filter(&graft_idle_ops);
	}
	if (err) {
		pr_err("graft: idle tasks: cannot trace %s (%d): no transition can complete\n",
		       GRAFT_IDLE_HOOK, err);
		return err;
	}
	graft_idle_ip = ip;
	return 0;
}

/*
 * graft's one ftrace_ops for every patched function, with upstream klp's
 * flags (kernel/livepatch/patch.c).  Its filter holds the sites of every
 * function some enabled patch replaces; graft_shim_sites_add() and
 * graft_shim_sites_remove() change it in batches: one call per patch (or
 * module object), so the cost of enabling and disabling grows with the
 * patches, not with their functions.  Registering it is the first add,
 * unregistering the last remove (which waits for synchronize_rcu_tasks():
 * one wait when the last patched function goes, not one per function).  An
 * empty filter would trace every function, so the ops is never registered
 * without sites.  Serialised by the Rust side's GRAFT_MUTEX.
 */
static struct graft_ops graft_ops_view = {
	.ops = {
		.func = graft_ftrace_handler,
		.flags = FTRACE_OPS_FL_DYNAMIC |
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
			 FTRACE_OPS_FL_SAVE_REGS |
#endif
			 FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT,
	},
	.view = &graft_none_view,
};
#define graft_ops (graft_ops_view.ops)

/* view.rs's published-view pointer (read and written atomically only). */
struct graft_view_head **graft_shim_view_slot(void)
{
	return &graft_ops_view.view;
}
static unsigned long graft_ops_sites;
static bool graft_ops_on;
static unsigned int graft_ndirects;

/*
 * The anchor: a traceable function nobody calls (if it has an ftrace site:
 * graft_anchor_ok, tested at load), in graft's filter only while every
 * patched site is on the fast path (graft_anchor_in): it keeps the filter
 * non-empty, so that the ops stays registered while any direct call of
 * graft's exists.  (Only then: every entry of the filter costs the handler's
 * calls a longer lookup where ftrace calls the ops through its list
 * function, s390: 6 instructions per call for the second entry.)  ftrace
 * calls the newest ftrace_ops first
 * (add_ftrace_ops() in kernel/trace/ftrace.c), so graft's handler, older
 * than every direct call, runs after call_direct_funcs() on a site they
 * share and can overrule graft's own direct target there
 * (graft_direct_overrule()).
 */
static noinline void graft_ops_anchor(void)
{
	barrier();
}
static bool graft_anchor_ok;
static bool graft_anchor_in;

/* At load: whether the anchor has an ftrace site (its filter is then freed). */
void graft_shim_anchor_init(void)
{
	graft_anchor_ok = !ftrace_set_filter_ip(&graft_ops, (unsigned long)graft_ops_anchor, 0, 1);
	ftrace_free_filter(&graft_ops);
	if (!graft_anchor_ok)
		pr_info("graft: fast path: no ftrace site for the anchor: a handback waits for its direct call's unregistration\n");
}

/* Whether a handback may leave the direct call registered (fast.rs). */
bool graft_shim_fast_shared_ok(void)
{
#ifdef graft_arch_direct_slot
	return graft_anchor_ok;
#else
	return false;
#endif
}

static void graft_ops_off(void)
{
	WARN_ON(unregister_ftrace_function(&graft_ops));
	ftrace_free_filter(&graft_ops);
	graft_ops_on = false;
	graft_anchor_in = false;
}

/*
 * Add `n` sites (none in the filter yet) to graft's ops; all or none.
 * -EBUSY: another IPMODIFY user (livepatch, a kprobe with a post handler)
 * holds one of them (__ftrace_hash_update_ipmodify() in kernel/trace/ftrace.c).
 */
int graft_shim_sites_add(unsigned long *ips, unsigned int n)
{
	int err;

	if (!n)
		return 0;
	if (graft_ops_on) {
		err = ftrace_set_filter_ips(&graft_ops, ips, n, 0, 0);
	} else {
		err = ftrace_set_filter_ips(&graft_ops, ips, n, 0, 1);
		if (!err) {
			err = register_ftrace_function(&graft_ops);
			if (err)
				ftrace_free_filter(&graft_ops);
		}
		graft_ops_on = !err;
	}
	if (!err)
		graft_ops_sites += n;
	return err;
}

/*
 * Remove `n` sites (each in the filter); the last ones unregister the ops,
 * which waits for every handler call in flight, unless a direct call of
 * graft's is registered: the anchor then takes their place.  Without it
 * (no memory), from then on handbacks unregister at once.
 */
void graft_shim_sites_remove(unsigned long *ips, unsigned int n)
{
	if (!n || WARN_ON(n > graft_ops_sites))
		return;
	if (n == graft_ops_sites && graft_ndirects && graft_anchor_ok && !graft_anchor_in) {
		graft_anchor_in = !ftrace_set_filter_ip(&graft_ops, (unsigned long)graft_ops_anchor, 0, 0);
		graft_anchor_ok = graft_anchor_in;
	}
	if (n == graft_ops_sites && !graft_anchor_in)
		graft_ops_off();
	else
		WARN_ON(ftrace_set_filter_ips(&graft_ops, ips, n, 1, 0));
	graft_ops_sites -= n;
}

/*
 * The fast path (docs/ARCHITECTURE.md, "The fast path"; fast.rs drives
 * it): once a transition is over and a site has one version for every
 * task, an ftrace direct call of its own (register_ftrace_direct(), one
 * ftrace_ops per site since each has its own target) sends every call
 * there, and the site leaves graft's ops above.  The two overlap at each
 * handover, in both directions, and agree while they do: the direct call is
 * registered (or unregistered) only while the view's row gives the handler
 * the same version.  A site with both goes through ftrace's list of ops
 * (ftrace_regs_caller): the handler stores the version as the saved ip,
 * call_direct_funcs() stores the direct target in orig_ax, and x86_64's
 * ftrace_regs_caller jumps to that target in jump mode (ftrace_64.S), so
 * the call runs the same version either way.
 *
 * The ops_func sharing protocol (include/linux/ftrace.h): registering the
 * direct call over graft's own IPMODIFY ops asks SHARE_IPMODIFY_SELF,
 * which is safe for the reason above; another IP-modifying user arriving on
 * the site (upstream livepatch, a kprobe with a post handler) asks
 * SHARE_IPMODIFY_PEER, and is refused with -EBUSY as graft's ops refuses
 * it on a site in a transition: its change of the ip would be overridden
 * by the jump, silently.  graft's own ops coming back is the one peer
 * accepted (`back`, set under GRAFT_MUTEX while fast.rs moves the site
 * back).
 */
struct graft_direct {
	struct ftrace_ops ops;
	unsigned long ip;
	unsigned long addr;
	bool back;
	/* in graft_directs (RCU: graft_direct_overrule() reads it) */
	struct list_head node;
};
static LIST_HEAD(graft_directs);

#ifdef graft_arch_direct_slot
/*
 * A site both graft's ops and a direct call of graft's hold, after a
 * handback that left the direct call registered (fast.rs: its
 * unregistration waits for an RCU-tasks grace period, which must not delay
 * the transition that follows): call_direct_funcs() ran first and put the
 * direct target in the arch's slot; graft's handler clears it if it is
 * graft's own direct call for this site, so that the view decides (the row
 * of such a site is always split, so only this cold path needs the check).
 * A BPF trampoline sharing the site keeps its target.  Preemption is
 * disabled (the recursion lock): an RCU reader.
 */
static void notrace graft_direct_overrule(unsigned long ip, struct ftrace_regs *fregs)
{
	unsigned long *slot = graft_arch_direct_slot(fregs);
	unsigned long d = READ_ONCE(*slot);
	struct graft_direct *g;

	if (!d)
		return;
	list_for_each_entry_rcu(g, &graft_directs, node) {
		if (g->ip == ip && g->addr == d) {
			WRITE_ONCE(*slot, 0);
			return;
		}
	}
}
#endif

static int graft_direct_ops_func(struct ftrace_ops *op, unsigned long ip, enum ftrace_ops_cmd cmd)
{
	struct graft_direct *d = container_of(op, struct graft_direct, ops);

	switch (cmd) {
	case FTRACE_OPS_CMD_ENABLE_SHARE_IPMODIFY_SELF:
		return 0;
	case FTRACE_OPS_CMD_ENABLE_SHARE_IPMODIFY_PEER:
		if (READ_ONCE(d->back))
			return 0;
		pr_warn_ratelimited("graft: %ps is on graft's fast path: another IP-modifying ftrace user is refused (-EBUSY)\n",
				    (void *)ip);
		return -EBUSY;
	default:
		return 0;
	}
}

/* Direct call at `ip` to `addr` (the backend's Direct::addr); NULL and *err on failure. */
struct graft_direct *graft_shim_direct_on(unsigned long ip, unsigned long addr, int *err)
{
	struct graft_direct *d;

	if (!IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)) {
		*err = -ENODEV;
		return NULL;
	}
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d) {
		*err = -ENOMEM;
		return NULL;
	}
	d->ops.ops_func = graft_direct_ops_func;
	d->addr = addr;
	d->ip = ip;
	*err = ftrace_set_filter_ip(&d->ops, ip, 0, 1);
	if (!*err)
		*err = register_ftrace_direct(&d->ops, addr);
	if (*err) {
		ftrace_free_filter(&d->ops);
		kfree(d);
		return NULL;
	}
	list_add_rcu(&d->node, &graft_directs);
	graft_ndirects++;
	return d;
}

/* Mark `d`'s site as moving back to graft's ops (or not). */
void graft_shim_direct_back(struct graft_direct *d, bool back)
{
	WRITE_ONCE(d->back, back);
}

/*
 * Unregister and free `d`; unregistering waits until no call is on its way
 * through it (ftrace_shutdown(): synchronize_rcu_tasks()).
 */
void graft_shim_direct_off(struct graft_direct *d)
{
	WARN_ON(unregister_ftrace_direct(&d->ops, d->addr, true));
	list_del_rcu(&d->node);
	graft_ndirects--;
	/* no handler's graft_direct_overrule() still reads it */
	synchronize_rcu();
	kfree(d);
	/* the anchor held the ops for the direct calls: no longer needed */
	if (!graft_ndirects && graft_ops_on && graft_anchor_in) {
		if (!graft_ops_sites) {
			graft_ops_off();
		} else {
			WARN_ON(ftrace_set_filter_ip(&graft_ops, (unsigned long)graft_ops_anchor, 1, 0));
			graft_anchor_in = false;
		}
	}
}

/*
 * graft.fast: the fast path for every patch (1, the default) or none (0),
 * at load (insmod graft.ko fast=0) or at any time through
 * /sys/module/graft/parameters/fast; each patch's own switch is
 * /sys/kernel/graft/<patch>/fast.  A write returns once every site is on
 * the path it asks for (fast.rs graft_rs_fast_work()).
 */
static bool graft_fast = true;
static bool graft_fast_ready;
static void graft_fast_fn(struct work_struct *w) { graft_rs_fast_work(); }
static DECLARE_WORK(graft_fast_work, graft_fast_fn);

bool graft_shim_fast_param(void) { return READ_ONCE(graft_fast); }

/* Hand settled sites over (or back) from graft_wq, after the caller's GRAFT_MUTEX. */
void graft_shim_fast_kick(void)
{
	if (READ_ONCE(graft_fast_ready))
		queue_work(graft_wq, &graft_fast_work);
}
void graft_shim_fast_ready(bool ready)
{
	WRITE_ONCE(graft_fast_ready, ready);
	if (!ready)
		cancel_work_sync(&graft_fast_work);
}

static int graft_fast_set(const char *val, const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	if (err) {
		pr_err_ratelimited("graft: fast: not a boolean, write refused\n");
		return err;
	}
	if (READ_ONCE(graft_fast_ready)) {
		queue_work(graft_wq, &graft_fast_work);
		flush_work(&graft_fast_work);
	}
	return 0;
}
static const struct kernel_param_ops graft_fast_ops = {
	.set = graft_fast_set,
	.get = param_get_bool,
};
module_param_cb(fast, &graft_fast_ops, &graft_fast, 0644);
MODULE_PARM_DESC(fast, "send settled patched functions straight to their replacement through an ftrace direct call (default 1)");

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
	/*
	 * On graft_wq, as the passes (shim.c): under load a nice-0 worker
	 * waited tens of milliseconds for a CPU, and until the probe is in,
	 * a busy task preempted in the kernel (an exception frame, which no
	 * reliable unwinder walks) cannot switch.  Queued before the first
	 * pass (start_passes()).
	 */
	queue_work(graft_wq, &graft_sys_exit_work);
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
