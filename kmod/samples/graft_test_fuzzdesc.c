// SPDX-License-Identifier: GPL-2.0
/*
 * graft's descriptor fuzz test (S11): graft_register_patch() must refuse
 * every malformed description with an errno and never fault on it.
 *
 * From a valid description in this module's own static memory, each of
 * `count` tries makes one random mutation of a fresh copy that leaves it
 * malformed (NULL, misaligned and garbage pointers, pointers to kmalloc'd
 * memory, to vmlinux, to this module's text, rodata or init memory, counts
 * past the end of their arrays, bad names, replacement functions and
 * callbacks outside this module's text, positions no object has,
 * duplicates, a wrong ABI version or size, a bool that is not one, an
 * owner that is not a module, system states that are misplaced, of id 0,
 * declared twice or miscounted) and registers it with THIS_MODULE.  Every
 * try must be refused with graft's validation errnos, -EINVAL or -EEXIST;
 * anything else counts as accepted, with a line naming the mutation, and
 * fails the test.  The mutations come from a PRNG (splitmix64) seeded with
 * `seed` (0: get_random_u32()), printed first and in the summary, so a run
 * can be replayed with seed=.
 *
 * It runs while another patch's transition is held (S11 holds
 * graft_test_sleeper_patch's), so a description that gets past validation
 * is refused right after it, by graft's one-transition-at-a-time check,
 * with -EBUSY, which validation never returns: an acceptance shows, and
 * nothing is resolved or patched.  (Its functions do not exist either:
 * graft_fz_absent_*.)  The unmutated base is registered first and must get
 * exactly that -EBUSY: proof that it passes validation, so the mutations
 * are what graft refuses.
 *
 *   graft_test_fuzzdesc: seed=S tried=N refused=N accepted=0 by_rule=...
 *
 * by_rule counts the refusals per kind of mutation.  With valid=1 it
 * registers instead the same description with cmdline_proc_show for its one
 * function, which stays enabled (S11 checks /proc/cmdline, disables it and
 * unloads the module).
 */
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <generated/utsrelease.h>
#include "../graft.h"

static unsigned int seed;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "PRNG seed (0: a random one); printed, so a run can be replayed");
static unsigned int count = 300;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "malformed descriptions to try");
static bool valid;
module_param(valid, bool, 0444);
MODULE_PARM_DESC(valid, "register the valid patch of cmdline_proc_show instead");

#define NO 3	/* objects: vmlinux and two modules */
#define NF 2	/* functions per object */
#define NS 2	/* system states */
#define LONG 600	/* room for a name past every bound (KSYM_NAME_LEN 512) */

/*
 * Everything graft reads, in one static of known layout.  Each functions
 * array, the objects array and the states array is followed by a zeroed
 * guard entry, so a count raised past its array reaches an entry that is
 * malformed itself (a function without a name, an object without
 * functions, a state of id 0) before any other valid one.
 */
static struct fz {
	struct graft_func_desc funcs[NO][NF + 1];
	struct graft_object_desc objs[NO + 1];
	struct graft_state states[NS + 1];
	struct graft_patch_desc patch;
	char pname[LONG];
	char mname[NO][LONG];
	char fname[NO][NF][LONG];
	char release[LONG];
} fz;

/* The valid patch's replacement of cmdline_proc_show(). */
static int fz_cmdline_show(struct seq_file *m, void *v)
{
	seq_puts(m, "this has been live patched by graft_test_fuzzdesc\n");
	return 0;
}
/* The absent functions' replacement (never called). */
static noinline int fz_new(void) { return 0; }
static int fz_pre(const struct graft_object_desc *obj) { return 0; }
static void fz_post(const struct graft_object_desc *obj) { }

static const char fz_rodata[] = "graft_fz_rodata";
/* Not a module: a zeroed struct module in this module's data. */
static struct module fz_notmodule;
/* A malformed description graft registered (and so holds), if any. */
static const struct graft_patch_desc *fz_held;
/*
 * Init memory: freed once init returns, so never a description's.  Where it
 * is freed is the kernel's choice: powerpc's module loader keeps every
 * .init section in the module's core memory (module_init_section() in
 * arch/powerpc/kernel/module_64.c returns false), where these statics live
 * as long as any other and a pointer to them is no malformation.
 * fz_init_freed says which: the kernel's own within_module_init() of them,
 * taken at init; when it is false every "init memory" mutation below is
 * replaced by the next kind of its list, so each try stays malformed.
 */
