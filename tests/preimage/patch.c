// SPDX-License-Identifier: GPL-2.0
// A klp-build patch object's description (include/linux/livepatch_external.h
// on a 64-bit arch), for inspect/tests/preimage.rs: one vmlinux object,
// replacing `target`.
struct klp_func_ext {
	const char *old_name;
	void *new_func;
	unsigned long sympos;
};

struct klp_callbacks {
	void *pre_patch, *post_patch, *pre_unpatch, *post_unpatch;
	_Bool post_unpatch_enabled;
};

struct klp_object_ext {
	const char *name;
	struct klp_func_ext *funcs;
	struct klp_callbacks callbacks;
	unsigned int nr_funcs;
};

_Static_assert(sizeof(struct klp_object_ext) == 64, "klp_object_ext");
_Static_assert(sizeof(struct klp_func_ext) == 24, "klp_func_ext");

int target_new(int x)
{
	return x;
}

__attribute__((section(".init.klp_funcs"))) struct klp_func_ext funcs[] = {
	{ "target", target_new, 0 },
};

__attribute__((section(".init.klp_objects"))) struct klp_object_ext objs[] = {
	{ "vmlinux", funcs, { 0 }, 1 },
};
