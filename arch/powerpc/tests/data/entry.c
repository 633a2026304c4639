/* Functions whose entries tests/site.rs recognises after compiling this file
 * with each line of ../../ftrace-flags.txt.  Names starting with "notrace_"
 * must be refused; every other function must be recognised. */
#define notrace __attribute__((no_instrument_function, noinline))
#define traced __attribute__((noinline))

int counter;
extern int ext(int);
extern void ext_v(void *);

traced int leaf_const(void) { return 42; }
traced int reads_global(void) { return counter; }
traced void writes_global(int v) { counter = v; }
traced int calls_other(int a) { return ext(a) + 1; }
traced int tail_call(int a) { return ext(a); }
traced int big_frame(int a)
{
	char buf[512];
	for (int i = 0; i < 512; i++)
		buf[i] = (char)(a + i);
	ext_v(buf);
	return buf[a & 511];
}
traced long many_args(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j)
{
	return ext((int)(a + b + c + d + e + f + g + h + i + j)) + counter;
}
static traced int local_helper(int a) { return ext(a * 3) + counter; }
traced int calls_static(int a) { return local_helper(a) + local_helper(a + 1); }

notrace int notrace_leaf(void) { return 7; }
notrace int notrace_global(void) { return counter + 1; }
notrace int notrace_tail(int a) { return ext(a); }
notrace int notrace_calls(int a) { return ext(a) * 2 + counter; }
