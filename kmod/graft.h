/* SPDX-License-Identifier: GPL-2.0 */
/*
 * graft's patch-module ABI: a patch module describes its patch with these
 * #[repr(C)] structures (mirrored in engine.rs and samples/graft_abi.rs) and calls
 * graft_register_patch() from its init, graft_unregister_patch() from its
 * exit.  Registration enables the patch; graft holds a reference on the
 * owner module while the patch is enabled, so it cannot unload.
 */
#ifndef GRAFT_H
#define GRAFT_H

/*
 * Version of this ABI: a patch module built against another layout is
 * refused with a clear error instead of being misread.  Version 2 added
 * objects, callbacks, old_sympos, kernel_release and the version/size
 * header; version 3 added system states (states, nstates); version 4 the
 * functions' pre-images (preimage).  graft.ko
 * speaks only its own version: a patch module built against an older
 * graft.h is refused with a line naming both, and must be rebuilt.
 */
#define GRAFT_ABI_VERSION 4

#ifdef __KERNEL__
#include <linux/types.h>
#endif

/*
 * The largest old_sympos graft accepts: a position among the symbols of
 * one name in one object, which is small; anything larger is a mistake.
 */
#define GRAFT_MAX_SYMPOS 65535

/*
 * A description is a static of its patch module (graft_register_patch()'s
 * owner), not in its init memory, and does not change while registered:
 * graft refuses one whose arrays or strings lie anywhere else or whose
 * functions are not in the module's text (docs/ARCHITECTURE.md lists
 * every rule).
 */
/*
 * A function's pre-image: what it looked like in the build the patch was
 * made from (`make patch` writes them, graft-inspect's `preimage`).
 * graft reads `size` bytes of the running function (its symbol's start,
 * with copy_from_kernel_nofault()), reads the bytes under the masks as
 * zero, and compares FNV-1a 64 of them with `hash`
 * (graft-core's preimage::hash()).  A mismatch refuses the patch, naming
 * the function: it was made from another source or configuration than
 * the kernel runs.  When the function's name is ambiguous, the copy whose
 * code matches is the one patched, whatever old_sympos says.
 *
 * The masks cover what the final link and the running kernel change:
 * relocated fields, the ftrace call, alternatives, static keys and calls,
 * return thunks; in order, apart, within `size`.
 */
struct graft_preimage_mask {
	unsigned int offset;		/* from the function's start */
	unsigned int len;		/* bytes, at least 1 */
};

struct graft_preimage {
	unsigned long size;		/* the function's size, bytes */
	unsigned long long hash;
	const struct graft_preimage_mask *masks;
	unsigned int nmasks;
};

struct graft_func_desc {
	const char *old_name;		/* function to replace */
	void *new_func;			/* its replacement, in the module's text */
	unsigned long old_sympos;	/* 0: the name must be unique in its
					 * object; N: the Nth symbol of that
					 * name (kallsyms order), as upstream
					 * klp_func.old_sympos; at most
					 * GRAFT_MAX_SYMPOS */
	const struct graft_preimage *preimage;	/* NULL: not checked */
};

struct graft_object_desc;

/*
 * Per-object callbacks, upstream's struct klp_callbacks
 * (Documentation/livepatch/callbacks.rst): pre_patch may refuse with an
 * errno, which cancels patching of the object (and of the patch when the
 * object is vmlinux or a loaded module).  Any may be NULL.
 */
struct graft_callbacks {
	int (*pre_patch)(const struct graft_object_desc *obj);
	void (*post_patch)(const struct graft_object_desc *obj);
	void (*pre_unpatch)(const struct graft_object_desc *obj);
	void (*post_unpatch)(const struct graft_object_desc *obj);
};

struct graft_object_desc {
	const char *name;		/* NULL: vmlinux; else a module's name,
					 * patched when (and whenever) it loads */
	const struct graft_func_desc *funcs;
	unsigned int nfuncs;
	struct graft_callbacks callbacks;
};

/*
 * A system state the patch changes, upstream's struct klp_state
 * (Documentation/livepatch/system-state.rst): when a callback or the new
 * code changes the system beyond the replaced functions (turns a
 * mitigation on, converts a data structure, attaches shadow variables),
 * the patch declares the change with an id and a version, so that a later
 * patch knows whether it must take it over, may keep it, or must not load:
 *
 * - graft refuses to enable a patch (-EINVAL, one dmesg line naming the
 *   state and the patch that holds it) when a replace patch would drop an
 *   installed state, or any patch would carry an installed state at a
 *   lower version (upstream's klp_is_patch_compatible());
 * - graft_get_state() finds the patch's own state, graft_get_prev_state()
 *   the state of the patches installed before the one in transition.
 *
 * graft reads id and version; data is the patch module's (its callbacks
 * allocate, take over and free what it points at): keep the array in
 * writable data when they set it.
 */
struct graft_state {
	unsigned long id;		/* non-zero, at most once per patch */
	unsigned int version;
	void *data;
};

struct graft_patch_desc {
	unsigned int abi_version;	/* GRAFT_ABI_VERSION */
	unsigned int size;		/* sizeof(struct graft_patch_desc) */
	const char *name;		/* /sys/kernel/graft/<name> */
	const char *kernel_release;	/* UTS_RELEASE the patch was built for
					 * (NULL: not checked) */
	const struct graft_object_desc *objs;
	unsigned int nobjs;
	bool replace;			/* atomic replace: a cumulative patch
					 * that replaces every enabled patch */
	struct graft_state *states;	/* the system states it changes:
					 * nstates of them, or NULL and 0 */
	unsigned int nstates;
};

/*
 * Shadow variables, upstream's klp_shadow_* API
 * (Documentation/livepatch/shadow-vars.rst), exported by graft.ko.
 */
#ifdef __KERNEL__
typedef int (*graft_shadow_ctor_t)(void *obj, void *shadow_data, void *ctor_data);
typedef void (*graft_shadow_dtor_t)(void *obj, void *shadow_data);
void *graft_shadow_get(void *obj, unsigned long id);
void *graft_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
			 graft_shadow_ctor_t ctor, void *ctor_data);
void *graft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				graft_shadow_ctor_t ctor, void *ctor_data);
void graft_shadow_free(void *obj, unsigned long id, graft_shadow_dtor_t dtor);
void graft_shadow_free_all(unsigned long id, graft_shadow_dtor_t dtor);
#endif

int graft_register_patch(const struct graft_patch_desc *desc, struct module *owner);
int graft_unregister_patch(const struct graft_patch_desc *desc);

/*
 * System states (upstream's klp_get_state() and klp_get_prev_state()).
 *
 * graft_get_state(): the state `id` of the patch `desc` (the caller's own
 * description), or NULL.  From callbacks and from the patch's new code.
 *
 * graft_get_prev_state(): the state `id` of the patches installed before
 * the transition that is starting, running, or whose callbacks run (for
 * an enable, every other enabled patch, the replaced ones included until
 * the new patch's post_patch has run; for a disable, every other enabled
 * patch), the latest registered winning; NULL when none has it, or outside
 * such a transition.  Typically from callbacks: a post_unpatch that finds
 * one is undoing a reversed transition, and hands the state back.
 */
struct graft_state *graft_get_state(const struct graft_patch_desc *desc, unsigned long id);
struct graft_state *graft_get_prev_state(unsigned long id);


#endif
