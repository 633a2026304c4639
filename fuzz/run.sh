#!/usr/bin/env bash
# make fuzz: write the seeds, run every fuzz target for FUZZ_SECONDS, and
# print one table of what each reached (from libFuzzer's own lines: the
# seed count, `#N INITED cov: E`, `#N DONE cov: E ft: F corp: C/B`, and
# `stat::number_of_executed_units`).
#
#   FUZZ_SECONDS=30   seconds per target
#   FUZZ_SEEDS=1      0: start from empty corpora (no seeds)
#   FUZZ_FRESH=0      1: forget the corpus earlier runs grew (to measure)
#   FUZZ_TARGETS=...  only these targets (default: all)
#
# Seeds: fuzz/seeds/<target>/ (small, committed) and $GRAFT_CACHE/fuzz-seeds/
# (written by `cargo run -p graft-fuzz-input --example seeds`, never
# committed).  The corpus a run grows is kept in $GRAFT_CACHE/fuzz-corpus/,
# libFuzzer's output in $GRAFT_CACHE/fuzz-logs/<target>.log, crashes in
# fuzz/artifacts/.  Exits non-zero if a target fails.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

secs=${FUZZ_SECONDS:-30}
use_seeds=${FUZZ_SEEDS:-1}
fresh=${FUZZ_FRESH:-0}
read -r -a cargo <<<"${CARGO:-cargo +$RUST_VERSION}"
seeds=$GRAFT_CACHE/fuzz-seeds
corpora=$GRAFT_CACHE/fuzz-corpus
logs=$GRAFT_CACHE/fuzz-logs
mkdir -p "$corpora" "$logs"
export RUSTC_BOOTSTRAP=1

if [ "$use_seeds" = 1 ]; then
  log "fuzz: writing seeds to $seeds"
  (cd "$GRAFT_TOP" && "${cargo[@]}" run -q -p graft-fuzz-input --example seeds -- "$seeds" "$GRAFT_CACHE") >&2
fi

cd "$GRAFT_TOP/fuzz"
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <("${cargo[@]}" fuzz list)
fi

# field LOG PATTERN: the first number after PATTERN on libFuzzer's last
# line that has it ("-" if none).
field() {
  local v
  v=$(grep -aE "$2" "$1" | tail -n1 | sed -nE "s/.*$2[[:space:]]*([0-9]+).*/\1/p")
  echo "${v:--}"
}

rows=() failed=0
for t in "${targets[@]}"; do
  work=$corpora/$t
  [ "$fresh" = 1 ] && rm -rf "$work"
  mkdir -p "$work"
  dirs=("$work")
  if [ "$use_seeds" = 1 ]; then
    for d in "$GRAFT_TOP/fuzz/seeds/$t" "$seeds/$t"; do
      [ -d "$d" ] && dirs+=("$d")
    done
  fi
  lf=$logs/$t.log
  log "fuzz: $t for ${secs}s (${#dirs[@]} corpus folder(s))"
  rc=0
  "${cargo[@]}" fuzz run -O "$t" "${dirs[@]}" -- -max_total_time="$secs" -print_final_stats=1 >"$lf" 2>&1 || rc=$?
  nseeds=$(field "$lf" 'seed corpus: files:')
  [ "$nseeds" = - ] && nseeds=0
  inited=$(field "$lf" 'INITED cov:')
  cov=$(field "$lf" 'DONE +cov:')
  ft=$(field "$lf" 'DONE +cov: [0-9]+ ft:')
  corp=$(field "$lf" 'DONE +cov: [0-9]+ ft: [0-9]+ corp:')
  execs=$(field "$lf" 'stat::number_of_executed_units:')
  rate=$(field "$lf" 'stat::average_exec_per_sec:')
  status=ok
  if [ "$rc" != 0 ]; then
    status="FAILED (rc $rc, see $lf)"
    failed=1
  fi
  rows+=("| $t | $nseeds | $execs | $rate | $inited | $cov | $ft | $corp | $status |")
done

echo
echo "fuzz: ${secs}s per target, seeds $([ "$use_seeds" = 1 ] && echo on || echo off)$([ "$fresh" = 1 ] && echo ', fresh corpora')"
echo
echo "| target | seeds | executions | exec/s | edges at start | edges | features | corpus | status |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
