#!/usr/bin/env bash
# graft-bench's write-wait on files standing in for sysfs (the host's
# build of qemu-images/guest-src/graft-bench.c): its watcher waits while
# the file reads 1 and times from before the write; a transition too quick
# to be seen ends when the write returned and the file reads 0; a file
# gone after the write ends it (upstream's patch directory after a
# disable); a failed write and a timeout fail.  Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../ci/lib.sh
. ci/lib.sh
gb=$(guest_tool graft-bench x86_64)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
check() { # NAME CONDITION-RESULT(0 ok) DETAIL
  if [ "$2" = 0 ]; then echo "ok      $1"; else echo "FAILED  $1: $3"; bad=1; fi
}

# in transition (the write set 1, as both engines do before it returns)
# for 300 ms: the watcher must wait for the 0.  The 300 ms start before
# graft-bench does, so it times a little less (299,660 us once): at least
# 200 ms proves the wait, where a watcher that did not wait times ~0.
echo 1 > "$tmp/transition"; : > "$tmp/enabled"
( sleep 0.3; echo 0 > "$tmp/transition" ) &
us=$("$gb" write-wait "$tmp/enabled" 1 "$tmp/transition" 5000); wait
[ "$us" -ge 200000 ] && [ "$us" -lt 3000000 ]; check waits-while-1 $? "$us us"
[ "$(cat "$tmp/enabled")" = 1 ]; check wrote $? "enabled: $(cat "$tmp/enabled")"

# over before the watcher saw it: the write returned and it reads 0
echo 0 > "$tmp/transition"
us=$("$gb" write-wait "$tmp/enabled" 0 "$tmp/transition" 5000)
[ "$us" -lt 200000 ]; check returned-and-0 $? "$us us"

# gone after the write (upstream's directory after a disable)
us=$("$gb" write-wait "$tmp/enabled" 0 "$tmp/gone" 5000) || us=failed
[ "$us" != failed ] && [ "$us" -lt 200000 ]; check gone-ok $? "$us"

# a write that fails, and a transition that never ends
if "$gb" write-wait "$tmp/no/such" 1 "$tmp/transition" 5000 2>"$tmp/err"; then r=1; else r=0; fi
check write-fails "$r" "accepted"
echo 1 > "$tmp/transition"
if "$gb" write-wait "$tmp/enabled" 1 "$tmp/transition" 300 2>"$tmp/err"; then r=1; else r=0; fi
check timeout "$r" "accepted"
grep -q "still not 0 after 300 ms" "$tmp/err"; check timeout-message $? "$(cat "$tmp/err")"
exit $bad
