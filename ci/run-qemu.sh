#!/usr/bin/env bash
# Boot graft's kernels under QEMU (TCG) and run the guest checks.
#
#   ci/run-qemu.sh matrix          all five arches and the two Debian rows, one table; non-zero if any
#                                  cell fails
#   ci/run-qemu.sh run ARCH        one arch (a TARGET: an arch, or debian-amd64 / debian-arm64, Debian's
#                                  stock kernel booted with its own vmlinuz; so for shell, demo, bench)
#   ci/run-qemu.sh verdict FILE    the pass/fail verdict of a results file (failed(); for tests)
#   ci/run-qemu.sh bench-tables FILE ARCH  the bench tables of a markers file (for tests)
#   ci/run-qemu.sh shell ARCH      an interactive console (Ctrl-a x quits QEMU)
#   ci/run-qemu.sh demo ARCH       show /proc/cmdline, live-patch it, show it, revert
#   ci/run-qemu.sh bench [ARCH]    upstream livepatch against graft in one boot of ARCH (default x86_64;
#                                  any arch whose engine runs, graft alone where its kernel has no livepatch:
#                                  riscv; graft.mode=bench, qemu-images/guest/bench.sh):
#                                  Markdown tables of the per-call cost of a patched function, transition
#                                  times, and enable/disable time and kernel memory of patches of 1 to 1,000
#                                  functions, with the targets in the footers; also in
#                                  $GRAFT_RESULTS/ARCH.bench.md.  Non-zero only if the harness broke (an error
#                                  marker, no end marker), not for a missed target.  GRAFT_BENCH_RUNS (5; s390,
#                                  powerpc 3), GRAFT_BENCH_CALLS (200000), GRAFT_BENCH_ROUNDS (5),
#                                  GRAFT_BENCH_POLL_US (100), GRAFT_BENCH_SCALE (1,10,100,1000: the scale
#                                  table's sizes), GRAFT_BENCH_SCALE_RUNS (3; s390, powerpc 1) tune it;
#                                  GRAFT_BENCH_TIMEOUT (2700 s; s390, powerpc 3600) bounds it.
#
# Kernels, module trees and images are cached under $GRAFT_CACHE (default
# ~/.cache/graft), keyed by kernel version, config fragments and toolchain.
# Serial logs and results go to $GRAFT_RESULTS (default ./results).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$GRAFT_TOP"
RESULTS=${GRAFT_RESULTS:-$GRAFT_TOP/results}
BOOT_TIMEOUT=${GRAFT_BOOT_TIMEOUT:-360}
RISCV_FIRMWARE=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

# Build (or find cached) kernel, graft.ko and initramfs; print "KDIR IMAGE INITRD GRAFT_KO".
prepare() {
  local arch=$1 kdir ko initrd
  is_debian_target "$1" && { prepare_debian "$1"; return; }
  kdir=$(qemu-images/build-kernel.sh "$arch")
  ko=$(make -s --no-print-directory kmod ARCH="$arch" KDIR="$kdir" | tail -n1)
  [ -f "$ko" ] || die "make kmod did not produce graft.ko for $arch"
  # every module the kmod build produced (graft.ko and the patch samples)
  mapfile -t kos < <(find "$(dirname "$ko")" -name '*.ko' | sort; dup_pick_params "$arch" "$(dirname "$ko")")
  # and, on graft's x86_64 kernel, the patch modules klp-build makes from
  # the fixes under tests/klp/ (S14, S15)
  if [ "$(klp_patches "$arch")" = yes ]; then
    # what make patch makes (the first builds klp-build's tree), then what
    # it must refuse (tests/klp/bad/)
    for fix in tests/klp/*.diff; do kos+=("$(GRAFT_KO=$ko qemu-images/make-patch.sh "$fix" | tail -n1)"); done
    GRAFT_KO=$ko tests/klp/refusals.sh || die "make patch: tests/klp/refusals.sh failed"
    # and the two S14 loads and graft refuses: a pre-image that is not the
    # kernel's, relocations against a module's symbols
    kos+=("$(GRAFT_KO=$ko qemu-images/make-patch.sh --wrong-preimage \
      -o "$GRAFT_CACHE/klp/out/livepatch_wrong_preimage.ko" tests/klp/proc-version-note.diff | tail -n1)")
    kos+=("$(GRAFT_KO=$ko qemu-images/make-patch.sh \
      -o "$GRAFT_CACHE/klp/out/livepatch_module_target.ko" tests/klp/module/shadow-mod-note.diff | tail -n1)")
  fi
  initrd=$(qemu-images/build-initramfs.sh "$arch" "$kdir" "${kos[@]}")
  echo "$kdir $kdir/$(arch_info "$arch" image) $initrd $ko"
}

# prepare for a Debian target: Debian's own vmlinuz (KDIR is the folder
# its packages were unpacked to), graft.ko and the modules built against
# its headers, and the kernel samples the checks load, built beside them.
prepare_debian() { # target
  local arch kdeb ko initrd
  arch=$(target_arch "$1")
  kdeb=$(qemu-images/fetch-debian-kernel.sh "$arch")
  ko=$(qemu-images/debian-kmod.sh "$arch" | tail -n1)
  [ -f "$ko" ] || die "qemu-images/debian-kmod.sh did not produce graft.ko for $1"
  mapfile -t kos < <(find "$(dirname "$ko")" -name '*.ko' -not -path '*/kernel-samples/src/*' | sort
    dup_pick_params "$arch" "$(dirname "$ko")")
  initrd=$(qemu-images/build-initramfs.sh "$arch" "$(dirname "$ko")" "${kos[@]}")
  echo "$kdeb $(echo "$kdeb"/usr/lib/modules/*/vmlinuz) $initrd $ko"
}

