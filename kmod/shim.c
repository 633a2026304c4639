// SPDX-License-Identifier: GPL-2.0
/*
 * graft's C shim: wrappers for what the kernel offers only as macros or
 * inline functions, so the Rust side can call them.
 */
#include <linux/module.h>
#include <generated/utsrelease.h>

const char *graft_shim_release(void);

const char *graft_shim_release(void)
{
	return UTS_RELEASE;
}
