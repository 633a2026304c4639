// SPDX-License-Identifier: GPL-2.0
/*
 * graft-bench: the guest side of `ci/run-qemu.sh bench` that a busybox
 * shell cannot do with sub-millisecond resolution.  Built static on the
 * host for each guest arch (ci/lib.sh graft_bench_bin: the host's gcc for
 * x86_64, Debian's cross gcc for arm64, ppc64le and s390x), put in the
 * initramfs (qemu-images/build-initramfs.sh) and run by
 * qemu-images/guest/bench.sh.
 *
 *   graft-bench threads N M
 *       spawn N threads sleeping in pause() and M threads calling getppid()
 *       in a tight loop; print "ready N M" and run until killed.
 *   graft-bench write-wait FILE VALUE POLL [TIMEOUT_MS]
 *       write VALUE to FILE while a SCHED_FIFO thread polls POLL until the
 *       transition is over (it read 1 then 0, or gone as upstream's patch
 *       directory once a disable completes; or the write returned and it
 *       reads 0: see struct watch); print the microseconds from just
 *       before the write.
 *   graft-bench load-wait KO POLL [TIMEOUT_MS [PARAMS]]
 *       finit_module(KO) with the module parameters PARAMS (e.g. "n=100"),
 *       POLL watched as by write-wait; print the microseconds from just
 *       before finit_module.
 *   graft-bench now
 *       print CLOCK_MONOTONIC in microseconds and the arch's free-running
 *       counter, read from user space as the kernel's clocksource reads it:
 *       "tsc=" (x86_64 rdtsc), "cntvct=" (arm64 CNTVCT_EL0, the arch
 *       timer), "tb=" (powerpc timebase, mftb), "tod=" (s390 TOD clock,
 *       stckf).  The host compares two of these with its own clock: a
 *       check of the guest's clock.
 *   graft-bench tsc-khz
 *       x86_64 only: the TSC's rate in kHz against CLOCK_MONOTONIC_RAW over
 *       200 ms: run on the host, whose TSC is what a QEMU TCG guest reads,
 *       for the guest's tsc_early_khz= (its own calibration fails under
 *       TCG).
 *   graft-bench calls FILE N RUNS
 *       RUNS times, pinned to CPU 0: write N to FILE (graft_test_bench
 *       times N calls in the kernel) and read "calls=N ns=T version=V ..."
 *       back; print one line "<ns/call> version=V" per run.
 *
 * Polls every 100 us (open, read, close: sysfs regenerates the value on
 * each open); GRAFT_BENCH_POLL_US sets another interval.  Exit status 0;
 * 1 on an error or timeout, with a message on stderr; 2 for bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long poll_ns = 100000L;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The arch's counter, the one its kernel clocksource reads. */
#if defined(__x86_64__)
#define COUNTER_NAME "tsc"
static unsigned long long counter(void)
{
	unsigned int lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}
#elif defined(__aarch64__)
#define COUNTER_NAME "cntvct"
static unsigned long long counter(void)
{
	unsigned long long v;

	/* EL0 access: the kernel's arch timer driver sets CNTKCTL_EL1.EL0VCTEN */
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}
#elif defined(__powerpc64__)
#define COUNTER_NAME "tb"
static unsigned long long counter(void)
{
	unsigned long long v;

	__asm__ volatile("mftb %0" : "=r"(v));
	return v;
}
#elif defined(__s390x__)
#define COUNTER_NAME "tod"
static unsigned long long counter(void)
{
	unsigned long long v;

	/* bit 51 is one microsecond: 4096 units per us */
	__asm__ volatile("stckf %0" : "=Q"(v) : : "cc");
	return v;
}
#elif defined(__riscv) && __riscv_xlen == 64
#define COUNTER_NAME "time"
static unsigned long long counter(void)
{
	unsigned long long v;

	/* the time CSR, which the kernel lets user mode read (scounteren.TM)
	 * for the vDSO, at the device tree's timebase-frequency */
	__asm__ volatile("rdtime %0" : "=r"(v));
	return v;
}
#else
#error "graft-bench: no counter for this arch"
#endif

#if defined(__x86_64__)
static long long raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
#endif

