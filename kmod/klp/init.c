// SPDX-License-Identifier: GPL-2.0
/*
 * graft's init for a patch module built by upstream's klp-build
 * (scripts/livepatch/klp-build), in place of scripts/livepatch/init.c:
 * `make patch` (qemu-images/make-patch.sh) copies it there in its own copy
 * of the kernel tree, and graft.h to include/linux/graft.h.
 *
 * klp-build links the changed functions with this file into an ordinary
 * module whose .init.klp_objects / .init.klp_funcs sections describe them
 * (struct klp_object_ext / klp_func_ext, include/linux/livepatch_external.h)
 * and whose references to unexported symbols are .klp.rela.<object>.<section>
 * relocations.  This init copies the description out of the init sections
 * into static tables (graft refuses a description outside the module's
 * data) and registers it with graft_register_patch(): one graft object per
 * klp object, one function per klp function with its sympos, the
 * callbacks through thunks (graft passes its object, a klp callback wants a
 * struct klp_object: one per object, with its name), replace unless
 * klp-build was given --no-replace, and each function's pre-image, which
 * graft.ko checks against the running kernel's code.
 *
 * The module loader applies a livepatch module's .klp.rela.vmlinux.*
 * relocations when it loads it (kernel/module/main.c apply_relocations(),
 * klp_apply_section_relocs() with no object name); those against a
 * module's symbols only klp_enable_patch() applies
 * (kernel/livepatch/core.c klp_apply_object_relocs()), which graft does not
 * call.  So a patch with any of those is refused here, before anything
 * runs with a reference left zero.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/livepatch_external.h>
#include <linux/module.h>
#include <linux/string.h>
#include <generated/utsrelease.h>
#include <linux/graft.h>

#ifndef CONFIG_LIVEPATCH
#error "a klp-build patch module needs CONFIG_LIVEPATCH (the loader applies its relocations)"
#endif

/*
 * The pre-image of each function the patch replaces (graft.h struct
 * graft_preimage): make-patch.sh computes them from klp-build's original
 * build (graft-inspect preimage) and puts graft_klp_preimages[] in place
 * of the marker below in the copy klp-build compiles.  graft.ko compares
 * each with the running kernel's code before patching.  A function with
 * none is refused: this init is for modules `make patch` made.
 */
struct graft_klp_preimage {
	const char *object;		/* NULL: vmlinux */
	const char *name;
	unsigned long sympos;
	const struct graft_preimage *pre;
};

/* @GRAFT_KLP_PREIMAGES@ */

/* How much one patch may carry: more is refused at load, with a line. */
#define GRAFT_KLP_MAX_OBJS 16
#define GRAFT_KLP_MAX_FUNCS 256
#define GRAFT_KLP_NAME_BYTES (32 * 1024)

static struct graft_object_desc graft_klp_objs[GRAFT_KLP_MAX_OBJS];
static struct graft_func_desc graft_klp_funcs[GRAFT_KLP_MAX_FUNCS];
static char graft_klp_names[GRAFT_KLP_NAME_BYTES];
static size_t graft_klp_names_used;

/* What each object's klp callbacks are handed, and the callbacks. */
static struct klp_object graft_klp_cb_objs[GRAFT_KLP_MAX_OBJS];
static struct klp_callbacks graft_klp_cbs[GRAFT_KLP_MAX_OBJS];

static struct graft_patch_desc graft_klp_desc = {
	.abi_version = GRAFT_ABI_VERSION,
	.size = sizeof(struct graft_patch_desc),
	.name = KBUILD_MODNAME,
	.kernel_release = UTS_RELEASE,
	.objs = graft_klp_objs,
#ifdef KLP_NO_REPLACE
	.replace = false,
#else
	.replace = true,
#endif
};

static unsigned int graft_klp_index(const struct graft_object_desc *obj)
{
	return obj - graft_klp_objs;
}

static int graft_klp_pre_patch(const struct graft_object_desc *obj)
{
	unsigned int i = graft_klp_index(obj);

	return graft_klp_cbs[i].pre_patch(&graft_klp_cb_objs[i]);
}

static void graft_klp_post_patch(const struct graft_object_desc *obj)
{
	unsigned int i = graft_klp_index(obj);

	graft_klp_cbs[i].post_patch(&graft_klp_cb_objs[i]);
}

static void graft_klp_pre_unpatch(const struct graft_object_desc *obj)
{
	unsigned int i = graft_klp_index(obj);

	graft_klp_cbs[i].pre_unpatch(&graft_klp_cb_objs[i]);
}

static void graft_klp_post_unpatch(const struct graft_object_desc *obj)
{
	unsigned int i = graft_klp_index(obj);

	graft_klp_cbs[i].post_unpatch(&graft_klp_cb_objs[i]);
}

/* A copy of `s` in graft_klp_names (which outlives the init sections), or NULL. */
static const char *graft_klp_name(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strnlen(s, KSYM_NAME_LEN);
	if (n == KSYM_NAME_LEN || n + 1 > GRAFT_KLP_NAME_BYTES - graft_klp_names_used)
		return NULL;
	p = graft_klp_names + graft_klp_names_used;
	memcpy(p, s, n + 1);
	graft_klp_names_used += n + 1;
	return p;
}

