/* SPDX-License-Identifier: GPL-2.0 */
/*
 * graft's scale tests (S12's scale part, the bench's scale table): the
 * 1,000 functions graft_scale_fn_0000() .. graft_scale_fn_0999() of the
 * target module graft_test_scale, and the patches of them, are all expanded
 * from these macros, so no source of 1,000 functions is written out.
 *
 * GRAFT_SCALE_EACH(f) expands f(a, b, c) once per function, in index order,
 * with the index's three decimal digits as separate tokens: the function
 * is GRAFT_SCALE_NAME(a, b, c) ("graft_scale_fn_0" a b c), its index
 * GRAFT_SCALE_INDEX(a, b, c).  (Digits, not a pasted number: 0999 would be
 * an octal literal.)
 *
 * Every version of function i, the original (version 0) and each
 * replacement (version v), returns GRAFT_SCALE_RET(v, i), so the target's
 * reader can tell which version ran and that it was function i's.
 */
#ifndef GRAFT_TEST_SCALE_H
#define GRAFT_TEST_SCALE_H

#define GRAFT_SCALE_FUNCS 1000
/* versions 1..GRAFT_SCALE_MAX_VERSION: graft_scale_patch 1,
 * graft_scale_replace 2, graft_scale_stack_<k> k (1..32), graft_scale_klp 100 */
#define GRAFT_SCALE_MAX_VERSION 127
#define GRAFT_SCALE_KLP_VERSION 100
#define GRAFT_SCALE_RET(version, index) ((version) * 10000 + (index))

#define GRAFT_SCALE_NAME(a, b, c) graft_scale_fn_0##a##b##c
#define GRAFT_SCALE_STR(a, b, c) "graft_scale_fn_0" #a #b #c
#define GRAFT_SCALE_INDEX(a, b, c) ((a) * 100 + (b) * 10 + (c))

#define GRAFT_SCALE_1(f, a, b) \
	f(a, b, 0) f(a, b, 1) f(a, b, 2) f(a, b, 3) f(a, b, 4) \
	f(a, b, 5) f(a, b, 6) f(a, b, 7) f(a, b, 8) f(a, b, 9)
#define GRAFT_SCALE_10(f, a) \
	GRAFT_SCALE_1(f, a, 0) GRAFT_SCALE_1(f, a, 1) GRAFT_SCALE_1(f, a, 2) \
	GRAFT_SCALE_1(f, a, 3) GRAFT_SCALE_1(f, a, 4) GRAFT_SCALE_1(f, a, 5) \
	GRAFT_SCALE_1(f, a, 6) GRAFT_SCALE_1(f, a, 7) GRAFT_SCALE_1(f, a, 8) \
	GRAFT_SCALE_1(f, a, 9)
#define GRAFT_SCALE_EACH(f) \
	GRAFT_SCALE_10(f, 0) GRAFT_SCALE_10(f, 1) GRAFT_SCALE_10(f, 2) \
	GRAFT_SCALE_10(f, 3) GRAFT_SCALE_10(f, 4) GRAFT_SCALE_10(f, 5) \
	GRAFT_SCALE_10(f, 6) GRAFT_SCALE_10(f, 7) GRAFT_SCALE_10(f, 8) \
	GRAFT_SCALE_10(f, 9)

#endif
