#!/usr/bin/env bash
# Regenerate the riscv codec vectors from GNU binutils, independently of the
# codec under test: each instruction is assembled by riscv64-linux-gnu-as
# (`nop`, `c.nop`, `jal t0, .+DISP`, `j .+DISP`; `.option norvc` but for
# `c.nop`), and each auipc+jalr pair
# linked by riscv64-linux-gnu-ld at the vector's address against an absolute
# target (`%pcrel_hi`/`%pcrel_lo`: the linker does the +0x800 rounding; where
# the displacement does not fit it may write `lui` instead, which
# tests/vectors.rs refuses); the bytes are taken with objcopy and the
# mnemonic read back from riscv64-linux-gnu-objdump at that address.
#   arch/riscv/tests/vectors/regen.sh   (rewrites every *.txt here)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
AS=riscv64-linux-gnu-as LD=riscv64-linux-gnu-ld

# bytes of the .text of $1 (an object or a linked file), as "aa bb cc dd"
text_bytes() {
  riscv64-linux-gnu-objcopy -O binary --only-section=.text "$1" "$tmp/i.bin"
  od -An -tx1 -v "$tmp/i.bin" | xargs
}
# assemble one instruction (position-independent: `.+DISP`), uncompressed
# unless it is a compressed one
asm_bytes() {
  local rvc=norvc
  case "$1" in c.*) rvc=rvc ;; esac
  printf '.option norelax\n.option %s\n.text\n%s\n' "$rvc" "$1" > "$tmp/i.s"
  $AS -march=rv64imac -o "$tmp/i.o" "$tmp/i.s"
  text_bytes "$tmp/i.o"
}
# link `auipc t0, %pcrel_hi(T); jalr RD, %pcrel_lo(1b)(t0)` at address $1
pair_bytes() { # $1 addr, $2 target, $3 rd
  printf '.option norelax\n.text\n.globl _start\n_start:\n1: auipc t0, %%pcrel_hi(target)\njalr %s, %%pcrel_lo(1b)(t0)\n' \
    "$3" > "$tmp/p.s"
  $AS -march=rv64imac -o "$tmp/p.o" "$tmp/p.s"
  $LD -m elf64lriscv --no-relax -Ttext="$1" --defsym=target="$2" -o "$tmp/p" "$tmp/p.o"
  text_bytes "$tmp/p"
}
# objdump's mnemonics (joined by +) for the bytes in i.bin placed at $1
mnemonic() {
  riscv64-linux-gnu-objdump -D -b binary -m riscv:rv64 -z --adjust-vma="$1" "$tmp/i.bin" |
    awk -F'\t' '/^ *[0-9a-f]+:\t/ { split($3, m, " "); s = s (s ? "+" : "") m[1] } END { print s }'
}

header() {
  echo "# riscv $1 vectors: form | addr | target | bytes | GNU objdump mnemonic."
  echo "# Produced by arch/riscv/tests/vectors/regen.sh from riscv64-linux-gnu-as and -ld"
  echo "# ($($AS --version | head -n1)); do not edit by hand."
}

{
  header "nop (RISCV_INSN_NOP4)"
  for a in 0x0 0x1000 0xffffffff80123454; do
    b=$(asm_bytes nop); echo "nop | $a | - | $b | $(mnemonic $a)"
  done
} > nop.txt
{
  header "c.nop (the compiler's compressed padding; decoded, never written)"
  for a in 0x0 0x1002 0xffffffff80123452; do
    b=$(asm_bytes c.nop); echo "c.nop | $a | - | $b | $(mnemonic $a)"
  done
} > c-nop.txt

# address, displacement: zero, small both ways, bit 11 and 12 boundaries,
# the ends of the J-type imm21 (-1 MiB, 1 MiB - 2), kernel and low memory.
jal_pairs=(
  "0xffffffff80123450 0" "0xffffffff80123450 2" "0xffffffff80123450 -2"
  "0xffffffff80123450 0x7fe" "0xffffffff80123450 0x800" "0xffffffff80123450 -0x800"
  "0xffffffff80123450 0x12344" "0xffffffff80123450 -0x12344"
  "0xffffffff80123450 0xffffe" "0xffffffff80123450 -0x100000"
  "0xffffffff80000000 -0x100000" "0x100000 -0x100000" "0x1000 0xffffe" "0x1002 0x400"
)
for form in call jump; do
  op=$([ $form = call ] && echo "jal t0," || echo "j")
  {
    header "$form (${op%,} imm21)"
    for p in "${jal_pairs[@]}"; do
      # shellcheck disable=SC2086  # "address displacement": split on purpose
      set -- $p
      a=$1 d=$2
      t=$(printf '0x%x' $(( a + d )))
      b=$(asm_bytes "$op .+($d)")
      echo "$form | $a | $t | $b | $(mnemonic "$a")"
    done
  } > jal-$form.txt
done

# The pair: displacements around the rounding of the high part (bit 11),
# both ends of the reach (-2 GiB - 0x800, 2 GiB - 0x801 rounded down to even),
# module text to the kernel and back.
pair_pairs=(
  "0xffffffff80123450 0" "0xffffffff80123450 4" "0xffffffff80123450 -4"
  "0xffffffff80123450 0x7fe" "0xffffffff80123450 0x800" "0xffffffff80123450 -0x800"
  "0xffffffff80123450 -0x802" "0xffffffff80123450 0xffe" "0xffffffff80123450 0x1000"
  "0xffffffff80123450 0x12345678" "0xffffffff80123450 -0x12345678"
  "0xffffffff80000000 0x7ffff7fe" "0xffffffff80000000 -0x80000800"
  "0xffffffff01234560 0x7f000000" "0x1000 0x40000000"
)
for form in call jump; do
  rd=$([ $form = call ] && echo t0 || echo zero)
  {
    header "$form-pair (auipc t0 + jalr $rd: ftrace's call, make_call_t0())"
    for p in "${pair_pairs[@]}"; do
      # shellcheck disable=SC2086
      set -- $p
      a=$1 d=$2
      t=$(printf '0x%x' $(( a + d )))
      b=$(pair_bytes "$a" "$t" "$rd")
      echo "$form-pair | $a | $t | $b | $(mnemonic "$a")"
    done
  } > pair-$form.txt
done