static int tsc_khz(void)
{
#if defined(__x86_64__)
	long long t0 = raw_ns(), t1;
	unsigned long long c0 = counter(), c1;

	sleep_ns(200000000L);
	t1 = raw_ns();
	c1 = counter();
	printf("%llu\n", (c1 - c0) * 1000000ULL / (unsigned long long)(t1 - t0));
	return 0;
#else
	fprintf(stderr, "graft-bench: tsc-khz: x86_64 only\n");
	return 1;
#endif
}

static long parse_num(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0) {
		fprintf(stderr, "graft-bench: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* The file's first line, or NULL (errno set) if it cannot be read. */
static char *read_line(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return NULL;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return NULL;
	buf[r] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = (ssize_t)strlen(val);

	if (fd < 0) {
		fprintf(stderr, "graft-bench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (write(fd, val, n) != n) {
		fprintf(stderr, "graft-bench: write '%s' to %s: %s\n", val, path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Timing a transition: the initiator (the caller's thread, at normal
 * priority, as an administrator's insmod or echo) reads the clock and makes
 * the one system call that starts it (finit_module, or the write); a
 * watcher thread at SCHED_FIFO, started before, polls `path` until the
 * transition is over: it read "1" and then "0" (or the file went away, as
 * upstream's patch directory after a disable, when gone_ok), or, if the
 * transition was too quick to be seen, the call returned and the file
 * reads "0".  The watcher must not be starved by the load it measures:
 * among 16 busy threads a nice-0 poller saw transition=0 up to 45 ms late,
 * and a poller that is also the writer, made SCHED_FIFO once its write
 * returned, lost up to 70 ms being preempted on its way back from the
 * write.  The work each engine does in the caller's context (all of
 * upstream livepatch's enable and disable; graft's registration) runs at
 * the caller's normal priority, as it would for an administrator.
 */
struct watch {
	const char *path;
	long timeout_ms;
	int gone_ok;
	long long t0;
	int started;	/* t0 is set; the call follows (atomic) */
	int returned;	/* the call returned: 1 ok, -1 failed (atomic) */
	int r;
};

static void *watcher(void *arg)
{
	struct watch *w = arg;
	char buf[64];
	int seen = 0, ret;

	while (!__atomic_load_n(&w->started, __ATOMIC_ACQUIRE))
		sleep_ns(poll_ns);
	for (;;) {
		ret = __atomic_load_n(&w->returned, __ATOMIC_ACQUIRE);
		if (ret < 0) {
			w->r = 1;	/* the initiator said why */
			return NULL;
		}
		if (read_line(w->path, buf, sizeof(buf))) {
			if (!strcmp(buf, "1"))
				seen = 1;
			else if (!strcmp(buf, "0") && (seen || ret))
				break;
		} else if ((errno == ENOENT || errno == ENODEV) && (seen || ret)) {
			/* ENODEV: the attribute's kobject is being removed */
			if (w->gone_ok)
				break;
			fprintf(stderr, "graft-bench: %s is gone\n", w->path);
			w->r = 1;
			return NULL;
		} else if (errno != ENOENT && errno != ENODEV) {
			fprintf(stderr, "graft-bench: read %s: %s\n", w->path, strerror(errno));
			w->r = 1;
			return NULL;
		}
		if ((now_ns() - w->t0) / 1000000 > w->timeout_ms) {
			fprintf(stderr, "graft-bench: %s still not 0 after %ld ms\n", w->path, w->timeout_ms);
			w->r = 1;
			return NULL;
		}
		sleep_ns(poll_ns);
	}
	printf("%lld\n", (now_ns() - w->t0) / 1000);
	return NULL;
}

/* Start the watcher of `w` at SCHED_FIFO (at normal priority if refused). */
static int watch_start(pthread_t *t, struct watch *w)
{
	struct sched_param fifo = { .sched_priority = 1 };
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &fifo);
	err = pthread_create(t, &attr, watcher, w);
	if (err) {
		fprintf(stderr, "graft-bench: SCHED_FIFO watcher: %s (at normal priority)\n", strerror(err));
		err = pthread_create(t, NULL, watcher, w);
	}
	pthread_attr_destroy(&attr);
	if (err)
		fprintf(stderr, "graft-bench: watcher: %s\n", strerror(err));
	return err;
}

/* The clock, then the call's start for the watcher. */
static void watch_go(struct watch *w)
{
	w->t0 = now_ns();
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
}

/* The call returned (`failed`: with an error); wait for the watcher. */
static int watch_end(pthread_t t, struct watch *w, int failed)
{
	__atomic_store_n(&w->returned, failed ? -1 : 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	return failed || w->r;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_getppid); /* the raw syscall: libc may cache pids */
	return NULL;
}

static int threads(long n, long m)
{
	pthread_attr_t attr;
	long i;

	pthread_attr_init(&attr);
	/* 1,000 threads in a 512 MiB guest: small user stacks */
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < n + m; i++) {
		pthread_t t;
		int err = pthread_create(&t, &attr, i < n ? sleeper : spinner, NULL);

		if (err) {
			fprintf(stderr, "graft-bench: thread %ld of %ld: %s\n", i + 1, n + m, strerror(err));
			return 1;
		}
	}
	printf("ready %ld %ld\n", n, m);
	fflush(stdout);
	for (;;)
		pause();
}

static int calls(const char *path, long n, long runs)
{
	char val[32], buf[128];
	cpu_set_t cpus;
	long r;

	/* every timing on one CPU: the kernel loop runs in this task */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		fprintf(stderr, "graft-bench: sched_setaffinity: %s (timing unpinned)\n", strerror(errno));
	snprintf(val, sizeof(val), "%ld", n);
	for (r = 0; r < runs; r++) {
		unsigned long got, ns;
		int version;

		if (write_str(path, val))
			return 1;
		if (!read_line(path, buf, sizeof(buf)) ||
		    sscanf(buf, "calls=%lu ns=%lu version=%d", &got, &ns, &version) != 3 || got != (unsigned long)n) {
			fprintf(stderr, "graft-bench: %s reads '%s'\n", path, buf);
			return 1;
		}
		printf("%.2f version=%d\n", (double)ns / (double)n, version);
	}
	return 0;
}

static int load_wait(const char *ko, const char *poll, long timeout_ms, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		fprintf(stderr, "graft-bench: open %s: %s\n", ko, strerror(errno));
		return 1;
	}
	struct watch w = { .path = poll, .timeout_ms = timeout_ms, .gone_ok = 0 };
	pthread_t t;

	if (watch_start(&t, &w)) {
		close(fd);
		return 1;
	}
	watch_go(&w);
	r = syscall(SYS_finit_module, fd, params, 0);
	if (r)
		fprintf(stderr, "graft-bench: finit_module %s: %s\n", ko, strerror(errno));
	close(fd);
	return watch_end(t, &w, r != 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: graft-bench threads N M\n"
			"       graft-bench write-wait FILE VALUE POLL [TIMEOUT_MS]\n"
			"       graft-bench load-wait KO POLL [TIMEOUT_MS [PARAMS]]\n"
			"       graft-bench calls FILE N RUNS\n"
			"       graft-bench now\n"
			"       graft-bench tsc-khz\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *poll = getenv("GRAFT_BENCH_POLL_US");

	if (poll && *poll)
		poll_ns = parse_num(poll, "GRAFT_BENCH_POLL_US") * 1000L;

	if (!strcmp(cmd, "now") && argc == 2) {
		printf("%lld " COUNTER_NAME "=%llu\n", now_ns() / 1000, counter());
		return 0;
	}
	if (!strcmp(cmd, "tsc-khz") && argc == 2)
		return tsc_khz();
	if (!strcmp(cmd, "threads") && argc == 4)
		return threads(parse_num(argv[2], "N"), parse_num(argv[3], "M"));
	if (!strcmp(cmd, "write-wait") && (argc == 5 || argc == 6)) {
		struct watch w = { .path = argv[4], .gone_ok = 1 };
		pthread_t t;

		w.timeout_ms = argc == 6 ? parse_num(argv[5], "timeout") : 30000;
		if (watch_start(&t, &w))
			return 1;
		watch_go(&w);
		return watch_end(t, &w, write_str(argv[2], argv[3]) != 0);
	}
	if (!strcmp(cmd, "load-wait") && argc >= 4 && argc <= 6)
		return load_wait(argv[2], argv[3], argc >= 5 ? parse_num(argv[4], "timeout") : 30000,
				 argc == 6 ? argv[5] : "");
	if (!strcmp(cmd, "calls") && argc == 5) {
		long n = parse_num(argv[3], "N"), runs = parse_num(argv[4], "RUNS");

		if (!n || !runs)
			usage();
		return calls(argv[2], n, runs);
	}
	usage();
	return 2;
}