# dup_pick_params ARCH KMOD_DIR: S11's pre-image of graft_test_dup's
# second graft_test_dup_func, for graft_test_dup_pick
# (kmod/samples/graft_test_dup_pick.c), as the file the guest reads its
# parameters from; prints its path.  x86_64 only: graft-inspect has
# x86_64's tables of rewritten sites alone (S11 requires it there).
dup_pick_params() {
  local f=$2/samples/graft_test_dup_pick.params
  [ "$1" = x86_64 ] || return 0
  [ -f "$2/samples/graft_test_dup.ko" ] || return 0
  "$(graft_inspect_bin)" preimage --orig "$2/samples/graft_test_dup.ko" --params graft_test_dup_func,2 > "$f" ||
    die "no pre-image of graft_test_dup_func for S11"
  echo "$f"
}

# klp_patches TARGET: whether its image holds patch modules made by
# klp-build (make patch: x86_64 only in Linux 7.3, and for graft's own
# kernel, whose tree klp-build rebuilds), so that S14 is required
klp_patches() { if [ "$1" = x86_64 ]; then echo yes; else echo no; fi; }

# Whether the build made graft's patch samples beside graft.ko: kmod/Kbuild
# builds them for the arches whose engine runs, so the guest must then
# report the engine.  (Not graft.ko's exports: the patch ABI is exported
# wherever the engine's code is compiled, running or not.)
patch_samples() { # graft.ko
  if [ -f "$(dirname "$1")/samples/graft_sample_cmdline.ko" ]; then echo yes; else echo no; fi
}

# log_buf_len: the guest's checks read the whole kernel log (kernel-log,
# S5, S12), which outgrows the default 128 KiB buffer.
qemu_cmd() { # target image initrd mode [extra kernel arguments]
  local arch image=$2 initrd=$3 append="panic=-1 log_buf_len=4M graft.mode=$4${5:+ $5}" m
  arch=$(target_arch "$1")
  case "$arch" in
    x86_64) m="qemu-system-x86_64 -M pc -cpu max -m 512 -smp 2,sockets=2 -append 'console=ttyS0 $append'" ;;
    arm64) m="qemu-system-aarch64 -M virt -cpu max -m 512 -smp 2 -append 'console=ttyAMA0 $append'" ;;
    powerpc) m="qemu-system-ppc64 -M pseries -cpu power9 -m 1024 -smp 2 -append 'console=hvc0 $append'" ;;
    s390) m="qemu-system-s390x -M s390-ccw-virtio -cpu max -m 512 -smp 2 -append 'console=ttysclp0 $append'" ;;
    # Debian's OpenSBI (package opensbi) as the M-mode firmware that starts the kernel
    riscv) m="qemu-system-riscv64 -M virt -m 512 -smp 2 -bios $RISCV_FIRMWARE -append 'console=ttyS0 $append'" ;;
  esac
  echo "$m -nographic -no-reboot -kernel $image -initrd $initrd"
}

# Boot once in run mode; write the serial log and results; print the results file.
boot() { # arch mode
  local arch=$1 mode=${2:-run} kdir image initrd ko logf resf start rc kname
  read -r kdir image initrd ko < <(prepare "$arch")
  mkdir -p "$RESULTS"
  logf="$RESULTS/$arch.serial.log"; resf="$RESULTS/$arch.results"
  kname=$(basename "$kdir")
  # A Debian target boots the stock vmlinuz as Debian ships it: its checksum
  # says which.
  is_debian_target "$arch" && { kname="$kname vmlinuz-sha256=$(sha256sum "$image" | cut -c1-64)"; log "$arch: $kname"; }
  log "booting $arch (TCG, timeout ${BOOT_TIMEOUT}s), serial log: $logf"
  start=$(date +%s%N)
  rc=0
  # GRAFT_SCENARIOS=12,10: only those scenarios (a developer's shortcut;
  # the verdict then fails on the missing markers, as it should)
  eval "timeout $BOOT_TIMEOUT $(qemu_cmd "$arch" "$image" "$initrd" "$mode" "${GRAFT_SCENARIOS:+graft.scenarios=$GRAFT_SCENARIOS}")" </dev/null >"$logf" 2>&1 || rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  tr -d '\r' < "$logf" | grep -a '^GRAFT-RESULT ' | sed 's/^GRAFT-RESULT //' > "$resf" || true
  {
    grep -aq 'GRAFT-END' "$logf" || echo "end fail reason=no-end-marker(qemu-rc=$rc)"
    echo "wall ${ms}"
    echo "kernel $kname"
    echo "patch-samples $(patch_samples "$ko")"
    echo "klp-patches $(klp_patches "$arch")"
    echo "upstream-livepatch $(kernel_livepatch "$arch")"
  } >> "$resf"
  echo "$resf"
}

