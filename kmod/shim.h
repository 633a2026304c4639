/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between graft.ko's C shim and its Rust side (not the patch
 * ABI, which is graft.h).  Mirrored in kmod/ffi.rs, whose layouts are
 * checked against this file at build time (abi_layout.c).
 */
#ifndef GRAFT_SHIM_H
#define GRAFT_SHIM_H

#include <linux/types.h>

/* graft_shim_copy_stack() */
#define GRAFT_TASK_RUNNING 0
#define GRAFT_TASK_DEAD 1
#define GRAFT_TASK_COPIED 2

/* sysfs attributes (graft_rs_show / graft_rs_store) */
#define GRAFT_ATTR_ENABLED 0
#define GRAFT_ATTR_TRANSITION 1
#define GRAFT_ATTR_REPLACE 2
#define GRAFT_ATTR_STACK_ORDER 3
#define GRAFT_ATTR_PATCHED 4
#define GRAFT_ATTR_FORCE 5
#define GRAFT_ATTR_FORCED 6
#define GRAFT_ATTR_PROGRESS 7
#define GRAFT_ATTR_MODULE 8
#define GRAFT_ATTR_KERNEL_RELEASE 9
#define GRAFT_ATTR_STATES 10
#define GRAFT_ATTR_FUNCTIONS 11	/* <patch>/<object>/functions */
#define GRAFT_ATTR_CALLBACKS 12	/* <patch>/<object>/callbacks */
#define GRAFT_ATTR_FAST 13	/* <patch>/fast */

/* graft_core::DirectCaps: what the kernel's ftrace offers the fast path */
#define GRAFT_DIRECT_CALLS 1	/* CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS */
#define GRAFT_DIRECT_JMP 2	/* CONFIG_DYNAMIC_FTRACE_WITH_JMP */
#define GRAFT_DIRECT_BTI 4	/* CONFIG_ARM64_BTI_KERNEL */

/*
 * graft_shim_module_mem(): which of a module's memory regions holds an
 * address (validate.rs).  DATA is MOD_DATA, MOD_RODATA or
 * MOD_RO_AFTER_INIT; INIT any MOD_INIT_* region, freed once the module's
 * init returns.
 */
#define GRAFT_MEM_NONE 0
#define GRAFT_MEM_TEXT 1
#define GRAFT_MEM_DATA 2
#define GRAFT_MEM_INIT 3

/*
 * What a switched-out task's context switch saved (graft_core::SwitchedOut;
 * each arch's graft_arch.h fills it): sp is the lowest live stack address.
 */
struct graft_switched_out {
	u64 sp;
	u64 fp;
	u64 pc;
};

/*
 * A module's unwind table (graft_shim_module_unwind(); each arch's
 * graft_arch.h that has one fills ip, entries and n): x86_64's ORC,
 * mod->arch.orc_unwind_ip (n s32 words, each relative to its own address)
 * and mod->arch.orc_unwind (n 6-byte struct orc_entry).
 */
struct graft_unwind_table {
	u64 ip;
	u64 entries;
	u32 n;
};

/* A copied task stack (tasks.rs): where it lives and how it was left. */
struct graft_task_stack {
	u64 lo;				/* task_stack_page() */
	struct graft_switched_out ctx;
	bool kthread;			/* PF_KTHREAD: its final frame */
};

/*
 * The published view's table of patched sites (view.rs View, repr(C)):
 * open addressing over 2^bits rows, a site's probe starting at
 * hash_64(ip, bits) (linux/hash.h) and going up by one; a row with ip 0
 * ends the probe; the table is never more than half full.  target[0] is
 * where a call goes for a task not yet switched (or any task outside a
 * transition: the two are equal then), target[1] for a switched one; 0
 * runs the original.  both is the target when the two are equal (the
 * handler's one load outside a transition), else GRAFT_ROW_SPLIT (never a
 * text address): the current task's state decides.  Four words, so a
 * row's offset is a shift.
 */
#define GRAFT_ROW_SPLIT 1UL
struct graft_site_row {
	unsigned long ip;
	unsigned long both;
	unsigned long target[2];
};

struct graft_view_head {
	const struct graft_site_row *rows;	/* never NULL once published */
	unsigned long omask;			/* (rows - 1) * 32: a probe's byte offsets */
};

#endif
