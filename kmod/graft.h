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

struct graft_func_desc {
	const char *old_name;	/* function to replace (vmlinux) */
	void *new_func;		/* its replacement */
};

struct graft_patch_desc {
	const char *name;	/* /sys/kernel/graft/<name> */
	const char *object;	/* NULL: vmlinux (modules: not yet) */
	const struct graft_func_desc *funcs;
	unsigned int nfuncs;
	bool replace;		/* atomic replace: a cumulative patch that
				 * replaces every enabled patch */
};

int graft_register_patch(const struct graft_patch_desc *desc, struct module *owner);
int graft_unregister_patch(const struct graft_patch_desc *desc);

/* shim <-> engine.rs */
#define GRAFT_TASK_RUNNING 0
#define GRAFT_TASK_DEAD 1
#define GRAFT_TASK_COPIED 2
#define GRAFT_ATTR_ENABLED 0
#define GRAFT_ATTR_TRANSITION 1
#define GRAFT_ATTR_REPLACE 2
#define GRAFT_ATTR_STACK_ORDER 3
#define GRAFT_ATTR_PATCHED 4
#define GRAFT_ATTR_FORCE 5

#endif
