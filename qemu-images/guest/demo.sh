# Demo: show /proc/cmdline, apply a live patch, show it again, revert.
. /graft/lib.sh
echo "--- /proc/cmdline before:"; cat /proc/cmdline
lp=/sys/kernel/livepatch/livepatch_sample
insmod $KO/livepatch-sample.ko && wait_for $lp/transition 0 20000
echo "--- /proc/cmdline while patched:"; cat /proc/cmdline
patched=$(cat /proc/cmdline)
echo 0 > $lp/enabled
i=0; while [ -d $lp ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
rmmod livepatch_sample
echo "--- /proc/cmdline after revert:"; cat /proc/cmdline
[ "$patched" = "this has been live patched" ] && result demo pass || result demo fail
