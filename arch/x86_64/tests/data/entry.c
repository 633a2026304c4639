/* Functions whose entry sequences tests/site.rs checks, compiled with every
 * line of ftrace-flags.txt.  Freestanding: no headers. */

extern long ext_sink(long v);
extern int ext_table[16];

/* A leaf. */
int entry_leaf(int x)
{
	return x * 3 + 1;
}

/* Sets up a frame and calls out. */
long entry_calls(long a, long b)
{
	long r = ext_sink(a + b);
	return ext_sink(r * a) + 1;
}

/* Local but kept, with its address taken (an indirect-call target). */
static __attribute__((used, noinline)) int entry_static(int i)
{
	return ext_table[i & 15];
}
int (*entry_static_ptr)(int) = entry_static;

/* Variadic. */
int entry_varargs(int n, ...)
{
	__builtin_va_list ap;
	int s = 0;

	__builtin_va_start(ap, n);
	while (n-- > 0)
		s += __builtin_va_arg(ap, int);
	__builtin_va_end(ap);
	return s;
}

/* No ENDBR even under -fcf-protection=branch: the site is at the symbol. */
__attribute__((nocf_check)) int entry_nocf(int x)
{
	return ext_table[x & 15] + x;
}

/* notrace in the kernel: no fentry call at all. */
__attribute__((no_instrument_function)) int entry_notrace(int x)
{
	return x - 7;
}

/* notrace and no ENDBR. */
__attribute__((no_instrument_function, nocf_check)) int entry_notrace_nocf(int x)
{
	return ext_table[x & 15] - x;
}
