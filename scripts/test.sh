#!/usr/bin/env bash
# make test: the pytest suite, and nbval on every solution notebook beside it.
#
# nbval runs one notebook kernel at a time, while much of the pytest suite waits on kernels starting,
# browsers rendering and subprocesses, so the two share the machine's cores instead of taking turns.
# Grades count CPU seconds, not wall-clock seconds, so they do not depend on the load. nbval's report
# is printed after pytest's; the exit status is non-zero when either fails.
set -uo pipefail
bin="$1"
log=".nbval.log"
nbval_pid=""
if compgen -G "solutions/*/*.ipynb" >/dev/null; then
  "$bin/python" -m pytest --nbval solutions --nbval-sanitize-with solutions/nbval_sanitize.cfg \
    -p no:cacheprovider >"$log" 2>&1 &
  nbval_pid=$!
fi
"$bin/python" -m pytest tests
tests_status=$?
nbval_status=0
if [ -n "$nbval_pid" ]; then
  wait "$nbval_pid"
  nbval_status=$?
  echo
  echo "== nbval: every solution notebook run and compared with its stored outputs =="
  cat "$log"
fi
[ "$tests_status" -eq 0 ] && [ "$nbval_status" -eq 0 ]