cell() { # results-file check-name -> pass/fail/-
  local r
  r=$(awk -v n="$2" '$1==n {print $2; exit}' "$1")
  echo "${r:--}"
}

# The scenarios an arch with the engine must pass, every one; and S14 and
# S15 where the image has klp-build's patch modules (klp-patches yes).
SCENARIOS=(S1 S2 S3 S4 S5 S6 S7 S8 S9 S10 S11 S12 S13)
scenarios() { # results-file
  if [ "$(cell "$1" klp-patches)" = yes ]; then echo "${SCENARIOS[@]}" S14 S15; else echo "${SCENARIOS[@]}"; fi
}

# Whether the arch of a results file has graft's engine: the guest saw
# /sys/kernel/graft with graft.ko loaded (engine pass), or the build made
# the patch samples for it (patch-samples yes).
has_engine() { [ "$(cell "$1" engine)" = pass ] || [ "$(cell "$1" patch-samples)" = yes ]; }

row() { # arch results-file
  local f=$2 boot lp rm gm st g kl wall s pass=0 tot=0
  boot=$(cell "$f" boot); rm=$(cell "$f" rust-module); gm=$(cell "$f" graft-module); st=$(cell "$f" graft-selftest)
  lp=$(cell "$f" livepatch-sample); kl=$(cell "$f" kernel-log)
  # graft scenarios: with the engine, passed/13 (a missing, skipped or
  # failed one is not passed); without it, "skip"
  local want
  read -r -a want <<< "$(scenarios "$f")"
  for s in "${want[@]}"; do
    case "$(cell "$f" "$s")" in pass) pass=$((pass + 1)); tot=$((tot + 1)) ;; fail) tot=$((tot + 1)) ;; esac
  done
  if has_engine "$f"; then g="$pass/${#want[@]}"; elif [ "$tot" = 0 ]; then g="skip (no engine)"; else g="$pass/$tot"; fi
  wall=$(awk '$1=="wall" {printf "%.1fs", $2/1000}' "$f")
  printf '| %-12s | %-17s | %-4s | %-17s | %-8s | %-14s | %-25s | %-16s | %-10s | %7s |\n' \
    "$1" "$(awk '$1=="boot" {for(i=3;i<=NF;i++) if ($i ~ /^kernel=/) print substr($i,8)}' "$f")" \
    "$boot" "$rm" "$gm" "$st" "$lp" "$g" "$kl" "$wall"
}

# failed results-file: true (0) if the arch failed: any fail line, a
# required cell not pass (kernel-log and engine included; the upstream
# livepatch sample may be n/a only where the kernel has no livepatch,
# upstream-livepatch no), the guest and the build disagreeing on the
# engine, or, with the engine, any of S1-S13 (and S14 and S15 with
# klp-patches yes) missing, skipped or failed.
failed() {
  local f=$1 c
  awk '$2 == "fail" { bad = 1 } END { exit !bad }' "$f" && return 0
  for c in boot rust-module graft-module graft-selftest livepatch-sample kernel-log; do
    [ "$c/$(cell "$f" "$c")/$(cell "$f" upstream-livepatch)" = livepatch-sample/n/a/no ] && continue
    [ "$(cell "$f" "$c")" = pass ] || return 0
  done
  case "$(cell "$f" engine)" in
    pass) ;;
    skip) [ "$(cell "$f" patch-samples)" = yes ] && return 0 ;;  # samples built, engine not seen in the guest
    *) return 0 ;;
  esac
  if has_engine "$f"; then
    for c in $(scenarios "$f"); do [ "$(cell "$f" "$c")" = pass ] || return 0; done
  fi
  return 1
}

header() {
  printf '| %-12s | %-17s | %-4s | %-17s | %-8s | %-14s | %-25s | %-16s | %-10s | %7s |\n' target kernel boot "Rust module loads" "graft.ko" "graft selftest" "upstream livepatch sample" "graft scenarios" "kernel log" "wall"
  printf '|%s|\n' "--------------|-------------------|------|-------------------|----------|----------------|---------------------------|------------------|------------|---------"
}

