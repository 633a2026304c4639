#!/usr/bin/env bash
# The guest's kernel-log check (graft_complaints in qemu-images/guest/lib.sh)
# on made-up kernel logs: which complaints name graft and which do not.  Run
# with the host's sh and awk, and with busybox sh and busybox awk (the
# guest's) when a busybox is on PATH.  Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
LIB=$PWD/qemu-images/guest/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
n=0

runners="host"
if command -v busybox >/dev/null; then
  mkdir -p "$tmp/bb"; ln -s "$(command -v busybox)" "$tmp/bb/awk"; runners="$runners busybox"
fi
complaints() { # runner logfile
  if [ "$1" = busybox ]; then
    PATH="$tmp/bb:$PATH" busybox sh -c '. "$0"; graft_complaints "$1"' "$LIB" "$2"
  else
    sh -c '. "$0"; graft_complaints "$1"' "$LIB" "$2"
  fi
}
# expect NAME WANT: the log on stdin yields exactly WANT (complaint lines)
expect() {
  local name=$1 want=$2 r got
  cat > "$tmp/log"
  for r in $runners; do
    got=$(complaints "$r" "$tmp/log")
    if [ "$got" = "$want" ]; then n=$((n + 1)); else
      echo "FAILED [$r] $name"; echo "  expected: ${want:-(nothing)}"; echo "  got: ${got:-(nothing)}"; bad=1
    fi
  done
}

expect "a clean log" "" <<'EOT'
Linux version 7.3.4 (x@y) #1 SMP
graft: loaded on 7.3.4 (x86_64 backend)
graft: graft_sample_cmdline: enabling
transition pass 1: pid 42 (sh) waits: graft_test_sleeper_func+0x10/0x40 [graft_test_sleeper] in frame 3
EOT

expect "the deprecated workqueue, named on its line" \
  "workqueue: work func graft_sys_exit_fn [graft] enqueued on deprecated workqueue. Use system_{percpu|dfl}_wq instead." <<'EOT'
Linux version 7.3.4
workqueue: work func graft_sys_exit_fn [graft] enqueued on deprecated workqueue. Use system_{percpu|dfl}_wq instead.
EOT

expect "a WARNING with a frame in graft.ko" "WARNING: CPU: 1 PID: 77 at kernel/trace/ftrace.c:2345 ftrace_bug+0x10/0x20" <<'EOT'
Linux version 7.3.4
------------[ cut here ]------------
WARNING: CPU: 1 PID: 77 at kernel/trace/ftrace.c:2345 ftrace_bug+0x10/0x20
Modules linked in: graft(O) rust_minimal
CPU: 1 UID: 0 PID: 77 Comm: sh Tainted: G O 7.3.4 #1
RIP: 0010:ftrace_bug+0x10/0x20
Call Trace:
 <TASK>
 graft_shim_register+0x44/0x90 [graft]
 do_one_initcall+0x40/0x200
 </TASK>
---[ end trace 0000000000000000 ]---
EOT

expect "a WARNING elsewhere while graft is loaded (Modules linked in only)" "" <<'EOT'
Linux version 7.3.4
WARNING: CPU: 0 PID: 1 at mm/slub.c:100 kmem_cache_free+0x1/0x2
Modules linked in: graft(O) graft_test_sleeper(O) graft_sample_cmdline(O)
Call Trace:
 kmem_cache_free+0x1/0x2
 do_exit+0x3/0x4
---[ end trace 0000000000000000 ]---
transition pass 1: pid 42 (sh) waits: graft_test_sleeper_func+0x10/0x40 [graft_test_sleeper] in frame 3
EOT

expect "lockdep naming a graft test module" "WARNING: possible circular locking dependency detected" <<'EOT'
Linux version 7.3.4
======================================================
WARNING: possible circular locking dependency detected
7.3.4 #1 Tainted: G O
------------------------------------------------------
sh/99 is trying to acquire lock:
 (graft_mutex){+.+.}-{4:4}, at: graft_rs_store+0x20/0x100 [graft]
EOT

expect "a hung task INFO: in a graft module" "INFO: task sh:50 blocked for more than 120 seconds." <<'EOT'
Linux version 7.3.4
INFO: task sh:50 blocked for more than 120 seconds.
Call Trace:
 schedule+0x1/0x2
 graft_test_sleeper_func+0x30/0x50 [graft_test_sleeper]
EOT

expect "an Oops in graft (RIP)" "Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP" <<'EOT'
Linux version 7.3.4
Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP
CPU: 0 UID: 0 PID: 12 Comm: kworker/0:1H
RIP: 0010:graft_rs_work+0x12/0x40 [graft]
EOT

expect "a BUG: naming graft on its line" "BUG: sleeping function called from invalid context at graft_shim_copy_stack" <<'EOT'
Linux version 7.3.4
BUG: sleeping function called from invalid context at graft_shim_copy_stack
EOT

expect "an INFO: far from any graft frame" "" <<'EOT'
Linux version 7.3.4
INFO: lockdep is turned off.
a
b
c
d
e
f
g
h
i
j
k
l
m
n
o
p
q
r
s
t
u
v
w
x
y
z
1
2
3
4
5
6
7
8
9
10
11
12
13
14
15
16
17
18
19
20
21
22
23
24
25
26
27
28
29
30
31
32
33
34
35
transition pass 1: pid 42 (sh) waits: graft_test_sleeper_func+0x10/0x40 [graft_test_sleeper] in frame 3
EOT

expect "an Oops whose trace names no module (a call sent into data)" "BUG: unable to handle page fault for address: ff11000000a6c4d0
Oops: Oops: 0011 [#1] SMP" <<'EOT'
kernel tried to execute NX-protected page - exploit attempt? (uid: 0)
BUG: unable to handle page fault for address: ff11000000a6c4d0
#PF: supervisor instruction fetch in kernel mode
Oops: Oops: 0011 [#1] SMP
RIP: 0010:0xff11000000a6c4d0
Call Trace:
 <TASK>
 ? cmdline_proc_show+0x9/0x30
 proc_reg_read_iter+0x2f/0x6e
 </TASK>
Modules linked in: graft_sample_cmdline(O) graft(O)
---[ end trace 0000000000000000 ]---
EOT

[ $bad = 0 ] && echo "kernel-log: $n checks passed ($runners)"
exit $bad
