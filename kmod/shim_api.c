// SPDX-License-Identifier: GPL-2.0
/* The entry points graft.ko exports to patch modules (graft.h). */
#include "shim_internal.h"

/* The patch modules' entry points (graft.h). */
static int graft_enable_fn(void *desc)
{
	return graft_rs_enable_new(desc);
}

int graft_register_patch(const struct graft_patch_desc *desc, struct module *owner)
{
	/*
	 * The registration in the caller's context, not graft_call_highpri():
	 * resolving a module object reads /proc/kallsyms (objects.rs), which a
	 * kworker cannot open (its root is not the caller's: -ENOENT).  The
	 * enable (ftrace, the task snapshot, the transition's start) on the
	 * high-priority worker, as a write of `enabled` (shim.c says why).
	 */
	int err = graft_rs_register(desc, owner);

	return err ?: graft_call_highpri(graft_enable_fn, (void *)desc);
}
EXPORT_SYMBOL_GPL(graft_register_patch);

int graft_unregister_patch(const struct graft_patch_desc *desc)
{
	return graft_rs_unregister(desc);
}
EXPORT_SYMBOL_GPL(graft_unregister_patch);

/* System states (graft.h; states.rs): upstream's klp_get_state() and
 * klp_get_prev_state(). */
struct graft_state *graft_get_state(const struct graft_patch_desc *desc, unsigned long id)
{
	return graft_rs_get_state(desc, id);
}
EXPORT_SYMBOL_GPL(graft_get_state);

struct graft_state *graft_get_prev_state(unsigned long id)
{
	return graft_rs_get_prev_state(id);
}
EXPORT_SYMBOL_GPL(graft_get_prev_state);

/*
 * Shadow variables (graft.h): the logic is shadow.rs's, the lock and the
 * allocation wrapper are shim.c's; these are the exported entry points.
 */
void *graft_rs_shadow_get(void *obj, unsigned long id);
void *graft_rs_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				   graft_shadow_ctor_t ctor, void *ctor_data, bool fail_if_exists);
void graft_rs_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor);
void graft_rs_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor);

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

