#!/usr/bin/env bash
# The bench tables' clock checks (ci/run-qemu.sh bench_tables, through
# `bench-tables`) on made-up marker files: per arch, the guest's
# clocksource must be the one that follows the host's clock under TCG
# (x86_64 tsc or tsc-early, arm64 arch_sys_counter, powerpc timebase, s390
# tod, riscv riscv_clocksource) and the guest's clock must keep within 2%
# of the host's; either failing marks the times as suspect.  And a kernel
# without upstream livepatch (riscv, config upstream=none) gets n/a in
# every upstream cell and target, never a comparison.  Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

markers() { # clocksource guest-us-elapsed (over 100 s of host time)
  cat <<EOT
config arch=x clocksource=$1 kernel=7.3.4 cpus=2 runs=1
clock 1000000 c=1 host_us=5000000000
percall.unpatched 10.00 runs=5 samples=10,10,10,10,10
clock $((1000000 + $2)) c=2 host_us=5100000000
done
EOT
}
# expect ARCH CLOCKSOURCE GUEST-US WANT-SUSPECT(yes|no) NAME
expect() {
  local out got
  markers "$2" "$3" > "$tmp/m"
  out=$(ci/run-qemu.sh bench-tables "$tmp/m" "$1")
  if grep -q 'suspect' <<<"$out"; then got=yes; else got=no; fi
  if ! grep -q "^Guest clock ($2) against the host clock over 100.0 s: " <<<"$out"; then
    echo "FAILED  $5: no clock line"; bad=1
  elif [ "$got" = "$4" ]; then echo "ok      $5"
  else echo "FAILED  $5: suspect=$got, expected $4"; grep -i clock <<<"$out"; bad=1; fi
}

expect x86_64 tsc 100000000 no "x86_64 tsc, clock 1.0000"
expect x86_64 tsc-early 100500000 no "x86_64 tsc-early, clock 1.0050"
expect x86_64 refined-jiffies 100000000 yes "x86_64 on jiffies"
expect x86_64 tsc 75000000 yes "x86_64 clock 0.75 (ticks lost)"
expect arm64 arch_sys_counter 100000000 no "arm64 arch timer, clock 1.0000"
expect arm64 arch_sys_counter 103000000 yes "arm64 clock 1.03"
expect arm64 jiffies 100000000 yes "arm64 on jiffies"
expect powerpc timebase 99900000 no "powerpc timebase, clock 0.9990"
expect powerpc timebase 97000000 yes "powerpc clock 0.97"
expect s390 tod 100000000 no "s390 tod, clock 1.0000"
expect s390 tsc 100000000 yes "s390 on another arch's clocksource"
expect s390 tod 50000000 yes "s390 clock 0.5"
expect riscv riscv_clocksource 100000000 no "riscv timer, clock 1.0000"
expect riscv jiffies 100000000 yes "riscv on jiffies"

# upstream=none: graft's figures, upstream's n/a
cat > "$tmp/m" <<EOT
config arch=riscv clocksource=riscv_clocksource kernel=7.3.4 upstream=none fast=no cpus=2 runs=1
percall.unpatched 10.00 runs=5 samples=10,10,10,10,10
percall.graft 12.00 runs=5 samples=12,12,12,12,12
transition.idle.graft.enable 9000.00 runs=1 samples=9000
transition.idle.graft.disable 8000.00 runs=1 samples=8000
transition.idle.graft.reenable 7000.00 runs=1 samples=7000
scale.1000.graft.enable 500000.00 runs=1 samples=500000
scale.1000.graft.disable 400000.00 runs=1 samples=400000
done
EOT
out=$(ci/run-qemu.sh bench-tables "$tmp/m" riscv)
nocmp() { # NAME PATTERN: the tables hold a line matching PATTERN
  if grep -qE -- "$2" <<<"$out"; then echo "ok      $1"; else echo "FAILED  $1: no line matching $2"; bad=1; fi
}
nocmp "upstream=none: per-call row n/a" '^\| upstream livepatch \(klp\) \| n/a \| n/a \|'
nocmp "upstream=none: graft's per-call figure" '^\| graft, handler \| 12\.00 \| 1\.200 \|'
nocmp "fast=no: the fast path's row n/a" '^\| graft, fast path \(direct call\) \| n/a \| n/a \|'
nocmp "fast=no: its target n/a" '^Target: graft fast path: \*\*n/a\*\*'
nocmp "upstream=none: per-call target n/a" 'per-call overhead <= upstream: \*\*n/a\*\*'
nocmp "upstream=none: transition row" '^\| idle guest .* \| n/a \| 9\.00 ms \| n/a \| 7\.00 ms \| n/a \| 8\.00 ms \| n/a \|'
nocmp "upstream=none: never-slower target n/a" 'never slower than upstream \(medians, same boot\): \*\*n/a\*\*'
nocmp "upstream=none: scale row" '^\| 1000 \| n/a \| 500\.00 ms \| n/a \|'
nocmp "upstream=none: scale target on 1 s alone" 'enable \*\*met \(<= 1 s; no upstream to compare\)\*\*'
if grep -q 'NOT met' <<<"$out"; then echo "FAILED  upstream=none: a NOT met"; bad=1; else echo "ok      upstream=none: nothing NOT met"; fi

# An icount run (GRAFT_BENCH_ICOUNT=1): the per-call table in instructions,
# graft's overhead against upstream's, and nothing about transitions or the
# guest clock (which counted instructions, not the host's time).
icount() { # graft-median want-verdict name [fast-median want-fast-verdict]
  local out
  cat > "$tmp/m" <<EOT
config arch=x clocksource=tsc-early kernel=7.3.4 cpus=2 runs=5 icount=1 fast=yes
clock 1000000 c=1 host_us=5000000000
percall.unpatched 23.00 runs=10 samples=23,23
percall.klp 114.00 runs=5 samples=114,114
percall.graft $1 runs=5 samples=$1,$1
percall.graftfast ${4:-24.00} runs=5 samples=${4:-24.00}
percall.graft1000 $1 runs=5 samples=$1,$1
clock 9000000 c=2 host_us=5100000000
done
EOT
  out=$(ci/run-qemu.sh bench-tables "$tmp/m" x86_64)
  if ! grep -q '^| variant | instructions/call (median) |' <<<"$out"; then
    echo "FAILED  $3: no instructions/call table"; bad=1
  elif ! grep -q "^Target: graft per-call overhead <= upstream: \*\*$2\*\*" <<<"$out"; then
    echo "FAILED  $3: verdict not $2"; grep Target <<<"$out"; bad=1
  elif ! grep -q "^Target: graft fast path <= 1.2 x unpatched: \*\*${5:-met}\*\*" <<<"$out"; then
    echo "FAILED  $3: fast-path verdict not ${5:-met}"; grep Target <<<"$out"; bad=1
  elif grep -q -e 'Transition time' -e 'suspect' -e 'Guest clock' <<<"$out"; then
    echo "FAILED  $3: transition or clock lines in an icount table"; bad=1
  else
    echo "ok      $3"
  fi
}
icount 112.00 met "icount: graft 2 instructions under upstream"
icount 116.00 "NOT met" "icount: graft 2 instructions over upstream"
icount 112.00 met "icount: fast path at 1.2 x unpatched" 27.60 met
icount 112.00 met "icount: fast path over 1.2 x unpatched" 27.70 "NOT met"
exit $bad
