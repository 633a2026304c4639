// SPDX-License-Identifier: GPL-2.0
/*
 * graft.h's and shim.h's layouts as this compiler lays them out, for the
 * compile-time checks of their Rust mirrors (abi.rs, ffi.rs): Kbuild
 * compiles this to assembly and turns each "->NAME value" marker into a
 * Rust constant (abi_layout.rs, the kernel's own asm-offsets technique,
 * include/linux/kbuild.h).  Never linked.
 */
#include <linux/kallsyms.h>
#include <linux/kbuild.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <linux/utsname.h>
#include "graft.h"
#include "shim_internal.h"

#define SIZE(s) DEFINE(SIZEOF_##s, sizeof(struct s)); DEFINE(ALIGNOF_##s, __alignof__(struct s))
#define FIELD(s, f) DEFINE(OFFSETOF_##s##__##f, offsetof(struct s, f))

void graft_abi_layout(void);
void graft_abi_layout(void)
{
	DEFINE(GRAFT_ABI_VERSION, GRAFT_ABI_VERSION);
	DEFINE(GRAFT_MAX_SYMPOS, GRAFT_MAX_SYMPOS);
	SIZE(graft_func_desc);
	FIELD(graft_func_desc, old_name);
	FIELD(graft_func_desc, new_func);
	FIELD(graft_func_desc, old_sympos);
	FIELD(graft_func_desc, preimage);
	SIZE(graft_preimage_mask);
	FIELD(graft_preimage_mask, offset);
	FIELD(graft_preimage_mask, len);
	SIZE(graft_preimage);
	FIELD(graft_preimage, size);
	FIELD(graft_preimage, hash);
	FIELD(graft_preimage, masks);
	FIELD(graft_preimage, nmasks);
	SIZE(graft_callbacks);
	FIELD(graft_callbacks, pre_patch);
	FIELD(graft_callbacks, post_patch);
	FIELD(graft_callbacks, pre_unpatch);
	FIELD(graft_callbacks, post_unpatch);
	SIZE(graft_object_desc);
	FIELD(graft_object_desc, name);
	FIELD(graft_object_desc, funcs);
	FIELD(graft_object_desc, nfuncs);
	FIELD(graft_object_desc, callbacks);
	SIZE(graft_patch_desc);
	FIELD(graft_patch_desc, abi_version);
	FIELD(graft_patch_desc, size);
	FIELD(graft_patch_desc, name);
	FIELD(graft_patch_desc, kernel_release);
	FIELD(graft_patch_desc, objs);
	FIELD(graft_patch_desc, nobjs);
	FIELD(graft_patch_desc, replace);
	FIELD(graft_patch_desc, states);
	FIELD(graft_patch_desc, nstates);
	SIZE(graft_state);
	FIELD(graft_state, id);
	FIELD(graft_state, version);
	FIELD(graft_state, data);
	/* shim.h */
	SIZE(graft_unwind_table);
	FIELD(graft_unwind_table, ip);
	FIELD(graft_unwind_table, entries);
	FIELD(graft_unwind_table, n);
	DEFINE(GRAFT_STACK_TOP_PADDING, GRAFT_ARCH_STACK_TOP_PADDING);
	DEFINE(GRAFT_TASK_DEAD, GRAFT_TASK_DEAD);
	DEFINE(GRAFT_TASK_COPIED, GRAFT_TASK_COPIED);
	DEFINE(GRAFT_ATTR_ENABLED, GRAFT_ATTR_ENABLED);
	DEFINE(GRAFT_ATTR_TRANSITION, GRAFT_ATTR_TRANSITION);
	DEFINE(GRAFT_ATTR_REPLACE, GRAFT_ATTR_REPLACE);
	DEFINE(GRAFT_ATTR_STACK_ORDER, GRAFT_ATTR_STACK_ORDER);
	DEFINE(GRAFT_ATTR_PATCHED, GRAFT_ATTR_PATCHED);
	DEFINE(GRAFT_ATTR_FORCE, GRAFT_ATTR_FORCE);
	DEFINE(GRAFT_ATTR_FORCED, GRAFT_ATTR_FORCED);
	DEFINE(GRAFT_ATTR_PROGRESS, GRAFT_ATTR_PROGRESS);
	DEFINE(GRAFT_ATTR_MODULE, GRAFT_ATTR_MODULE);
	DEFINE(GRAFT_ATTR_KERNEL_RELEASE, GRAFT_ATTR_KERNEL_RELEASE);
	DEFINE(GRAFT_ATTR_STATES, GRAFT_ATTR_STATES);
	DEFINE(GRAFT_ATTR_FUNCTIONS, GRAFT_ATTR_FUNCTIONS);
	DEFINE(GRAFT_ATTR_CALLBACKS, GRAFT_ATTR_CALLBACKS);
	DEFINE(GRAFT_ATTR_FAST, GRAFT_ATTR_FAST);
	DEFINE(GRAFT_DIRECT_CALLS, GRAFT_DIRECT_CALLS);
	DEFINE(GRAFT_DIRECT_JMP, GRAFT_DIRECT_JMP);
	DEFINE(GRAFT_DIRECT_BTI, GRAFT_DIRECT_BTI);
	/* what this kernel offers (ffi.rs DIRECT_CAPS) */
	DEFINE(GRAFT_DIRECT_CAPS, (IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS) ? GRAFT_DIRECT_CALLS : 0) |
				  (IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_JMP) ? GRAFT_DIRECT_JMP : 0) |
				  (IS_ENABLED(CONFIG_ARM64_BTI_KERNEL) ? GRAFT_DIRECT_BTI : 0));
	DEFINE(GRAFT_MEM_NONE, GRAFT_MEM_NONE);
	DEFINE(GRAFT_MEM_TEXT, GRAFT_MEM_TEXT);
	DEFINE(GRAFT_MEM_DATA, GRAFT_MEM_DATA);
	DEFINE(GRAFT_MEM_INIT, GRAFT_MEM_INIT);
	/* the kernel's name limits graft_core::desc restates */
	DEFINE(MODULE_NAME_LEN, MODULE_NAME_LEN);
	DEFINE(KSYM_NAME_LEN, KSYM_NAME_LEN);
	DEFINE(NAME_MAX, NAME_MAX);
	DEFINE(NEW_UTS_LEN, __NEW_UTS_LEN);
	SIZE(graft_switched_out);
	FIELD(graft_switched_out, sp);
	FIELD(graft_switched_out, fp);
	FIELD(graft_switched_out, pc);
	SIZE(graft_task_stack);
	FIELD(graft_task_stack, lo);
	FIELD(graft_task_stack, ctx);
	FIELD(graft_task_stack, kthread);
	SIZE(graft_site_row);
	FIELD(graft_site_row, ip);
	FIELD(graft_site_row, both);
	DEFINE(GRAFT_ROW_SPLIT, GRAFT_ROW_SPLIT);
	FIELD(graft_site_row, target);
	SIZE(graft_view_head);
	FIELD(graft_view_head, rows);
	FIELD(graft_view_head, omask);
}