static bool fz_init_freed;
static char fz_initname[] __initdata = "graft_fz_init";
static struct graft_patch_desc fz_initdesc __initdata;
static struct graft_object_desc fz_initobjs[NO] __initdata;
static struct graft_func_desc fz_initfuncs[NF] __initdata;
static int __init fz_inittext(void) { return 0; }

static void __init fz_base(bool real)
{
	int o, k;

	memset(&fz, 0, sizeof(fz));
	strscpy(fz.pname, "graft_test_fuzzdesc", LONG);
	strscpy(fz.release, UTS_RELEASE, LONG);
	fz.patch.abi_version = GRAFT_ABI_VERSION;
	fz.patch.size = sizeof(struct graft_patch_desc);
	fz.patch.name = fz.pname;
	fz.patch.kernel_release = fz.release;
	fz.patch.objs = fz.objs;
	fz.patch.nobjs = NO;
	for (k = 0; k < NS; k++) {
		fz.states[k].id = 1 + k;
		fz.states[k].version = k;	/* 0 is a version */
	}
	fz.patch.states = fz.states;
	fz.patch.nstates = NS;
	for (o = 0; o < NO; o++) {
		struct graft_object_desc *obj = &fz.objs[o];

		if (o) {
			snprintf(fz.mname[o], LONG, "graft_fz_absent_%c", 'a' + o);
			obj->name = fz.mname[o];
		}
		obj->funcs = fz.funcs[o];
		obj->nfuncs = NF;
		obj->callbacks.pre_patch = fz_pre;
		obj->callbacks.post_patch = fz_post;
		obj->callbacks.pre_unpatch = fz_post;
		obj->callbacks.post_unpatch = fz_post;
		for (k = 0; k < NF; k++) {
			snprintf(fz.fname[o][k], LONG, "graft_fz_absent_%d_%d", o, k);
			fz.funcs[o][k].old_name = fz.fname[o][k];
			fz.funcs[o][k].new_func = fz_new;
			fz.funcs[o][k].old_sympos = k;	/* 0 and 1: both valid */
		}
	}
	if (real) {
		fz.patch.nobjs = 1;
		fz.objs[0].nfuncs = 1;
		strscpy(fz.fname[0][0], "cmdline_proc_show", LONG);
		fz.funcs[0][0].new_func = fz_cmdline_show;
	}
}

