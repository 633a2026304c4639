/* graft's patch-site corpus: compiled by every arch's cross compiler with the
 * exact ftrace flags Linux 7.3 uses for that arch (arch/<arch>/ftrace-flags.txt),
 * then read back by graft-inspect.  Every function named traced_* must be
 * found and classified patchable; every notrace_* must be refused.
 * Freestanding: no headers, no libc. */

/* as include/linux/compiler_types.h: with patchable function entries the
 * kernel's notrace removes them; otherwise it disables -pg instrumentation */
#ifdef CC_USING_PATCHABLE_FUNCTION_ENTRY
#define notrace __attribute__((patchable_function_entry(0, 0)))
#else
#define notrace __attribute__((no_instrument_function))
#endif
#define noinline __attribute__((noinline))

extern void sink(long);
extern long g;

/* leaf functions of several shapes */
noinline long traced_leaf(long a) { return a + 1; }
noinline long traced_two_args(long a, long b) { return a * b - g; }
noinline void traced_void(void) { g++; }
noinline int traced_int(int x) { return x ^ 0x5a; }

/* non-leaf: calls, stack frame, callee-saved registers */
noinline long traced_calls(long a)
{
	long r = traced_leaf(a);
	sink(r);
	return r + traced_two_args(a, r);
}

noinline long traced_big_frame(long n)
{
	volatile long buf[64];
	for (long i = 0; i < 64; i++)
		buf[i] = i * n;
	sink(buf[n & 63]);
	return buf[(n + 1) & 63];
}

noinline long traced_loop(long n)
{
	long s = 0;
	for (long i = 0; i < n; i++)
		s += i * g;
	return s;
}

noinline long traced_switch(int k)
{
	switch (k) {
	case 0: return 10;
	case 1: return 20;
	case 2: sink(k); return 30;
	case 3: return g;
	default: return -1;
	}
}

static noinline long traced_static(long a) { return a * 3; }
noinline long traced_uses_static(long a) { return traced_static(a) + 1; }

noinline long traced_tail(long a) { return traced_leaf(a * 2); }

noinline long traced_many_args(long a, long b, long c, long d, long e, long f, long h, long i)
{
	return a + b * c - d + e * f - h + i;
}

noinline __attribute__((noreturn)) void traced_noreturn(void)
{
	for (;;)
		sink(g);
}

/* not instrumented: the kernel's notrace */
notrace noinline long notrace_leaf(long a) { return a + 2; }
notrace noinline long notrace_calls(long a)
{
	sink(a);
	return notrace_leaf(a);
}
