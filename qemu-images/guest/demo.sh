# shellcheck shell=dash
# Demo: show /proc/cmdline, live-patch it, show it again, revert.  graft's own
# patch (graft.ko + graft_sample_cmdline.ko) where the engine runs (the build
# makes the patch modules there: kmod/Kbuild); upstream livepatch's sample
# on the other arches until it does there.  It passes when the patch's text
# was read while patched and the original once reverted.
# shellcheck source=lib.sh
. /graft/lib.sh
echo "--- /proc/cmdline before:"; cat /proc/cmdline
before=$(cat /proc/cmdline)
if [ -f $KO/graft_sample_cmdline.ko ]; then
  d=/sys/kernel/graft/graft_sample_cmdline
  echo "--- insmod graft.ko graft_sample_cmdline.ko"
  insmod $KO/graft.ko && insmod $KO/graft_sample_cmdline.ko && wait_for $d/transition 0 20000
  echo "--- /proc/cmdline while patched by graft:"; cat /proc/cmdline
  patched=$(cat /proc/cmdline)
  echo "--- graftctl list"; graftctl list
  echo "--- graftctl disable graft_sample_cmdline; graftctl wait graft_sample_cmdline"
  graftctl disable graft_sample_cmdline && graftctl wait graft_sample_cmdline 20
  rmmod graft_sample_cmdline && rmmod graft
  want="this has been live patched by graft"
else
  lp=/sys/kernel/livepatch/livepatch_sample
  echo "--- insmod livepatch-sample.ko (upstream; graft's engine does not run on $(cat /graft/arch) yet)"
  insmod $KO/livepatch-sample.ko && wait_for $lp/transition 0 20000
  echo "--- /proc/cmdline while patched:"; cat /proc/cmdline
  patched=$(cat /proc/cmdline)
  echo 0 > $lp/enabled
  i=0; while [ -d $lp ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
  rmmod livepatch_sample
  want="this has been live patched"
fi
echo "--- /proc/cmdline after revert:"; cat /proc/cmdline
if [ "$patched" != "$want" ]; then
  result demo fail "reason=not-patched:$(echo "$patched" | tr ' ' '_')"
elif [ "$(cat /proc/cmdline)" != "$before" ]; then
  result demo fail "reason=not-reverted:$(tr ' ' '_' < /proc/cmdline)"
else
  result demo pass
fi
