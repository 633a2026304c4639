// SPDX-License-Identifier: GPL-2.0
/*
 * graft-listmount [N]: S15's view of listmount(2) (Linux 7.3 fs/namespace.c,
 * include/uapi/linux/mount.h): N times (default 1), the mounts below the
 * root mount listed from the start (cursor 0) and after the largest id
 * (cursor U64_MAX), one line per pair of calls.  A kernel without the
 * 7.3.4 fix "listmount: don't wrap around with a U64_MAX cursor" lists
 * them all again after U64_MAX (the cursor plus one wraps to 0): "wraps";
 * with it, none: "ends"; anything else is "odd <from 0> <after U64_MAX>".
 * A failed call prints "error <errno>" and exits 1.  Lines are written
 * as they come (S15 counts them while the program runs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_listmount
#define __NR_listmount 458 /* the same number on every arch (asm-generic) */
#endif

/* struct mnt_id_req, MNT_ID_REQ_SIZE_VER0 and LSMT_ROOT of uapi/linux/mount.h */
struct mnt_id_req {
	uint32_t size;
	uint32_t mnt_ns_fd;
	uint64_t mnt_id;
	uint64_t param;
};
#define MNT_ID_REQ_SIZE_VER0 24
#define LSMT_ROOT 0xffffffffffffffffULL

static long lsmt(uint64_t cursor)
{
	uint64_t ids[512];
	struct mnt_id_req req = {
		.size = MNT_ID_REQ_SIZE_VER0,
		.mnt_id = LSMT_ROOT,
		.param = cursor,
	};

	return syscall(__NR_listmount, &req, ids, sizeof(ids) / sizeof(ids[0]), 0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 0; i < n; i++) {
		long all = lsmt(0), after = lsmt(UINT64_MAX);

		if (all < 0 || after < 0) {
			printf("error %d\n", errno);
			return 1;
		}
		if (all > 0 && after == all)
			puts("wraps");
		else if (all > 0 && after == 0)
			puts("ends");
		else
			printf("odd %ld %ld\n", all, after);
	}
	return 0;
}
