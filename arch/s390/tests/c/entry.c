/* Functions of the shapes kernel C code has, compiled by tests/site.rs with
 * each line of ftrace-flags.txt; every `traced_*` function must start with a
 * recognised ftrace site and every `notrace_*` one must be refused. */

/* include/linux/compiler_types.h */
#if defined(CC_USING_HOTPATCH)
#define notrace __attribute__((hotpatch(0, 0)))
#else
#define notrace __attribute__((__no_instrument_function__))
#endif
#define noinline __attribute__((__noinline__))

struct item { long key; struct item *next; };
extern long external(long, long);
extern void consume(char *, unsigned long);
extern int printk(const char *, ...);
long counter;

long traced_leaf(long x) { return x + 1; }

long traced_calls(long a, long b) { return external(a, b) * 3 + counter; }

static noinline long traced_static(struct item *it, long key)
{
	for (; it; it = it->next)
		if (it->key == key)
			return 1;
	return 0;
}

long traced_uses_static(struct item *it) { return traced_static(it, 42) + traced_static(it, 7); }

long traced_big_frame(unsigned long n)
{
	char buf[512];
	for (unsigned long i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * n);
	consume(buf, n);
	return buf[n & 511];
}

long traced_many_regs(long a, long b, long c, long d, long e, long f)
{
	long x = external(a, b), y = external(c, d), z = external(e, f);
	return external(x + y, z) + x * y * z + a * f;
}

int traced_varargs(const char *fmt, ...)
{
	__builtin_va_list ap;
	__builtin_va_start(ap, fmt);
	int r = __builtin_va_arg(ap, int);
	__builtin_va_end(ap);
	return printk(fmt, r);
}

void traced_void(void) { counter++; }

notrace long notrace_leaf(long x) { return x * 7; }

notrace long notrace_calls(long a) { return external(a, a) + 1; }
