# shellcheck shell=dash
# Guest helpers (busybox sh).  Every check prints one marker line on the
# console:
#   GRAFT-RESULT <name> <pass|fail|skip> [key=value ...]
# and keeps "<name> <pass|fail|skip> ..." in $GRAFT_RESULTS, so later checks
# can read earlier results.
GRAFT_RESULTS=/tmp/graft.results
result() { echo "GRAFT-RESULT $*"; echo "$*" >> $GRAFT_RESULTS; }
KO=/graft/ko
# ms since boot
now_ms() { awk '{printf "%d\n", $1*1000}' /proc/uptime; }
# wait_for FILE VALUE TIMEOUT_MS: poll until FILE holds VALUE
wait_for() {
  local f=$1 want=$2 t=${3:-10000} start
  start=$(now_ms)
  while [ "$(cat "$f" 2>/dev/null)" != "$want" ]; do
    [ $(( $(now_ms) - start )) -gt "$t" ] && return 1
    sleep 0.05
  done
  return 0
}
# fast_arch: graft's backend for this arch has a fast path (EntrySite::direct,
# docs/ARCHITECTURE.md "The fast path"): a settled patched function must then
# be on a direct call (path=direct), never on the handler
fast_arch() { case "$(cat /graft/arch)" in x86_64 | arm64 | s390 | riscv) return 0 ;; esac; return 1; }
# engine_probe: "pass" if graft.ko has its engine (/sys/kernel/graft once
# it is loaded), "skip" if it loads without one, "fail" if it cannot load
engine_probe() {
  [ -d /sys/kernel/graft ] && { echo pass; return; }
  insmod $KO/graft.ko 2>/dev/null || { echo fail; return; }
  if [ -d /sys/kernel/graft ]; then echo pass; else echo skip; fi
  rmmod graft
}
# The kernel's complaints: WARNING:, BUG:, Oops, lockdep's (possible
# circular locking, INFO: ...) and the workqueue's.
COMPLAINT='WARNING:|BUG:|Oops|possible circular locking|INFO: |workqueue:'
# graft_complaints LOGFILE: each complaint line of a kernel log whose report
# names graft: the line itself, or a frame of one of graft's modules
# ("[graft...]") in the lines after it, up to its end trace or 60 lines
# (the "Modules linked in:" list, which names graft whenever it is loaded,
# does not count); and every BUG: and Oops line, whatever it names: the
# guests run nothing but graft's checks, and an oops whose RIP is in no
# module (a call sent into data) names none.  tests/kernel-log/run.sh
# tests it on made-up logs.
graft_complaints() {
  awk -v re="$COMPLAINT" '
    { line[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        if (line[i] !~ re) continue
        hit = line[i] ~ /graft|BUG:|Oops/
        for (j = i + 1; !hit && j <= NR && j <= i + 60; j++) {
          if (line[j] ~ /---\[ end trace/) break
          if (line[j] ~ /\[graft[a-z0-9_]*\]/) hit = 1
        }
        if (hit) print line[i]
      }
    }' "$1"
}
