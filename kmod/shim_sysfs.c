// SPDX-License-Identifier: GPL-2.0
/* graft.ko's sysfs attribute tables (kobj_attribute is a macro world). */
#include "shim_internal.h"

/*
 * sysfs: /sys/kernel/graft/<patch>/{enabled,transition,force,replace,
 * stack_order} and <patch>/<object>/patched with upstream livepatch's modes
 * (Documentation/ABI/testing/sysfs-kernel-livepatch), and graft's own
 * read-only forced, progress, stragglers (root only), module,
 * kernel_release, states, <object>/functions and <object>/callbacks, and
 * the read-write fast (the patch's switch of the fast path).
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
/* the patch module's name, the kernel release it names, its system states */
GRAFT_SHOW(module, GRAFT_ATTR_MODULE)
GRAFT_SHOW(kernel_release, GRAFT_ATTR_KERNEL_RELEASE)
GRAFT_SHOW(states, GRAFT_ATTR_STATES)
/* the patch's own switch of the fast path (fast.rs), 1 unless written 0 */
GRAFT_SHOW(fast, GRAFT_ATTR_FAST)

/* <patch>/<object>/{patched,functions,callbacks} (objects.rs) */
#define GRAFT_SHOW_OBJ(attr, id)						\
static ssize_t attr##_show(struct kobject *k, struct kobj_attribute *a, char *buf)	\
{										\
	return graft_rs_show_obj(kobject_name(k->parent), kobject_name(k), id, buf);	\
}
GRAFT_SHOW_OBJ(patched, GRAFT_ATTR_PATCHED)
GRAFT_SHOW_OBJ(functions, GRAFT_ATTR_FUNCTIONS)
GRAFT_SHOW_OBJ(callbacks, GRAFT_ATTR_CALLBACKS)

/* The running transition's stragglers with their stacks (one page). */
static ssize_t stragglers_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return graft_rs_stragglers(kobject_name(k), buf);
}

/*
 * A write of `enabled` (which starts a transition) runs on
 * graft's high-priority workqueue while the writer sleeps
 * (graft_call_highpri(), shim.c).
 */
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
static ssize_t fast_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, a, GRAFT_ATTR_FAST, buf, n);
}
static ssize_t force_store(struct kobject *k, struct kobj_attribute *a, const char *buf, size_t n)
{
	return graft_store_bool(k, a, GRAFT_ATTR_FORCE, buf, n);
}
static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute transition_attr = __ATTR_RO(transition);
static struct kobj_attribute force_attr = __ATTR_WO(force);
static struct kobj_attribute fast_attr = __ATTR_RW(fast);
static struct kobj_attribute replace_attr = __ATTR_RO(replace);
static struct kobj_attribute stack_order_attr = __ATTR_RO(stack_order);
static struct kobj_attribute forced_attr = __ATTR_RO(forced);
static struct kobj_attribute progress_attr = __ATTR_RO(progress);
static struct kobj_attribute module_attr = __ATTR_RO(module);
static struct kobj_attribute kernel_release_attr = __ATTR_RO(kernel_release);
static struct kobj_attribute states_attr = __ATTR_RO(states);
static struct kobj_attribute patched_attr = __ATTR_RO(patched);
static struct kobj_attribute functions_attr = __ATTR_RO(functions);
static struct kobj_attribute callbacks_attr = __ATTR_RO(callbacks);
/* root only, as /proc/<pid>/stack: stack contents are not for everyone */
static struct kobj_attribute stragglers_attr = __ATTR(stragglers, 0400, stragglers_show, NULL);
static struct attribute *graft_attrs[] = {
	&enabled_attr.attr, &transition_attr.attr, &force_attr.attr,
	&replace_attr.attr, &stack_order_attr.attr, &forced_attr.attr,
	&progress_attr.attr, &stragglers_attr.attr, &module_attr.attr,
	&kernel_release_attr.attr, &states_attr.attr, &fast_attr.attr, NULL
};
static const struct attribute_group graft_group = { .attrs = graft_attrs };
static const struct attribute_group *graft_groups[] = { &graft_group, NULL };
static struct attribute *graft_obj_attrs[] = {
	&patched_attr.attr, &functions_attr.attr, &callbacks_attr.attr, NULL
};
static const struct attribute_group graft_obj_group = { .attrs = graft_obj_attrs };
static const struct attribute_group *graft_obj_groups[] = { &graft_obj_group, NULL };

int graft_shim_sysfs_init(void)
{
	graft_root = kobject_create_and_add("graft", kernel_kobj);
	return graft_root ? 0 : -ENOMEM;
}
void graft_shim_sysfs_exit(void) { kobject_put(graft_root); }

/* A directory under parent with attribute groups. */
static struct kobject *graft_dir(struct kobject *parent, const char *name, const struct attribute_group **groups,
				 int *err)
{
	struct kobject *k = kobject_create_and_add(name, parent);

	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = sysfs_create_groups(k, groups);
	if (*err) {
		kobject_put(k);
		return NULL;
	}
	return k;
}

struct kobject *graft_shim_patch_dir(const char *name, int *err)
{
	return graft_dir(graft_root, name, graft_groups, err);
}
void graft_shim_patch_dir_remove(struct kobject *k) { kobject_put(k); }

/* One <patch>/<object> directory ("vmlinux" or a module's name). */
struct kobject *graft_shim_obj_dir(struct kobject *parent, const char *name, int *err)
{
	return graft_dir(parent, name, graft_obj_groups, err);
}

