#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository (`make shellcheck`,
# part of `make test`): tracked files named *.sh and tracked files whose
# first line is a sh/bash/busybox shebang.  Settings: .shellcheckrc (sourced
# files are followed; guest scripts declare `shell=dash`, the closest
# dialect shellcheck has to busybox ash: POSIX sh plus `local`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed (ci/setup.sh installs it)" >&2; exit 1; }
files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sh) files+=("$f") ;;
    *) head -n1 "$f" | grep -qE '^#!.*\b(sh|bash|dash|ash)\b' && files+=("$f") ;;
  esac
done < <(git ls-files -z)
[ ${#files[@]} -gt 0 ] || { echo "shellcheck: no shell scripts found" >&2; exit 1; }
shellcheck "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"