# The guest's clock markers get the host's clock (us) as they arrive on the
# serial console: two of them give the rate of the guest's clock.
stamp_clock() {
  local l
  while IFS= read -r l; do
    case "$l" in "GRAFT-BENCH clock "*) l="${l%$'\r'} host_us=${EPOCHREALTIME/./}" ;; esac
    printf '%s\n' "$l"
  done
}

# bench_defaults ARCH: "RUNS SCALE_RUNS TIMEOUT_S", the bench's defaults
# for ARCH.  s390 and powerpc guests are several times slower under TCG
# (and upstream's 1,000-function disable takes minutes even on x86_64):
# fewer runs there, and a longer bound on the whole boot.
bench_defaults() {
  case "$1" in
    s390|powerpc) echo 3 1 3600 ;;
    *) echo 5 3 2700 ;;
  esac
}

# bench_clock_args ARCH: extra kernel arguments that make the guest's clock
# track the host's under TCG (the tables' clock line checks that it does).
bench_clock_args() {
  case "$1" in
    x86_64)
      # Under TCG the guest kernel cannot calibrate its TSC (no HPET or ACPI
      # PM timer without ACPI; the PIT loop is too slow) or finds it
      # unsynchronised, and falls back to refined-jiffies: 4 ms steps at
      # HZ=250, and ticks lost under load (a quarter of them in a trial).  A
      # TCG guest reads the host's TSC, so give the guest the host's rate and
      # trust it (bench only).
      echo " tsc=reliable tsc_early_khz=$("$(guest_tool graft-bench x86_64)" tsc-khz)" ;;
    *)
      # Nothing to add: the other four kernels' clocksource is a counter
      # whose rate the kernel is told, not one it calibrates, and QEMU
      # derives each from its virtual clock, which under TCG (no icount) is
      # the host's monotonic clock: arm64 arch_sys_counter (CNTVCT_EL0 at
      # CNTFRQ_EL0, drivers/clocksource/arm_arch_timer.c), powerpc timebase
      # (mftb at the device tree's timebase-frequency, 512 MHz on pseries;
      # arch/powerpc/kernel/time.c), s390 tod (the TOD clock, 4096 units
      # per us; arch/s390/kernel/time.c), riscv riscv_clocksource (rdtime
      # at the device tree's timebase-frequency, 10 MHz on virt;
      # drivers/clocksource/timer-riscv.c).
      echo "" ;;
  esac
}

# bench_icount_clock_args ARCH: the kernel arguments of an icount boot
# (GRAFT_BENCH_ICOUNT=1), where QEMU's virtual clock is the instruction
# count and every counter derived from it ticks with the instructions.
bench_icount_clock_args() {
  case "$1" in
    x86_64) echo " tsc=reliable" ;;
    *) echo "" ;;
  esac
}

# The clocksources the guest may run on for the bench's times to be the
# host's (bench_clock_args), "|"-separated: the tables flag any other.
# x86_64 stays on tsc-early (the TSC at tsc_early_khz=) when the kernel
# does not refine its rate, which it cannot under TCG.
bench_clocksource() {
  case "$1" in
    x86_64) echo "tsc|tsc-early" ;; arm64) echo arch_sys_counter ;; powerpc) echo timebase ;; s390) echo tod ;;
    riscv) echo riscv_clocksource ;;
  esac
}

