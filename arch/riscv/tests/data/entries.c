/* Functions of the shapes kernel C takes, compiled by tests/site.rs with each
 * line of arch/riscv/ftrace-flags.txt.  Names starting "notrace_" must get no
 * ftrace entry; every other function must. */

/* The kernel's notrace with CC_USING_PATCHABLE_FUNCTION_ENTRY
 * (include/linux/compiler_types.h). */
#define notrace __attribute__((patchable_function_entry(0, 0)))

struct item { struct item *next; long key, val; };
long counter;
void (*hook)(long);

int leaf_add(int x) { return x + 1; }

long list_sum(const struct item *it)
{
	long s = 0;
	for (; it; it = it->next)
		s += it->val * it->key;
	return s;
}

__attribute__((noinline)) long callee(long a, long b, long c, long d, long e, long f, long g, long h, long i)
{
	return a * b + c * d - e * f + g * h + i;
}

long non_leaf(long x)
{
	long buf[32];
	for (int i = 0; i < 32; i++)
		buf[i] = callee(x, i, x + i, x - i, i, x, i * x, 3, 5);
	counter += buf[x & 31];
	return buf[(x + 1) & 31];
}

static void indirect_target(long v) { counter ^= v; }
void install_hook(void) { hook = indirect_target; }

void call_hook(long v)
{
	if (hook)
		hook(v);
}

/* A function whose body is tiny: the C extension packs it, so the
 * patchable nops must still come out as the kernel expects. */
short tiny(short x) { return x; }

/* no_instrument_function does not suppress -fpatchable-function-entry
 * (which is why the kernel's notrace uses the attribute above). */
__attribute__((no_instrument_function)) long no_instrument(long x) { return x * 7; }

notrace long notrace_leaf(long x) { return x * 9; }

notrace long notrace_non_leaf(long x) { return callee(x, x, x, x, x, x, x, x, x) + 1; }
