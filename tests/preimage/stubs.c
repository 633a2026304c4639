// SPDX-License-Identifier: GPL-2.0
// What the kernel's link gives the original (inspect/tests/preimage.rs).
int counter = 7;
void __fentry__(void) {}
void _start(void) {}
