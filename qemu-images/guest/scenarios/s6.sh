# shellcheck shell=dash
# S6 shadow variables: graft_test_shadow checks the API graft.ko exports
# (alloc, duplicate refused, get_or_alloc, constructor and its failure,
# destructor, free, free_all, GFP_ATOMIC with interrupts off, impossible
# sizes) and leaves two variables that graft.ko must free when it unloads;
# graft_sample_shadow's /proc/cmdline counts its calls in a shadow counter
# attached to the inode, freed by its post_unpatch callback.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s6() {
  local line n i before
  needs S6 graft_test_shadow graft_sample_shadow || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S6 "insmod-graft:$(cat /tmp/err)"; return; }
  # 1. the API
  insmod $KO/graft_test_shadow.ko 2>/tmp/err || { fail S6 "insmod-test:$(cat /tmp/err)"; return; }
  line=$(dmesg | grep "graft_test_shadow: checks=" | tail -n 1)
  n=$(echo "$line" | sed -n 's/.*checks=\([0-9]*\) failed=0$/\1/p')
  [ -n "$n" ] || { fail S6 "api:$line:$(dmesg | grep 'graft_test_shadow: .*: fail$' | head -n 3 | sed 's/.*graft_test_shadow: //' | tr '\n' ' ')"; return; }
  [ "$n" -ge 26 ] || { fail S6 "api-checks:$n"; return; }
  dmesg | grep -q "graft: shadow: duplicate shadow variable" || { fail S6 duplicate-not-logged; return; }
  dmesg | grep -q "graft: shadow: failed to construct shadow variable .* (-22)" || { fail S6 ctor-failure-not-logged; return; }
  rmmod graft_test_shadow 2>/tmp/err || { fail S6 "rmmod-test:$(cat /tmp/err)"; return; }
  # 2. a patch's shadow counter
  load graft_sample_shadow || { fail S6 "load-sample:$(cat /tmp/err)"; return; }
  for i in 1 2 3; do
    cmdline_is "$TXT1 (shadow count $i)" || { fail S6 "count-$i:$(cat /proc/cmdline)"; return; }
  done
  set_enabled graft_sample_shadow 0 || { fail S6 "disable:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S6 "not-restored:$(cat /proc/cmdline)"; return; }
  dmesg | grep -q "graft_sample_shadow: shadow counters freed" || { fail S6 counters-not-freed; return; }
  set_enabled graft_sample_shadow 1 || { fail S6 "reenable:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1 (shadow count 1)" || { fail S6 "count-after-free:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_shadow 0 || { fail S6 "disable-2:$(cat /tmp/err)"; return; }
  rmmod graft_sample_shadow 2>/tmp/err || { fail S6 "rmmod-sample:$(cat /tmp/err)"; return; }
  # 3. graft.ko frees the test module's two leftovers
  rmmod graft 2>/tmp/err || { fail S6 "rmmod-graft:$(cat /tmp/err)"; return; }
  dmesg | grep -q "graft: shadow: freed 2 shadow variable(s) left at unload" || { fail S6 leftovers-not-freed; return; }
  result S6 pass "checks=$n"
}

s6