/* splitmix64: small, and the same sequence for a seed everywhere. */
static u64 __init fz_next(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static u32 __init fz_below(u64 *s, u32 n) { return fz_next(s) % n; }

enum { R_DESC, R_OWNER, R_ABI, R_REPLACE, R_NAME, R_RELEASE, R_OBJS, R_OBJ_NAME, R_FUNCS,
       R_FUNC_NAME, R_NEW_FUNC, R_SYMPOS, R_DUP_OBJ, R_DUP_FUNC, R_CALLBACK, R_STATES, NR_RULES };
static const char *const fz_rules[NR_RULES] = {
	"desc", "owner", "abi", "replace", "name", "release", "objs", "obj_name", "funcs",
	"func_name", "new_func", "sympos", "dup_obj", "dup_func", "callback", "states",
};

/* One try: what is registered, and what the mutation was. */
struct fz_try {
	const struct graft_patch_desc *desc;
	struct module *owner;
	void *heap;		/* kmalloc'd memory it points at (freed after) */
	const char *what;
};

/* A pointer that is no valid place for anything graft reads, and why. */
static const void *__init fz_elsewhere(u64 *s, struct fz_try *t, const void *copy, size_t len)
{
	switch (fz_below(s, 6)) {
	case 0:
		t->what = "kmalloc'd copy";
		t->heap = kmemdup(copy, len, GFP_KERNEL);
		return t->heap;
	case 1:
		t->what = "vmlinux data";
		return &init_task;
	case 2:
		if (fz_init_freed) {
			t->what = "init memory";
			return fz_initname;
		}
		fallthrough;
	case 3:
		t->what = "this module's text";
		return fz_new;
	case 4:
		t->what = "garbage 0x10";
		return (const void *)0x10UL;
	default:
		t->what = "garbage 0xdead000000000000";
		return (const void *)0xdead000000000000UL;
	}
}

/*
 * Kinds of bad name fz_bad_name() makes: the first four are bad for every
 * name, ':' for symbol and module names, the rest for module names.
 */
#define BAD_ANY 4
#define BAD_SYMBOL 5
#define BAD_MODULE 9

/*
 * A bad name in buf (a valid one, room LONG), one of the first `kinds`
 * kinds; `bound` is the longest valid length.
 */
static void __init fz_bad_name(u64 *s, struct fz_try *t, char *buf, size_t bound, u32 kinds)
{
	size_t n = strlen(buf), at = fz_below(s, n);

	switch (fz_below(s, kinds)) {
	case 0:
		t->what = "empty";
		buf[0] = 0;
		break;
	case 1:
		t->what = "too long";
		n = bound + 1 + fz_below(s, LONG - bound - 2);
		memset(buf, 'x', n);
		buf[n] = 0;
		break;
	case 2:
		t->what = "a space";
		buf[at] = ' ';
		break;
	case 3:
		t->what = "a byte that is not printable ASCII";
		buf[at] = fz_below(s, 2) ? 1 + fz_below(s, 0x1f) : 0x7f + fz_below(s, 0x81);
		break;
	case 4:
		t->what = "a ':'";
		buf[at] = ':';
		break;
	case 5:
		t->what = "a '-'";
		buf[at] = '-';
		break;
	case 6:
		t->what = "a ','";
		buf[at] = ',';
		break;
	case 7:
		t->what = "a '/'";
		buf[at] = '/';
		break;
	default:
		t->what = "vmlinux";
		strscpy(buf, "vmlinux", LONG);
		break;
	}
}

/* A replacement or callback address outside this module's text. */
static void *__init fz_not_text(u64 *s, struct fz_try *t)
{
	switch (fz_below(s, 7)) {
	case 0:
		t->what = "this module's data";
		return &fz;
	case 1:
		t->what = "this module's rodata";
		return (void *)fz_rodata;
	case 2:
		t->what = "vmlinux text (_printk)";
		return (void *)_printk;
	case 3:
		if (fz_init_freed) {
			t->what = "this module's init text";
			return (void *)fz_inittext;
		}
		fallthrough;
	case 4:
		t->what = "kmalloc'd memory";
		t->heap = kzalloc(64, GFP_KERNEL);
		return t->heap;
	case 5:
		t->what = "garbage 0x10";
		return (void *)0x10UL;
	default:
		t->what = "garbage 0xdead000000000000";
		return (void *)0xdead000000000000UL;
	}
}

/* Apply one random mutation of rule `r` to the fresh base in fz. */
static void __init fz_mutate(u64 *s, int r, struct fz_try *t)
{
	int o = fz_below(s, NO), mo = 1 + fz_below(s, NO - 1), k = fz_below(s, NF);
	struct graft_object_desc *obj = &fz.objs[o];
	struct graft_func_desc *f = &fz.funcs[o][k];
	const struct module *me = THIS_MODULE;
	void *fn;

	switch (r) {
	case R_DESC:
		switch (fz_below(s, 5)) {
		case 0:
			t->what = "NULL";
			t->desc = NULL;
			break;
		case 1:
			t->what = "misaligned";
			t->desc = (const void *)((const char *)&fz.patch + 4);
			break;
		case 2:
			if (fz_init_freed) {
				t->what = "a copy in init memory";
				fz_initdesc = fz.patch;
				t->desc = &fz_initdesc;
				break;
			}
			fallthrough;
		case 3:
			/* the last 16 bytes of this module's data region */
			t->what = "at the end of this module's data";
			t->desc = me->mem[MOD_DATA].base + (me->mem[MOD_DATA].size & ~7U) - 16;
			break;
		default:
			t->desc = fz_elsewhere(s, t, &fz.patch, sizeof(fz.patch));
			break;
		}
		break;
	case R_OWNER:
		switch (fz_below(s, 5)) {
		case 0:
			t->what = "NULL";
			t->owner = NULL;
			break;
		case 1:
			t->what = "a kmalloc'd copy of THIS_MODULE";
			t->heap = kmemdup(THIS_MODULE, sizeof(struct module), GFP_KERNEL);
			t->owner = t->heap;
			break;
		case 2:
			t->what = "this module's data (a zeroed struct module)";
			t->owner = &fz_notmodule;
			break;
		case 3:
			t->what = "vmlinux data";
			t->owner = (struct module *)&init_task;
			break;
		default:
			t->what = "garbage 0xdead000000000000";
			t->owner = (struct module *)0xdead000000000000UL;
			if (fz_below(s, 2)) {
				t->what = "garbage 0x10";
				t->owner = (struct module *)0x10UL;
			}
			break;
		}
		break;
	case R_ABI:
		if (fz_below(s, 2)) {
			t->what = "another version";
			fz.patch.abi_version = fz_below(s, 2) ? fz_below(s, 4) : (u32)fz_next(s);
			if (fz.patch.abi_version == GRAFT_ABI_VERSION)
				fz.patch.abi_version = 0;
		} else {
			t->what = "another size";
			fz.patch.size = sizeof(fz.patch) + 8 * (1 + fz_below(s, 8)) * (fz_below(s, 2) ? 1 : -1);
		}
		break;
	case R_REPLACE:
		t->what = "a byte other than 0 or 1";
		*(volatile unsigned char *)&fz.patch.replace = 2 + fz_below(s, 254);
		break;
	case R_NAME:
		switch (fz_below(s, 4)) {
		case 0:
			t->what = "NULL";
			fz.patch.name = NULL;
			break;
		case 1:
			t->what = fz_below(s, 2) ? "." : "..";
			strscpy(fz.pname, t->what, LONG);
			break;
		case 2:
			fz.patch.name = fz_elsewhere(s, t, fz.pname, strlen(fz.pname) + 1);
			break;
		default:
			fz_bad_name(s, t, fz.pname, 255, BAD_ANY);
			if (fz_below(s, 4) == 0) {
				t->what = "a '/'";
				strscpy(fz.pname, "graft/fuzz", LONG);
			}
			break;
		}
		break;
	case R_RELEASE:
		switch (fz_below(s, 3)) {
		case 0:
			t->what = "another kernel";
			strlcat(fz.release, fz_below(s, 2) ? "x" : "-other", LONG);
			break;
		case 1:
			fz.patch.kernel_release = fz_elsewhere(s, t, fz.release, strlen(fz.release) + 1);
			break;
		default:
			fz_bad_name(s, t, fz.release, 64, BAD_ANY);
			break;
		}
		break;
	case R_OBJS:
		switch (fz_below(s, 6)) {
		case 0:
			t->what = "nobjs 0";
			fz.patch.nobjs = 0;
			break;
		case 1:
			t->what = "NULL";
			fz.patch.objs = NULL;
			break;
		case 2:
			t->what = "misaligned";
			fz.patch.objs = (const void *)((const char *)fz.objs + 4);
			break;
		case 3:
			t->what = "nobjs past the array";
			fz.patch.nobjs = NO + 1 + fz_below(s, 3);
			break;
		case 4:
			t->what = "nobjs past the module's memory";
			fz.patch.nobjs = fz_below(s, 2) ? 0xffffffffU : 0x100000U + fz_below(s, 0x100000);
			break;
		default:
			if (fz_below(s, 3) == 0 && fz_init_freed) {
				t->what = "a copy in init memory";
				memcpy(fz_initobjs, fz.objs, sizeof(fz_initobjs));
				fz.patch.objs = fz_initobjs;
			} else {
				fz.patch.objs = fz_elsewhere(s, t, fz.objs, sizeof(fz.objs));
			}
			break;
		}
		break;
	case R_OBJ_NAME:
		obj = &fz.objs[mo];
		if (fz_below(s, 4) == 0)
			obj->name = fz_elsewhere(s, t, fz.mname[mo], strlen(fz.mname[mo]) + 1);
		else
			fz_bad_name(s, t, fz.mname[mo], 55, BAD_MODULE);
		break;
	case R_FUNCS:
		switch (fz_below(s, 6)) {
		case 0:
			t->what = "nfuncs 0";
			obj->nfuncs = 0;
			break;
		case 1:
			t->what = "NULL";
			obj->funcs = NULL;
			break;
		case 2:
			t->what = "misaligned";
			obj->funcs = (const void *)((const char *)fz.funcs[o] + 4);
			break;
		case 3:
			t->what = "nfuncs past the array";
			obj->nfuncs = NF + 1 + fz_below(s, 3);
			break;
		case 4:
			t->what = "nfuncs past the module's memory";
			obj->nfuncs = fz_below(s, 2) ? 0xffffffffU : 0x100000U + fz_below(s, 0x100000);
			break;
		default:
			if (fz_below(s, 3) == 0 && fz_init_freed) {
				t->what = "a copy in init memory";
				memcpy(fz_initfuncs, fz.funcs[o], sizeof(fz_initfuncs));
				obj->funcs = fz_initfuncs;
			} else {
				obj->funcs = fz_elsewhere(s, t, fz.funcs[o], sizeof(fz.funcs[o]));
			}
			break;
		}
		break;
	case R_FUNC_NAME:
		switch (fz_below(s, 3)) {
		case 0:
			t->what = "NULL";
			f->old_name = NULL;
			break;
		case 1:
			f->old_name = fz_elsewhere(s, t, fz.fname[o][k], strlen(fz.fname[o][k]) + 1);
			break;
		default:
			fz_bad_name(s, t, fz.fname[o][k], 511, BAD_SYMBOL);
			break;
		}
		break;
	case R_NEW_FUNC:
		if (fz_below(s, 8) == 0) {
			t->what = "NULL";
			f->new_func = NULL;
		} else {
			f->new_func = fz_not_text(s, t);
		}
		break;
	case R_SYMPOS:
		switch (fz_below(s, 3)) {
		case 0:
			t->what = "past GRAFT_MAX_SYMPOS";
			f->old_sympos = GRAFT_MAX_SYMPOS + 1 + fz_below(s, 1 << 30);
			break;
		case 1:
			t->what = "-1";
			f->old_sympos = -1UL;
			break;
		default:
			t->what = "a pointer";
			f->old_sympos = (unsigned long)&fz;
			break;
		}
		break;
	case R_DUP_OBJ:
		switch (fz_below(s, 3)) {
		case 0:
			t->what = "a module named twice (one pointer)";
			fz.objs[2].name = fz.objs[1].name;
			break;
		case 1:
			t->what = "a module named twice (two strings)";
			strscpy(fz.mname[2], fz.mname[1], LONG);
			break;
		default:
			t->what = "vmlinux twice";
			fz.objs[mo].name = NULL;
			break;
		}
		break;
	case R_DUP_FUNC:
		switch (fz_below(s, 3)) {
		case 0:
			t->what = "a function twice (one entry copied)";
			fz.funcs[o][1] = fz.funcs[o][0];
			break;
		case 1:
			t->what = "a function twice (two strings)";
			strscpy(fz.fname[o][1], fz.fname[o][0], LONG);
			fz.funcs[o][1].old_sympos = fz.funcs[o][0].old_sympos;
			break;
		default:
			/* upstream names both <function>,1 */
			t->what = "a function with old_sympos 0 and 1";
			strscpy(fz.fname[o][1], fz.fname[o][0], LONG);
			fz.funcs[o][0].old_sympos = 0;
			fz.funcs[o][1].old_sympos = 1;
			break;
		}
		break;
	case R_STATES:
		switch (fz_below(s, 8)) {
		case 0:
			t->what = "NULL with nstates";
			fz.patch.states = NULL;
			break;
		case 1:
			t->what = "misaligned";
			fz.patch.states = (void *)((char *)fz.states + 4);
			break;
		case 2:
			t->what = "nstates past the array";
			fz.patch.nstates = NS + 1 + fz_below(s, 3);
			break;
		case 3:
			t->what = "nstates past the module's memory";
			fz.patch.nstates = fz_below(s, 2) ? 0xffffffffU : 0x100000U + fz_below(s, 0x100000);
			break;
		case 4:
			fz.patch.states = (void *)fz_elsewhere(s, t, fz.states, sizeof(fz.states));
			break;
		case 5:
			t->what = "a state of id 0";
			fz.states[fz_below(s, NS)].id = 0;
			break;
		case 6:
			t->what = "a state id twice";
			fz.states[1].id = fz.states[0].id;
			break;
		default:
			t->what = "states with nstates 0";
			fz.patch.nstates = 0;
			break;
		}
		break;
	default: /* R_CALLBACK */
		fn = fz_not_text(s, t);
		switch (fz_below(s, 4)) {
		case 0:
			memcpy(&obj->callbacks.pre_patch, &fn, sizeof(fn));
			break;
		case 1:
			memcpy(&obj->callbacks.post_patch, &fn, sizeof(fn));
			break;
		case 2:
			memcpy(&obj->callbacks.pre_unpatch, &fn, sizeof(fn));
			break;
		default:
			memcpy(&obj->callbacks.post_unpatch, &fn, sizeof(fn));
			break;
		}
		break;
	}
}

static int __init fz_init(void)
{
	unsigned int by_rule[NR_RULES] = { 0 }, i, tried = 0, refused = 0;
	char line[256];
	size_t at = 0;
	bool held = false;
	u64 s;
	int r, ret;

	if (valid) {
		fz_base(true);
		return graft_register_patch(&fz.patch, THIS_MODULE);
	}
	if (!seed)
		seed = get_random_u32() ?: 1;
	s = seed;
	fz_init_freed = within_module_init((unsigned long)fz_initname, THIS_MODULE) &&
			within_module_init((unsigned long)fz_inittext, THIS_MODULE);
	pr_info("graft_test_fuzzdesc: seed=%u count=%u init=%s\n", seed, count,
		fz_init_freed ? "freed" : "kept");

	/* The base passes validation: graft refuses it only for being busy. */
	fz_base(false);
	ret = graft_register_patch(&fz.patch, THIS_MODULE);
	if (ret != -EBUSY) {
		pr_err("graft_test_fuzzdesc: seed=%u the base description got %d, not -EBUSY (run while another patch's transition is held)\n",
		       seed, ret);
		if (!ret)
			graft_unregister_patch(&fz.patch);
		return -EINVAL;
	}

	for (i = 0; i < count && !held; i++) {
		struct fz_try t = { .desc = &fz.patch, .owner = THIS_MODULE, .what = "?" };

		fz_base(false);
		r = fz_below(&s, NR_RULES);
		fz_mutate(&s, r, &t);
		ret = graft_register_patch(t.desc, t.owner);
		tried++;
		if (ret == -EINVAL || ret == -EEXIST) {
			refused++;
			by_rule[r]++;
		} else {
			pr_err("graft_test_fuzzdesc: seed=%u try %u (%s: %s) accepted: %d\n",
			       seed, i, fz_rules[r], t.what, ret);
			/* registered: graft holds the description until it is disabled */
			held = !ret && graft_unregister_patch(t.desc);
			if (held)
				fz_held = t.desc;
		}
		if (!held)
			kfree(t.heap);
		cond_resched();
	}

	for (r = 0; r < NR_RULES && at < sizeof(line); r++)
		at += scnprintf(line + at, sizeof(line) - at, "%s%s:%u", r ? "," : "", fz_rules[r], by_rule[r]);
	pr_info("graft_test_fuzzdesc: seed=%u tried=%u refused=%u accepted=%u by_rule=%s\n",
		seed, tried, refused, tried - refused, line);
	if (held) {
		/* graft holds it: this module must stay (S11's cleanup disables it) */
		pr_err("graft_test_fuzzdesc: a malformed description was registered and is held\n");
		return 0;
	}
	/*
	 * Loaded on success (nothing of it is registered; S11 unloads it): a
	 * failed init would make busybox's insmod load it again.
	 */
	return refused == tried ? 0 : -EINVAL;
}

static void __exit fz_exit(void)
{
	if (fz_held && fz_held != &fz.patch)
		graft_unregister_patch(fz_held);
	graft_unregister_patch(&fz.patch);
}

module_init(fz_init);
module_exit(fz_exit);
MODULE_DESCRIPTION("graft test: malformed patch descriptions graft must refuse");
MODULE_LICENSE("GPL");