# The bench markers (GRAFT-BENCH lines without the prefix) as Markdown
# tables with the targets' verdicts.  TCG times are not hardware times: the
# ratios are what compares.
bench_tables() { # markers-file arch [note]
  awk -v arch="$2" -v want_cs="$(bench_clocksource "$2")" -v note="${3:-}" '
    function ms(us) { return sprintf("%.2f", us / 1000) }
    # upstream=none (a kernel without livepatch, riscv): its cells are n/a
    function na(k) { return (noklp && k ~ /\.klp(\.|$)/) || (nofast && k ~ /\.graftfast$/) }
    function cell(k) { return na(k) ? "n/a" : (k in med) ? ms(med[k]) " ms" : "-" }
    function ratio(a, b) { return na(b) ? "n/a" : (a in med) && (b in med) && med[b] > 0 ? sprintf("%.3f", med[a] / med[b]) : "-" }
    function kb(k) { return na(k) ? "n/a" : (k in med) ? sprintf("%.0f", med[k]) : "-" }
    # the kernel memory (kB) added by enabling engine e at n: Slab + VmallocUsed + Percpu
    function mem(n, e,   k, t) {
      t = 0
      split("slab vmalloc percpu", mk, " ")
      for (k = 1; k <= 3; k++) { if (!(("scalemem." n "." e "." mk[k]) in med)) return ""; t += med["scalemem." n "." e "." mk[k]] }
      return t
    }
    # target: engine graft at n=1000, enable or disable (what), <= 1 s and <= upstream
    function scale_target(what,   g, k) {
      g = "scale.1000.graft." what; k = "scale.1000.klp." what
      if (noklp) return !(g in med) ? "not measured" : med[g] <= 1000000 ? "met (<= 1 s; no upstream to compare)" : "NOT met"
      if (!(g in med) || !(k in med)) return "not measured"
      return (med[g] <= 1000000 && med[g] <= med[k]) ? "met" : "NOT met"
    }
    function scale_tables(   i, j, t, n, lo, hi, e, a, b, pf, names) {
      if (!nsz) return
      for (i = 2; i <= nsz; i++) for (j = i; j > 1 && sz[j - 1] > sz[j]; j--) { t = sz[j]; sz[j] = sz[j - 1]; sz[j - 1] = t }
      print ""
      print "### Scale: a patch of n of the 1,000 functions of graft_test_scale (median, insmod to transition=0 and enabled=0 to transition=0)"
      print ""
      print "| functions | upstream enable | graft enable | graft/upstream | upstream disable | graft disable | graft/upstream |"
      print "|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= nsz; i++) {
        n = "scale." sz[i]
        printf "| %d | %s | %s | %s | %s | %s | %s |\n", sz[i], cell(n ".klp.enable"), cell(n ".graft.enable"), ratio(n ".graft.enable", n ".klp.enable"),
          cell(n ".klp.disable"), cell(n ".graft.disable"), ratio(n ".graft.disable", n ".klp.disable")
      }
      print ""
      lo = sz[1]; hi = sz[nsz]
      if (hi > lo) {
        printf "Growth from %d to %d functions:", lo, hi
        split("graft klp", es, " "); split("graft|upstream", names, "|")
        for (i = 1; i <= 2; i++)
          if (na("scale." lo "." es[i]))
            printf "; %s n/a", names[i]
          else
            printf "%s %s enable x%s, disable x%s", (i > 1 ? ";" : ""), names[i],
              ratio("scale." hi "." es[i] ".enable", "scale." lo "." es[i] ".enable"),
              ratio("scale." hi "." es[i] ".disable", "scale." lo "." es[i] ".disable")
        print "."
      }
      e = noklp ? "graft" : "klp"
      printf "Runs per cell: %s%s; every run checked that the n functions ran the patch and then none did.\n", \
        f["scale." lo "." e ".enable", "runs"] ? f["scale." lo "." e ".enable", "runs"] : "-", noklp ? "" : " (engines alternate which goes first)"
      printf "Targets at 1,000 functions, each <= 1 s and <= upstream (same boot): enable **%s**, disable **%s**.\n", scale_target("enable"), scale_target("disable")
      print ""
      print "### Kernel memory added by enabling the patch (median kB of Slab, VmallocUsed and Percpu in /proc/meminfo: after the enable minus before)"
      print ""
      printf "| engine | n=%d slab / vmalloc / percpu | n=%d slab / vmalloc / percpu | per function, (n=%d - n=%d) / %d |\n", lo, hi, hi, lo, hi - lo
      print "|---|---:|---:|---:|"
      split("graft klp", es, " "); split("graft|upstream livepatch (klp)", names, "|")
      for (i = 1; i <= 2; i++) {
        e = es[i]; a = mem(lo, e); b = mem(hi, e)
        pf[e] = (a != "" && b != "" && hi > lo) ? (b - a) * 1024 / (hi - lo) : ""
        printf "| %s | %s / %s / %s | %s / %s / %s | %s |\n", names[i],
          kb("scalemem." lo "." e ".slab"), kb("scalemem." lo "." e ".vmalloc"), kb("scalemem." lo "." e ".percpu"),
          kb("scalemem." hi "." e ".slab"), kb("scalemem." hi "." e ".vmalloc"), kb("scalemem." hi "." e ".percpu"),
          na("x." e) ? "n/a" : pf[e] != "" ? sprintf("%.0f bytes", pf[e]) : "-"
      }
      print ""
      print "The same patch module at every n (its own text, data and sysfs cancel out): the growth is what the engine (and ftrace for it) keeps per function."
      printf "Target: graft <= 1 KiB per patched function (1 to 1,000 functions): **%s**.\n", \
        (lo != 1 || hi != 1000 || pf["graft"] == "") ? "not measured" : pf["graft"] <= 1024 ? "met" : "NOT met"
    }
    $1 == "error" { errs = errs "\n- error: " $2; next }
    $1 == "config" { for (i = 2; i <= NF; i++) { cfg = cfg " " $i; if ($i ~ /^poll_us=/) poll = substr($i, 9); if ($i ~ /^clocksource=/) cs = substr($i, 13); if ($i == "icount=1") icount = 1; if ($i == "upstream=none") noklp = 1; if ($i == "fast=no") nofast = 1 } next }
    $1 == "done" { done = 1; next }
    $1 == "clock" {
      h = 0; for (i = 3; i <= NF; i++) if ($i ~ /^host_us=/) h = substr($i, 9)
      if (++nclk == 1) { g0 = $2; h0 = h } else { g1 = $2; h1 = h }
      next
    }
    $1 ~ /^(percall|transition|scale|scalemem)\./ {
      med[$1] = $2
      if ($1 ~ /^scale\./) { split($1, sp, "."); if (!(sp[2] in isz)) { isz[sp[2]] = 1; sz[++nsz] = sp[2] + 0 } }
      for (i = 3; i <= NF; i++) if ($i ~ /^(runs|samples)=/) { split($i, kv, "="); f[$1, kv[1]] = kv[2] }
      # the 50 ms target is on transitions: a graft enable by insmod also
      # loads the module (upstream has no other enable), so it is left out
      # there and graft enabled=1 to 0 (reenable) stands for it
      if ($1 ~ /^transition\..*\.graft\./ && $1 !~ /\.graft\.enable$/) {
        n = split(f[$1, "samples"], sm, ",")
        for (i = 1; i <= n; i++) if (sm[i] + 0 > gmax) { gmax = sm[i] + 0; gmaxk = $1 }
        if ($1 ~ /release$/) { for (i = 1; i <= n; i++) if (sm[i] + 0 > rmax) rmax = sm[i] + 0 }
      }
    }
    END {
      u = "percall.unpatched"; k = "percall.klp"; g = "percall.graft"
      # icount=1 (GRAFT_BENCH_ICOUNT=1): the guest clock counted instructions
      unit = icount ? "instructions/call" : "ns/call"
      printf "### Per-call cost of a patched function (graft_test_bench_func, kernel loop%s)\n", icount ? "; instructions, QEMU -icount shift=0" : ""
      print ""
      printf "| variant | %s (median) | ratio to unpatched | timings |\n", unit
      print "|---|---:|---:|---:|"
      split("unpatched klp graft graftfast graft1000", vs, " "); split("unpatched|upstream livepatch (klp)|graft, handler|graft, fast path (direct call)|graft, handler, 1,000 other functions patched", names, "|")
      for (i = 1; i <= 5; i++) {
        v = "percall." vs[i]
        printf "| %s | %s | %s | %s |\n", names[i], na(v) ? "n/a" : (v in med) ? sprintf("%.2f", med[v]) : "-", na(v) ? "n/a" : ratio(v, u), f[v, "runs"] ? f[v, "runs"] : "-"
      }
      print ""
      if (noklp)
        printf "Target: graft per-call overhead <= upstream: **n/a** (no upstream livepatch in this kernel; over unpatched: graft %s %s).\n",
          (g in med) && (u in med) ? sprintf("%+.2f", med[g] - med[u]) : "-", unit
      else if ((k in med) && (g in med) && (u in med))
        printf "Target: graft per-call overhead <= upstream: **%s** (over unpatched: graft %+.2f %s, upstream %+.2f %s%s).\n",
          (med[g] <= med[k] ? "met" : "NOT met"), med[g] - med[u], unit, med[k] - med[u], unit,
          (med[k] > med[u] ? sprintf("; graft/upstream overhead %.3f", (med[g] - med[u]) / (med[k] - med[u])) : "")
      else
        print "Target: graft per-call overhead <= upstream: **not measured**"
      # the fast path (issue targets): <= 1.2x unpatched on x86_64, arm64
      # and s390x, <= upstream on powerpc
      gf = "percall.graftfast"
      if (nofast)
        print "Target: graft fast path: **n/a** (graft'"'"'s backend has no fast path on this arch yet; settled functions stay on the handler)."
      else if ((gf in med) && (u in med) && arch == "powerpc")
        printf "Target: graft fast path <= upstream: **%s** (fast path %.3f x unpatched).\n", (k in med) && med[gf] <= med[k] ? "met" : "NOT met", med[gf] / med[u]
      else if ((gf in med) && (u in med))
        printf "Target: graft fast path <= 1.2 x unpatched: **%s** (%.3f x; over unpatched %+.2f %s, the handler %+.2f %s).\n", med[gf] * 10 <= med[u] * 12 ? "met" : "NOT met",
          med[gf] / med[u], med[gf] - med[u], unit, (g in med) ? med[g] - med[u] : 0, unit
      else
        print "Target: graft fast path <= 1.2 x unpatched: **not measured**"
      g2 = "percall.graft1000"
      if ((g in med) && (g2 in med) && (u in med) && med[g] > med[u])
        printf "Per-call overhead with 1,000 other functions patched against one: %.2f (graft %+.2f %s, with 1,000 %+.2f %s): the handler finds its site by a hash, whatever their number; a site that is not in the row its hash names costs the rest of the probe.\n",
          (med[g2] - med[u]) / (med[g] - med[u]), med[g] - med[u], unit, med[g2] - med[u], unit
      else
        print "Per-call overhead with 1,000 other functions patched: **not measured**"
      if (icount) {
        print ""
        printf "QEMU TCG guest (%s), -icount shift=0,sleep=off: the guest clock advanced 1 ns per executed instruction, so the figures are instruction counts, the same from run to run.%s\n", arch, cfg
        if (errs != "") printf "\nErrors:%s\n", errs
        if (!done) print "\n- error: the guest did not finish the benchmark (no `done` marker)"
        exit
      }
      print ""
      print "### Transition time to transition=0 (median)"
      print ""
      print "| situation | upstream enable | graft enable | graft/upstream | graft enabled=1 | upstream disable | graft disable | graft/upstream |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|"
      split("idle load blocked", ss, " ")
      split("idle guest (livepatch-sample vs graft_sample_cmdline, insmod to 0)|1,000 sleeping + 16 syscall-loop threads (same)|task held 2 s in graft_test_sleeper_func: its release to 0", sn, "|")
      slower = ""
      for (i = 1; i <= 3; i++) {
        t = "transition." ss[i]; en = ss[i] == "blocked" ? "release" : "enable"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", sn[i], cell(t ".klp." en), cell(t ".graft." en),
          ratio(t ".graft." en, t ".klp." en), cell(t ".graft.reenable"), cell(t ".klp.disable"), cell(t ".graft.disable"),
          ratio(t ".graft.disable", t ".klp.disable")
        split(en " disable", ds, " ")
        for (j = 1; j <= 2; j++) {
          a = t ".graft." ds[j]; b = t ".klp." ds[j]
          if ((a in med) && (b in med) && med[a] > med[b]) slower = slower " " ss[i] "/" ds[j]
          if (!(a in med) || (!noklp && !(b in med))) missing = 1
        }
      }
      print ""
      printf "Runs per cell: %s (engines alternate which goes first); polling every %s us; every sample is in the markers file (%s).\n",
        f["transition.idle.graft.enable", "runs"], poll, FILENAME
      print "graft enabled=1: the patch disabled, then enabled again through sysfs (the transition alone; upstream frees a disabled patch, so insmod is its only enable)."
      printf "Targets: every graft transition <= 50 ms (disables, enabled=1, release): **%s** (slowest graft sample %s ms, %s); ", \
        (gmaxk == "" ? "not measured" : gmax <= 50000 ? "met" : "NOT met"), ms(gmax), gmaxk
      printf "graft never slower than upstream (medians, same boot): **%s**%s; ", \
        (noklp ? "n/a" : missing ? "not measured" : slower == "" ? "met" : "NOT met"), (slower == "" ? "" : " (slower:" slower ")")
      b = "transition.blocked.graft.release"
      printf "graft done <= 10 ms after the blocked task leaves: **%s** (median %s ms, slowest %s ms; upstream median %s).\n", \
        ((b in med) ? (rmax <= 10000 ? "met" : "NOT met") : "not measured"), (b in med) ? ms(med[b]) : "-", ms(rmax), \
        cell("transition.blocked.klp.release")
      print ""
      printf "QEMU TCG guest (%s):%s; times are not hardware times, compare the ratios.\n", arch, cfg
      if (note != "") printf "Smaller %s.\n", note
      if (cs !~ ("^(" want_cs ")$"))
        printf "Guest clocksource %s, not %s: **the guest clock may not follow the host, times above are suspect**.\n", (cs == "" ? "unknown" : cs), want_cs
      if (h1 > h0) {
        rate = (g1 - g0) / (h1 - h0)
        printf "Guest clock (%s) against the host clock over %.1f s: %.4f%s.\n", cs, (h1 - h0) / 1e6, rate,
          (rate < 0.98 || rate > 1.02) ? " (**off by more than 2%: times above are suspect**)" : ""
      } else
        print "Guest clock against the host clock: not measured."
      scale_tables()
      if (errs != "") printf "\nErrors:%s\n", errs
      if (!done) print "\n- error: the guest did not finish the benchmark (no `done` marker)"
    }' "$1"
}

