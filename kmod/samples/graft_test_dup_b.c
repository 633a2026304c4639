// SPDX-License-Identifier: GPL-2.0
/*
 * graft_test_dup's second graft_test_dup_func (see graft_test_dup_a.c):
 * code unlike the first's (it doubles), so that a pre-image tells them
 * apart (graft_test_dup_pick.c).
 */
#include <linux/compiler.h>

int graft_test_dup_b(void);

static int graft_test_dup_val = 1;

static noinline int graft_test_dup_func(void)
{
	return READ_ONCE(graft_test_dup_val) * 2;
}

int graft_test_dup_b(void)
{
	return graft_test_dup_func();
}