/*
 * Refuse relocations no one will apply: a .klp.rela.<object>.<section>
 * section of an object other than vmlinux.  The section headers are the
 * copy the loader keeps for a livepatch module (mod->klp_info,
 * kernel/module/livepatch.c copy_module_elf()), as
 * klp_find_section_by_name() reads them.
 */
static int graft_klp_check_relocs(void)
{
	const struct klp_modinfo *info = THIS_MODULE->klp_info;
	static const char prefix[] = KLP_RELOC_SEC_PREFIX "vmlinux.";

	if (!info) {
		pr_err("no ELF information kept for this module (is it MODULE_INFO(livepatch)?): refused\n");
		return -EINVAL;
	}
	for (unsigned int i = 1; i < info->hdr.e_shnum; i++) {
		const char *name = info->secstrings + info->sechdrs[i].sh_name;

		if (strncmp(name, KLP_RELOC_SEC_PREFIX, strlen(KLP_RELOC_SEC_PREFIX)))
			continue;
		if (!strncmp(name, prefix, strlen(prefix)))
			continue;
		pr_err("%s: relocations against a module's symbols, which only upstream's klp_enable_patch() applies; graft does not apply them yet: refused\n",
		       name);
		return -EINVAL;
	}
	return 0;
}

/* The pre-image of `name` (sympos `sympos`) in object `obj` (NULL: vmlinux). */
static const struct graft_preimage *graft_klp_preimage(const char *obj, const char *name,
						       unsigned long sympos)
{
	for (size_t i = 0; i < ARRAY_SIZE(graft_klp_preimages); i++) {
		const struct graft_klp_preimage *p = &graft_klp_preimages[i];

		const char *o = p->object;

		if (o && obj ? strcmp(o, obj) : o != obj)
			continue;
		if (!strcmp(p->name, name) && p->sympos == sympos)
			return p->pre;
	}
	return NULL;
}

static int __init graft_klp_init(void)
{
	const struct klp_object_ext *obj_exts;
	size_t size, nfuncs = 0;
	unsigned int nobjs;
	int err;

	err = graft_klp_check_relocs();
	if (err)
		return err;
	obj_exts = klp_find_section_by_name(THIS_MODULE, ".init.klp_objects", &size);
	nobjs = size / sizeof(*obj_exts);
	if (!obj_exts || !nobjs) {
		pr_err("no .init.klp_objects: nothing to patch\n");
		return -EINVAL;
	}
	if (nobjs > GRAFT_KLP_MAX_OBJS) {
		pr_err("%u objects, at most %d: refused\n", nobjs, GRAFT_KLP_MAX_OBJS);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < nobjs; i++) {
		const struct klp_object_ext *ext = &obj_exts[i];
		struct graft_object_desc *obj = &graft_klp_objs[i];
		const struct klp_callbacks *cb = &ext->callbacks;

		if (ext->nr_funcs > GRAFT_KLP_MAX_FUNCS - nfuncs) {
			pr_err("more than %d functions: refused\n", GRAFT_KLP_MAX_FUNCS);
			return -E2BIG;
		}
		/* klp names vmlinux NULL or "vmlinux"; graft NULL */
		if (ext->name && strcmp(ext->name, "vmlinux")) {
			obj->name = graft_klp_name(ext->name);
			if (!obj->name)
				goto names;
		}
		obj->funcs = &graft_klp_funcs[nfuncs];
		obj->nfuncs = ext->nr_funcs;
		for (unsigned int j = 0; j < ext->nr_funcs; j++) {
			struct graft_func_desc *f = &graft_klp_funcs[nfuncs + j];

			f->old_name = graft_klp_name(ext->funcs[j].old_name);
			if (!f->old_name)
				goto names;
			f->new_func = ext->funcs[j].new_func;
			f->old_sympos = ext->funcs[j].sympos;
			f->preimage = graft_klp_preimage(obj->name, f->old_name, f->old_sympos);
			if (!f->preimage) {
				pr_err("%s: no pre-image (a module made by make patch has one for each function): refused\n",
				       f->old_name);
				return -EINVAL;
			}
		}
		nfuncs += ext->nr_funcs;
		graft_klp_cb_objs[i].name = obj->name;
		graft_klp_cbs[i] = *cb;
		obj->callbacks = (struct graft_callbacks) {
			.pre_patch = cb->pre_patch ? graft_klp_pre_patch : NULL,
			.post_patch = cb->post_patch ? graft_klp_post_patch : NULL,
			.pre_unpatch = cb->pre_unpatch ? graft_klp_pre_unpatch : NULL,
			.post_unpatch = cb->post_unpatch ? graft_klp_post_unpatch : NULL,
		};
	}
	graft_klp_desc.nobjs = nobjs;
	return graft_register_patch(&graft_klp_desc, THIS_MODULE);
names:
	pr_err("a name is too long, or the names exceed %d bytes: refused\n", GRAFT_KLP_NAME_BYTES);
	return -E2BIG;
}

static void __exit graft_klp_exit(void)
{
	graft_unregister_patch(&graft_klp_desc);
}

module_init(graft_klp_init);
module_exit(graft_klp_exit);
MODULE_LICENSE("GPL");
/* the loader applies .klp.rela.vmlinux.* and keeps klp_info only for these */
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("graft live patch built by klp-build");