cmd=${1:-}
case "$cmd" in
  matrix)
    shift; arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=("${ARCHES[@]}" "${DEBIAN_TARGETS[@]}")
    # Build everything first (one kernel build at a time), then boot.
    for a in "${arches[@]}"; do a=$(guest_target "$a"); prepare "$a" >/dev/null; done
    files=(); bad=0
    for a in "${arches[@]}"; do
      a=$(guest_target "$a"); f=$(boot "$a" run); files+=("$a:$f")
      if failed "$f"; then bad=1; log "$a: FAILED (see $RESULTS/$a.serial.log)"; else log "$a: ok"; fi
    done
    { header; for af in "${files[@]}"; do row "${af%%:*}" "${af#*:}"; done; } | tee "$RESULTS/matrix.md"
    exit $bad ;;
  run)
    a=$(guest_target "${2:?usage: run TARGET}"); f=$(boot "$a" run)
    header; row "$a" "$f"; cat "$f" >&2
    ! failed "$f" ;;
  bench-tables)
    bench_tables "${2:?usage: bench-tables MARKERS-FILE ARCH}" "$(norm_arch "${3:?ARCH}")" ;;
  verdict)
    f=${2:?usage: verdict RESULTS-FILE}
    if failed "$f"; then echo failed; exit 1; else echo ok; fi ;;
  demo)
    a=$(guest_target "${2:-x86_64}")
    read -r _ image initrd _ < <(prepare "$a")
    eval "timeout $BOOT_TIMEOUT $(qemu_cmd "$a" "$image" "$initrd" demo)" </dev/null | tr -d '\r' |
      sed -n '/^--- \/proc\/cmdline before/,/^GRAFT-END/p' | tee /dev/stderr | grep -q '^GRAFT-RESULT demo pass' ;;
  bench)
    t=$(guest_target "${2:-x86_64}"); a=$(target_arch "$t")
    read -r _ image initrd ko < <(prepare "$t")
    [ "$(patch_samples "$ko")" = yes ] ||
      die "bench: no graft patch modules for $a (kmod/Kbuild builds them where graft's engine runs)"
    mkdir -p "$RESULTS"
    logf="$RESULTS/$t.bench.log"; mf="$RESULTS/$t.bench"
    # Defaults per arch: s390 and powerpc guests run slower under TCG, so
    # fewer runs there (said in the tables' footer); the environment wins.
    read -r d_runs d_scale_runs d_timeout < <(bench_defaults "$a")
    note=""
    [ "$d_runs/$d_scale_runs" = 5/3 ] || note="defaults for $a (a slower TCG guest): GRAFT_BENCH_RUNS=$d_runs GRAFT_BENCH_SCALE_RUNS=$d_scale_runs GRAFT_BENCH_TIMEOUT=$d_timeout (x86_64: 5, 3, 2700)"
    timeout_s=${GRAFT_BENCH_TIMEOUT:-$d_timeout}
    extra="graft.bench_runs=${GRAFT_BENCH_RUNS:-$d_runs} graft.bench_calls=${GRAFT_BENCH_CALLS:-200000}"
    extra="$extra graft.bench_rounds=${GRAFT_BENCH_ROUNDS:-5} graft.bench_poll_us=${GRAFT_BENCH_POLL_US:-100}"
    extra="$extra graft.bench_scale=${GRAFT_BENCH_SCALE:-1,10,100,1000} graft.bench_scale_runs=${GRAFT_BENCH_SCALE_RUNS:-$d_scale_runs}"
    qemu_extra=""
    if [ "${GRAFT_BENCH_ICOUNT:-0}" = 1 ]; then
      # The deterministic per-call table: the guest clock counts executed
      # instructions (1 ns = 1 instruction), so ns/call reads as
      # instructions/call, whatever the host's load.  Only the per-call part
      # runs (bench.sh).
      qemu_extra=" -icount shift=0,sleep=off"
      extra="$extra graft.bench_icount=1$(bench_icount_clock_args "$a")"
    else
      extra="$extra$(bench_clock_args "$a")"
    fi
    # timestamps on the log lines, to see where a slow transition spent its
    # time; loglevel=4 (what `quiet` sets) keeps info lines off the serial
    # console: under TCG each printed line costs about 10 ms of the caller's
    # time, which would time the console instead of the engines (graft and
    # livepatch both log transitions at info/notice).  The guest prints the
    # kernel log at the end (bench-log: lines).
    extra="$extra printk.time=1 loglevel=4"
    log "benchmarking $t (TCG, timeout ${timeout_s}s), serial log: $logf"
    rc=0
    eval "timeout $timeout_s $(qemu_cmd "$t" "$image" "$initrd" bench "$extra")$qemu_extra" </dev/null 2>&1 |
      stamp_clock >"$logf" || rc=$?
    tr -d '\r' < "$logf" | grep -a 'GRAFT-BENCH ' | sed 's/.*GRAFT-BENCH //' > "$mf" || true  # (the first may follow the firmware's escapes on its line)
    [ "$rc" = 0 ] || log "qemu exited with $rc"
    bench_tables "$mf" "$a" "$note" | tee "$RESULTS/$t.bench.md"
    grep -q '^done' "$mf" && ! grep -q '^error' "$mf" ;;
  shell)
    a=$(guest_target "${2:?usage: shell TARGET}")
    read -r _ image initrd _ < <(prepare "$a")
    eval "$(qemu_cmd "$a" "$image" "$initrd" shell)" ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
