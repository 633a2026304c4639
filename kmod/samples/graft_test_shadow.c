// SPDX-License-Identifier: GPL-2.0
/*
 * graft's S6 test of the shadow-variable API graft.ko exports (graft.h),
 * after upstream's test_klp_shadow_vars.c
 * (tools/testing/selftests/livepatch/test_modules/): at load it attaches,
 * finds, refuses, constructs, destroys and frees shadow variables of a few
 * objects and checks every result, one line each:
 *   graft_test_shadow: <check>: pass|fail
 * then "graft_test_shadow: checks=<n> failed=<m>".  Two variables stay
 * attached when it loads successfully (objects of this module, id
 * GRAFT_TEST_LEFT): graft.ko must free them when it unloads.
 */
#include <linux/completion.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/slab.h>
#include "../graft.h"

#define SV_ID1 0x1234
#define SV_ID2 0x1235
#define SV_ID3 0x1236
#define GRAFT_TEST_LEFT 0x6c656674
#define NUM_OBJS 3

static int checks, failed;
static int ctor_calls, dtor_calls;
static void *dtor_last_obj, *dtor_last_data;
static char left_objs[2];

#define CHECK(name, cond)						\
	do {								\
		bool __ok = (cond);					\
		checks++;						\
		if (!__ok)						\
			failed++;					\
		pr_info("graft_test_shadow: %s: %s\n", name, __ok ? "pass" : "fail"); \
	} while (0)

/* Stores *ctor_data (a pointer) in the new data, as upstream's test does. */
static int shadow_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	void **sv = shadow_data;

	ctor_calls++;
	if (!ctor_data)
		return -EINVAL;
	*sv = *(void **)ctor_data;
	return 0;
}

static void shadow_dtor(void *obj, void *shadow_data)
{
	dtor_calls++;
	dtor_last_obj = obj;
	dtor_last_data = shadow_data;
}

/*
 * Two threads race get_or_alloc() on the same few objects and count in the
 * data: one variable per (obj, id) must win, so the counts found add up.
 */
#define RACE_OBJS 8
#define RACE_ITERS 20000
#define RACE_ID 0x1237
static char race_objs[RACE_OBJS];
static struct completion race_done[2];
static atomic_t race_ready, race_nomem;

static int race_fn(void *arg)
{
	long t = (long)arg;
	atomic_t *c;
	int i;

	/* start together (cond_resched: the guest may have one CPU) */
	atomic_inc(&race_ready);
	while (atomic_read(&race_ready) < 2)
		cond_resched();
	for (i = 0; i < RACE_ITERS; i++) {
		c = graft_shadow_get_or_alloc(&race_objs[(i + t) % RACE_OBJS], RACE_ID, sizeof(*c),
					      GFP_KERNEL, NULL, NULL);
		if (c)
			atomic_inc(c);
		else
			atomic_inc(&race_nomem);
		if (!(i % 256))
			cond_resched();
	}
	kthread_complete_and_exit(&race_done[t], 0);
}

static bool race(void)
{
	struct task_struct *k;
	long t, sum = 0;
	atomic_t *c;
	int i;

	for (t = 0; t < 2; t++) {
		init_completion(&race_done[t]);
		k = kthread_run(race_fn, (void *)t, "graft_shadow_race%ld", t);
		if (IS_ERR(k)) {
			/* let the first one finish alone */
			if (t == 1) {
				atomic_inc(&race_ready);
				wait_for_completion(&race_done[0]);
			}
			return false;
		}
	}
	wait_for_completion(&race_done[0]);
	wait_for_completion(&race_done[1]);
	for (i = 0; i < RACE_OBJS; i++) {
		c = graft_shadow_get(&race_objs[i], RACE_ID);
		if (c)
			sum += atomic_read(c);
	}
	graft_shadow_free_all(RACE_ID, NULL);
	pr_info("graft_test_shadow: race: counted %ld of %d\n", sum, 2 * RACE_ITERS);
	return !atomic_read(&race_nomem) && sum == 2 * RACE_ITERS;
}

