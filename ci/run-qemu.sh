#!/usr/bin/env bash
# Boot graft's kernels under QEMU (TCG) and run the guest checks.
#
#   ci/run-qemu.sh matrix          all four arches, one table; non-zero if any cell fails
#   ci/run-qemu.sh run ARCH        one arch
#   ci/run-qemu.sh shell ARCH      an interactive console (Ctrl-a x quits QEMU)
#   ci/run-qemu.sh demo ARCH       show /proc/cmdline, live-patch it, show it, revert
#
# Kernels, module trees and images are cached under $GRAFT_CACHE (default
# ~/.cache/graft), keyed by kernel version, config fragments and toolchain.
# Serial logs and results go to $GRAFT_RESULTS (default ./results).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$GRAFT_TOP"
RESULTS=${GRAFT_RESULTS:-$GRAFT_TOP/results}
BOOT_TIMEOUT=${GRAFT_BOOT_TIMEOUT:-180}

# Build (or find cached) kernel, graft.ko and initramfs; print "KDIR IMAGE INITRD".
prepare() {
  local arch=$1 kdir ko initrd
  kdir=$(qemu-images/build-kernel.sh "$arch")
  ko=$(make -s --no-print-directory kmod ARCH="$arch" KDIR="$kdir" | tail -n1)
  [ -f "$ko" ] || die "make kmod did not produce graft.ko for $arch"
  # every module the kmod build produced (graft.ko and the patch samples)
  mapfile -t kos < <(find "$(dirname "$ko")" -name '*.ko' | sort)
  initrd=$(qemu-images/build-initramfs.sh "$arch" "$kdir" "${kos[@]}")
  echo "$kdir $kdir/$(arch_info "$arch" image) $initrd"
}

qemu_cmd() { # arch image initrd mode
  local arch=$1 image=$2 initrd=$3 append="panic=-1 graft.mode=$4" m
  case "$arch" in
    x86_64) m="qemu-system-x86_64 -M pc -cpu max -m 512 -smp 2,sockets=2 -append 'console=ttyS0 $append'" ;;
    arm64) m="qemu-system-aarch64 -M virt -cpu max -m 512 -smp 2 -append 'console=ttyAMA0 $append'" ;;
    powerpc) m="qemu-system-ppc64 -M pseries -cpu power9 -m 1024 -smp 2 -append 'console=hvc0 $append'" ;;
    s390) m="qemu-system-s390x -M s390-ccw-virtio -cpu max -m 512 -smp 2 -append 'console=ttysclp0 $append'" ;;
  esac
  echo "$m -nographic -no-reboot -kernel $image -initrd $initrd"
}

# Boot once in run mode; write the serial log and results; print the results file.
boot() { # arch mode
  local arch=$1 mode=${2:-run} kdir image initrd logf resf start rc
  read -r kdir image initrd < <(prepare "$arch")
  mkdir -p "$RESULTS"
  logf="$RESULTS/$arch.serial.log"; resf="$RESULTS/$arch.results"
  log "booting $arch (TCG, timeout ${BOOT_TIMEOUT}s), serial log: $logf"
  start=$(date +%s%N)
  rc=0
  eval "timeout $BOOT_TIMEOUT $(qemu_cmd "$arch" "$image" "$initrd" "$mode")" </dev/null >"$logf" 2>&1 || rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  tr -d '\r' < "$logf" | grep -a '^GRAFT-RESULT ' | sed 's/^GRAFT-RESULT //' > "$resf" || true
  grep -aq 'GRAFT-END' "$logf" || echo "end fail reason=no-end-marker(qemu-rc=$rc)" >> "$resf"
  echo "wall ${ms}" >> "$resf"
  echo "kernel $(basename "$kdir")" >> "$resf"
  echo "$resf"
}

cell() { # results-file check-name -> pass/fail/-
  local r
  r=$(awk -v n="$2" '$1==n {print $2; exit}' "$1")
  echo "${r:--}"
}

row() { # arch results-file
  local f=$2 boot lp rm gm st g wall
  boot=$(cell "$f" boot); rm=$(cell "$f" rust-module); gm=$(cell "$f" graft-module); st=$(cell "$f" graft-selftest)
  lp=$(cell "$f" livepatch-sample)
  # graft scenarios: S1..S12 markers, summarised as passed/total
  local tot pass
  # (a skipped scenario counts in neither)
  tot=$(grep -Ec '^S[0-9]+ (pass|fail)' "$f" || true); pass=$(grep -c '^S[0-9][0-9]* pass' "$f" || true)
  if [ "$tot" = 0 ]; then g="-"; else g="$pass/$tot"; fi
  wall=$(awk '$1=="wall" {printf "%.1fs", $2/1000}' "$f")
  printf '| %-7s | %-7s | %-4s | %-17s | %-8s | %-14s | %-25s | %-15s | %7s |\n' \
    "$1" "$(awk '$1=="boot" {for(i=3;i<=NF;i++) if ($i ~ /^kernel=/) print substr($i,8)}' "$f")" \
    "$boot" "$rm" "$gm" "$st" "$lp" "$g" "$wall"
}

failed() { # results-file: any fail line, or a missing required cell
  grep -q ' fail' "$1" && return 0
  for c in boot rust-module graft-module graft-selftest livepatch-sample; do [ "$(cell "$1" "$c")" = pass ] || return 0; done
  return 1
}

header() {
  printf '| %-7s | %-7s | %-4s | %-17s | %-8s | %-14s | %-25s | %-15s | %7s |\n' arch kernel boot "Rust module loads" "graft.ko" "graft selftest" "upstream livepatch sample" "graft scenarios" "wall"
  printf '|%s|\n' "---------|---------|------|-------------------|----------|----------------|---------------------------|-----------------|---------"
}

cmd=${1:-}
case "$cmd" in
  matrix)
    shift; arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=("${ARCHES[@]}")
    # Build everything first (one kernel build at a time), then boot.
    for a in "${arches[@]}"; do prepare "$(norm_arch "$a")" >/dev/null; done
    files=(); bad=0
    for a in "${arches[@]}"; do
      a=$(norm_arch "$a"); f=$(boot "$a" run); files+=("$a:$f")
      failed "$f" && { bad=1; log "$a: FAILED (see $RESULTS/$a.serial.log)"; } || log "$a: ok"
    done
    { header; for af in "${files[@]}"; do row "${af%%:*}" "${af#*:}"; done; } | tee "$RESULTS/matrix.md"
    exit $bad ;;
  run)
    a=$(norm_arch "${2:?usage: run ARCH}"); f=$(boot "$a" run)
    header; row "$a" "$f"; cat "$f" >&2
    ! failed "$f" ;;
  demo)
    a=$(norm_arch "${2:-x86_64}")
    read -r _ image initrd < <(prepare "$a")
    eval "timeout $BOOT_TIMEOUT $(qemu_cmd "$a" "$image" "$initrd" demo)" </dev/null | tr -d '\r' |
      sed -n '/^--- \/proc\/cmdline before/,/^GRAFT-END/p' | tee /dev/stderr | grep -q '^GRAFT-RESULT demo pass' ;;
  shell)
    a=$(norm_arch "${2:?usage: shell ARCH}")
    read -r _ image initrd < <(prepare "$a")
    eval "$(qemu_cmd "$a" "$image" "$initrd" shell)" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
