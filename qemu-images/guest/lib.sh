# Guest helpers.  Every check prints one marker line on the console:
#   GRAFT-RESULT <name> <pass|fail|skip> [key=value ...]
result() { echo "GRAFT-RESULT $*"; }
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
