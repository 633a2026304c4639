// SPDX-License-Identifier: GPL-2.0
// The original of a patched function, for inspect/tests/preimage.rs: it
// calls a static function, reads a global and carries two of the sites
// the kernel rewrites (a sealed ENDBR-sized NOP, an alternative of five
// bytes), as kernel code built with -ffunction-sections would.
// -DOTHER builds another source: the same function, changed.
extern int counter;

static __attribute__((noinline)) int helper(int x)
{
	return x * 3 + counter;
}

int target(int x)
{
	asm volatile("1: .byte 0x0f, 0x1f, 0x40, 0x00\n"
		     ".pushsection .ibt_endbr_seal, \"a\"\n .long 1b - .\n .popsection\n"
		     "2: .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n3:\n"
		     ".pushsection .altinstructions, \"a\"\n"
		     " .long 2b - .\n .long 4f - .\n .long 0\n .byte 3b - 2b\n .byte 5f - 4f\n"
		     ".popsection\n"
		     ".pushsection .altinstr_replacement, \"ax\"\n4: .byte 0xe8, 0, 0, 0, 0\n5:\n.popsection\n");
#ifdef OTHER
	return x ? helper(x) * counter + 2 : 0;
#else
	return x ? helper(x) * counter + 1 : 0;
#endif
}
