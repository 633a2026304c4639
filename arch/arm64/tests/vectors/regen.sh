#!/usr/bin/env bash
# Regenerate the arm64 codec vectors from GNU binutils, independently of the
# codec under test: each instruction is assembled by aarch64-linux-gnu-as
# (`nop`, `bl .+DISP`, `b .+DISP`), its bytes taken with objcopy, and the
# mnemonic read back from aarch64-linux-gnu-objdump at the vector's address.
#   arch/arm64/tests/vectors/regen.sh      (rewrites nop.txt, call.txt, jump.txt)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# bytes of one instruction, as "aa bb cc dd"
asm_bytes() {
  printf '.text\n%s\n' "$1" > "$tmp/i.s"
  aarch64-linux-gnu-as -o "$tmp/i.o" "$tmp/i.s"
  aarch64-linux-gnu-objcopy -O binary --only-section=.text "$tmp/i.o" "$tmp/i.bin"
  od -An -tx1 -v "$tmp/i.bin" | xargs
}
# objdump's mnemonic for the bytes in i.bin placed at $1
mnemonic() {
  aarch64-linux-gnu-objdump -D -b binary -m aarch64 -z --adjust-vma="$1" "$tmp/i.bin" |
    awk -F'\t' '/^ *[0-9a-f]+:\t/ { split($3, m, " "); print m[1]; exit }'
}

header() {
  echo "# arm64 $1 vectors: form | addr | target | bytes | GNU objdump mnemonic."
  echo "# Produced by arch/arm64/tests/vectors/regen.sh from aarch64-linux-gnu-as"
  echo "# ($(aarch64-linux-gnu-as --version | head -n1)); do not edit by hand."
}

{
  header nop
  for a in 0x0 0x1000 0xffff800080010004; do
    b=$(asm_bytes nop); echo "nop | $a | - | $b | $(mnemonic $a)"
  done
} > nop.txt

# address, displacement: zero, small both ways, the ends of imm26
# (-SZ_128M, SZ_128M - 4) and points between, in kernel and low memory.
pairs=(
  "0xffff800080010000 0"
  "0xffff800080010000 4"
  "0xffff800080010000 -4"
  "0xffff800080010000 0x40"
  "0xffff800080010000 -0x40"
  "0xffff800080010000 0x123454"
  "0xffff800080010000 -0x123454"
  "0xffff800080010000 0x4000000"
  "0xffff800080010000 -0x4000000"
  "0xffff800080010000 0x7fffffc"
  "0xffff800080010000 -0x8000000"
  "0xffff800088000000 -0x8000000"
  "0xffff80007ffffffc 0x7fffffc"
  "0x8000000 -0x8000000"
  "0x400000 0x7fffffc"
  "0x1000 0x1000"
)
for form in call jump; do
  op=$([ $form = call ] && echo bl || echo b)
  {
    header "$form ($op imm26)"
    for p in "${pairs[@]}"; do
      # shellcheck disable=SC2086  # "address displacement": split on purpose
      set -- $p
      a=$1 d=$2
      t=$(printf '0x%x' $(( a + d )))
      b=$(asm_bytes "$op .+($d)")
      echo "$form | $a | $t | $b | $(mnemonic "$a")"
    done
  } > $form.txt
done