static bool all_zero(const char *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static int __init graft_test_shadow_init(void)
{
	char objs[NUM_OBJS];
	int fields[NUM_OBJS];
	void *pf[NUM_OBJS];
	void **sv1[NUM_OBJS], **sv2[NUM_OBJS];
	void *p, *q;
	unsigned long flags;
	int i, c;
	bool ok;

	CHECK("get-missing", !graft_shadow_get(&objs[0], SV_ID1));

	/* attach two variables to each object: alloc (odd) or get_or_alloc */
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		pf[i] = &fields[i];
		if (i % 2)
			sv1[i] = graft_shadow_alloc(&objs[i], SV_ID1, sizeof(void *), GFP_KERNEL,
						    shadow_ctor, &pf[i]);
		else
			sv1[i] = graft_shadow_get_or_alloc(&objs[i], SV_ID1, sizeof(void *), GFP_KERNEL,
							   shadow_ctor, &pf[i]);
		sv2[i] = graft_shadow_alloc(&objs[i], SV_ID2, 64, GFP_KERNEL, NULL, NULL);
		ok &= sv1[i] && sv2[i] && sv1[i] != (void **)sv2[i];
	}
	CHECK("alloc", ok);
	if (!ok)
		goto out;
	CHECK("ctor-ran", ctor_calls == NUM_OBJS);
	ok = true;
	for (i = 0; i < NUM_OBJS; i++)
		ok &= *sv1[i] == pf[i];
	CHECK("ctor-data", ok);
	ok = true;
	for (i = 0; i < NUM_OBJS; i++)
		ok &= all_zero((char *)sv2[i], 64);
	CHECK("zeroed", ok);
	CHECK("aligned", IS_ALIGNED((unsigned long)sv2[0], sizeof(void *)));

	/* lookups find each variable, per (obj, id) */
	ok = true;
	for (i = 0; i < NUM_OBJS; i++)
		ok &= graft_shadow_get(&objs[i], SV_ID1) == sv1[i] &&
		      graft_shadow_get(&objs[i], SV_ID2) == sv2[i];
	CHECK("get", ok);
	CHECK("get-other-id", !graft_shadow_get(&objs[0], SV_ID3));

	/* alloc of an existing (obj, id) fails; get_or_alloc returns it */
	c = ctor_calls;
	CHECK("alloc-exists", !graft_shadow_alloc(&objs[0], SV_ID1, sizeof(void *), GFP_KERNEL,
						  shadow_ctor, &pf[1]));
	p = graft_shadow_get_or_alloc(&objs[1], SV_ID1, sizeof(void *), GFP_KERNEL, shadow_ctor, &pf[2]);
	CHECK("get_or_alloc-exists", p == sv1[1] && *sv1[1] == pf[1] && ctor_calls == c);

	/* a failing constructor: NULL, nothing attached */
	CHECK("ctor-fails", !graft_shadow_alloc(&objs[0], SV_ID3, sizeof(void *), GFP_KERNEL,
						shadow_ctor, NULL));
	CHECK("ctor-fails-nothing-left", !graft_shadow_get(&objs[0], SV_ID3));

	/* atomic context: GFP_ATOMIC alloc and get with interrupts off */
	local_irq_save(flags);
	p = graft_shadow_alloc(&objs[0], SV_ID3, 16, GFP_ATOMIC, NULL, NULL);
	q = graft_shadow_get(&objs[0], SV_ID3);
	local_irq_restore(flags);
	CHECK("atomic", p && p == q);
	graft_shadow_free(&objs[0], SV_ID3, NULL);
	CHECK("free-no-dtor", !graft_shadow_get(&objs[0], SV_ID3));

	/* an impossible size fails cleanly */
	CHECK("huge-size", !graft_shadow_alloc(&objs[0], SV_ID3, SIZE_MAX - 8, GFP_KERNEL | __GFP_NOWARN,
					       NULL, NULL));

	CHECK("too-large", !graft_shadow_alloc(&objs[0], SV_ID3, 1UL << 40, GFP_KERNEL | __GFP_NOWARN,
					       NULL, NULL));
	CHECK("failures-nothing-left", !graft_shadow_get(&objs[0], SV_ID3));

	/* free: the destructor sees the object and data; only that variable goes */
	graft_shadow_free(&objs[0], SV_ID1, shadow_dtor);
	CHECK("free-dtor", dtor_calls == 1 && dtor_last_obj == &objs[0] && dtor_last_data == sv1[0]);
	CHECK("free-gone", !graft_shadow_get(&objs[0], SV_ID1) &&
			   graft_shadow_get(&objs[0], SV_ID2) == sv2[0] &&
			   graft_shadow_get(&objs[1], SV_ID1) == sv1[1]);
	graft_shadow_free(&objs[0], SV_ID1, shadow_dtor);
	CHECK("free-missing", dtor_calls == 1);

	/* free_all: every object's variable of that id, none of the other */
	graft_shadow_free_all(SV_ID2, shadow_dtor);
	ok = dtor_calls == 1 + NUM_OBJS;
	for (i = 0; i < NUM_OBJS; i++)
		ok &= !graft_shadow_get(&objs[i], SV_ID2);
	CHECK("free_all", ok);
	CHECK("free_all-other-id", graft_shadow_get(&objs[1], SV_ID1) == sv1[1] &&
				   graft_shadow_get(&objs[2], SV_ID1) == sv1[2]);
	graft_shadow_free_all(SV_ID1, NULL);
	CHECK("free_all-no-dtor", !graft_shadow_get(&objs[1], SV_ID1) && !graft_shadow_get(&objs[2], SV_ID1));

	/* a variable again after it was freed */
	p = graft_shadow_alloc(&objs[0], SV_ID1, sizeof(void *), GFP_KERNEL, shadow_ctor, &pf[0]);
	CHECK("realloc", p && graft_shadow_get(&objs[0], SV_ID1) == p);
	graft_shadow_free_all(SV_ID1, NULL);

	CHECK("race", race());
	CHECK("race-freed", !graft_shadow_get(&race_objs[0], RACE_ID));
out:
	/* left for graft.ko's unload to free */
	if (!failed) {
		graft_shadow_alloc(&left_objs[0], GRAFT_TEST_LEFT, 8, GFP_KERNEL, NULL, NULL);
		graft_shadow_alloc(&left_objs[1], GRAFT_TEST_LEFT, 8, GFP_KERNEL, NULL, NULL);
	}
	pr_info("graft_test_shadow: checks=%d failed=%d\n", checks, failed);
	return 0;
}

static void __exit graft_test_shadow_exit(void)
{
}

module_init(graft_test_shadow_init);
module_exit(graft_test_shadow_exit);
MODULE_DESCRIPTION("graft test: shadow variables");
MODULE_LICENSE("GPL");
