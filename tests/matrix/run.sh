#!/usr/bin/env bash
# The matrix's verdict (ci/run-qemu.sh failed(), through `verdict`) on
# made-up results files: an arch whose graft.ko has the engine must pass
# every one of S1-S13 (missing, skipped or failed is a failure), and S14-S15
# where its image has klp-build's patch modules (klp-patches yes), every arch
# needs the kernel-log check, and the guest and the build must agree on
# the engine.  Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

base() { # engine-cell patch-samples: a results file whose required cells pass
  cat <<EOT
boot pass uptime_ms=900 kernel=7.3.4 machine=x86_64
rust-module pass
graft-module pass
engine $1
graft-selftest pass frames=5 sites=6
livepatch-sample pass enable_ms=40
kernel-log pass lines=900 complaints_not_graft=0
wall 60000
kernel x86_64-0123456789ab
patch-samples $2
EOT
}
scenarios() { # status [except N]: S1-S13 with status, all but S<except>
  local n
  for n in 1 2 3 4 9 11 8 12 10 5 6 13 7; do [ "$n" = "${2:-}" ] || echo "S$n $1 x=1"; done
}
expect() { # want(ok|failed) name: the verdict of $tmp/r must be want
  local got
  got=$(ci/run-qemu.sh verdict "$tmp/r" 2>&1) || true
  if [ "$got" = "$1" ]; then echo "ok      $2"; else echo "FAILED  $2: verdict '$got', expected '$1'"; bad=1; fi
}

{ base pass yes; scenarios pass; } > "$tmp/r"; expect ok "engine, S1-S13 pass"
{ base pass yes; scenarios pass 13; } > "$tmp/r"; expect failed "engine, S13 missing"
{ base pass yes; scenarios pass 13; echo "S13 fail reason=x"; } > "$tmp/r"; expect failed "engine, S13 failed"
{ base pass yes; scenarios pass 5; } > "$tmp/r"; expect failed "engine, S5 missing"
{ base pass yes; scenarios pass 7; } > "$tmp/r"; expect failed "engine, S7 missing"
{ base pass yes; scenarios pass 5; echo "S5 skip reason=x"; } > "$tmp/r"; expect failed "engine, S5 skipped"
{ base pass yes; scenarios pass 5; echo "S5 fail reason=x"; } > "$tmp/r"; expect failed "engine, S5 failed"
{ base pass yes; } > "$tmp/r"; expect failed "engine, no scenario at all"
{ base pass no; scenarios pass 12; } > "$tmp/r"; expect failed "engine seen in the guest only, S12 missing"
{ base skip yes; scenarios skip; } > "$tmp/r"; expect failed "patch samples built, engine not seen in the guest"
{ base skip no; scenarios skip; } > "$tmp/r"; expect ok "no engine, S1-S13 skipped"
{ base skip no; } > "$tmp/r"; expect ok "no engine, no scenario"
{ base skip no; scenarios skip; echo "S3 fail reason=x"; } > "$tmp/r"; expect failed "no engine, a scenario failed"
{ base pass yes | grep -v '^engine '; scenarios pass; } > "$tmp/r"; expect failed "no engine line"
{ base skip no | grep -v '^kernel-log '; } > "$tmp/r"; expect failed "no engine, kernel-log missing"
{ base skip no | sed 's/^kernel-log pass.*/kernel-log fail reason=WARNING:_at_graft/'; } > "$tmp/r"; expect failed "no engine, kernel-log failed"
{ base pass yes | grep -v '^kernel-log '; scenarios pass; } > "$tmp/r"; expect failed "engine, kernel-log missing"
{ base skip no | sed 's/^graft-selftest pass.*/graft-selftest fail reason=x/'; } > "$tmp/r"; expect failed "selftest failed"
{ base skip no; echo "end fail reason=no-end-marker(qemu-rc=124)"; } > "$tmp/r"; expect failed "no end marker"

# S14 (klp-build's patch module) is required exactly where the image has one
{ base pass yes; scenarios pass; echo "klp-patches yes"; echo "S14 pass x=1"; echo "S15 pass x=1"; } > "$tmp/r"; expect ok "klp patches, S14 and S15 pass"
{ base pass yes; scenarios pass; echo "klp-patches yes"; echo "S14 pass x=1"; } > "$tmp/r"; expect failed "klp patches, S15 missing"
{ base pass yes; scenarios pass; echo "klp-patches yes"; } > "$tmp/r"; expect failed "klp patches, S14 missing"
{ base pass yes; scenarios pass; echo "klp-patches yes"; echo "S14 skip reason=x"; } > "$tmp/r"; expect failed "klp patches, S14 skipped"
{ base pass yes; scenarios pass; echo "klp-patches no"; echo "S14 skip reason=x"; } > "$tmp/r"; expect ok "no klp patches, S14 skipped"
{ base pass yes; scenarios pass; echo "klp-patches no"; echo "S14 fail reason=x"; } > "$tmp/r"; expect failed "no klp patches, S14 failed"

# upstream's livepatch sample may be n/a only on a kernel without livepatch
{ base pass yes | sed 's/^livepatch-sample pass.*/livepatch-sample n\/a reason=no-livepatch-in-kernel/'; echo "upstream-livepatch no"; scenarios pass; } > "$tmp/r"
expect ok "no livepatch in the kernel, livepatch-sample n/a"
{ base pass yes | sed 's/^livepatch-sample pass.*/livepatch-sample n\/a reason=no-livepatch-in-kernel/'; echo "upstream-livepatch yes"; scenarios pass; } > "$tmp/r"
expect failed "livepatch in the kernel, livepatch-sample n/a"
{ base pass yes | sed 's/^livepatch-sample pass.*/livepatch-sample n\/a reason=no-livepatch-in-kernel/'; scenarios pass; } > "$tmp/r"
expect failed "no upstream-livepatch line, livepatch-sample n/a"
{ base pass yes | grep -v '^livepatch-sample '; echo "upstream-livepatch no"; scenarios pass; } > "$tmp/r"
expect failed "no livepatch in the kernel, livepatch-sample missing"
{ base pass yes | sed 's/^livepatch-sample pass.*/livepatch-sample fail reason=x/'; echo "upstream-livepatch no"; scenarios pass; } > "$tmp/r"
expect failed "no livepatch in the kernel, livepatch-sample failed"

[ $bad = 0 ] && echo "matrix verdict: all cases as expected"
exit $bad
