/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What graft.ko's C files share: the kernel headers they use and the
 * prototypes of the shim's entry points (called from Rust, declared once
 * in Rust in ffi.rs) and of the Rust functions the C side calls
 * (engine.rs, view.rs, objects.rs, shadow.rs, states.rs), for
 * -Wmissing-prototypes.
 *
 * The C is split by why it is C:
 *   shim.c        wrappers of macros, inlines and static kernel objects
 *                 (tasks and their stacks, RCU, timers and work, files)
 *   shim_hooks.c  the notrace ftrace, idle-loop and sys_exit handlers and
 *                 their ftrace/tracepoint/notifier setup
 *   shim_sysfs.c  the sysfs attribute tables
 *   shim_api.c    the entry points exported to patch modules (graft.h)
 */
#ifndef GRAFT_SHIM_INTERNAL_H
#define GRAFT_SHIM_INTERNAL_H

#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/uio.h>
#include <linux/completion.h>
#include <linux/ftrace.h>
#include <linux/hrtimer.h>
#include <linux/kobject.h>
#include <linux/hash.h>
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

/*
 * What an arch's graft_arch.h may leave out:
 *   GRAFT_ARCH_STACK_TOP_PADDING  bytes the kernel keeps unused above a
 *                                 task's pt_regs at the top of its stack
 *                                 (x86_64: TOP_OF_KERNEL_STACK_PADDING)
 *   graft_arch_module_unwind()    with GRAFT_ARCH_MODULE_UNWIND: a module's
 *                                 unwind table, where the arch's reliable
 *                                 walk reads tables (x86_64 with ORC)
 *   graft_arch_direct_slot()      where a direct call's target waits in
 *                                 ftrace_regs (x86_64, s390: arches with a
 *                                 fast path), so the handler can overrule
 *                                 graft's own on a handed-back site
 */
#ifndef GRAFT_ARCH_STACK_TOP_PADDING
#define GRAFT_ARCH_STACK_TOP_PADDING 0
#endif

/* Called from engine.rs (declared here for -Wmissing-prototypes). */
void graft_shim_synchronize(void);
int graft_shim_sched_init(void);
extern struct workqueue_struct *graft_wq;
void graft_shim_sched_exit(void);
struct task_struct *graft_shim_current(void);
int graft_shim_idle_cpu(void);
unsigned int graft_shim_nr_cpus(void);
bool graft_shim_cpu_online(unsigned int cpu);
void graft_shim_kick_cpu(unsigned int cpu);
int graft_shim_idle_hook(unsigned long ip);
const char *graft_shim_idle_hook_name(void);
struct task_struct *graft_shim_boot_idle(unsigned int *cpu);
int graft_shim_sites_add(unsigned long *ips, unsigned int n);
void graft_shim_sites_remove(unsigned long *ips, unsigned int n);
struct graft_direct;
struct graft_direct *graft_shim_direct_on(unsigned long ip, unsigned long addr, int *err);
void graft_shim_direct_back(struct graft_direct *d, bool back);
void graft_shim_direct_off(struct graft_direct *d);
void graft_shim_anchor_init(void);
bool graft_shim_fast_shared_ok(void);
bool graft_shim_fast_param(void);
void graft_shim_fast_kick(void);
void graft_shim_fast_ready(bool ready);
unsigned long graft_shim_site_hash(unsigned long ip, unsigned long omask);
unsigned long graft_shim_site_omask(unsigned long rows);
unsigned long graft_shim_site_step(unsigned long ip, unsigned long omask);
void graft_shim_taint(void);
bool graft_shim_module_get(struct module *m);
void graft_shim_module_put(struct module *m);
bool graft_shim_module_self(const struct module *mod);
int graft_shim_module_mem(const struct module *mod, unsigned long addr, unsigned long *left);
int graft_shim_set_modules(unsigned long head);
bool graft_shim_module_unwind(unsigned long ip, struct graft_unwind_table *t);
const char *graft_shim_module_name(const struct module *mod);
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
int graft_call_highpri(int (*fn)(void *arg), void *arg);

/* engine.rs */
unsigned long graft_rs_target(const struct graft_view_head *v, const struct graft_site_row *row);
struct graft_view_head **graft_shim_view_slot(void);
void graft_rs_idle(unsigned long cpu, unsigned long parent_ip, unsigned long sp, unsigned long fp);
void graft_rs_work(void);
ssize_t graft_rs_show(const char *patch, int attr, char *buf);
ssize_t graft_rs_stragglers(const char *patch, char *buf);
int graft_rs_store(const char *patch, int attr, bool val);
int graft_rs_register(const struct graft_patch_desc *desc, struct module *owner);
int graft_rs_enable_new(const struct graft_patch_desc *desc);
int graft_rs_unregister(const struct graft_patch_desc *desc);
ssize_t graft_rs_show_obj(const char *patch, const char *obj, int attr, char *buf);
struct graft_state *graft_rs_get_state(const struct graft_patch_desc *desc, unsigned long id);
struct graft_state *graft_rs_get_prev_state(unsigned long id);
int graft_rs_module_event(const char *name, bool going);
void graft_rs_fast_work(void);

#endif
