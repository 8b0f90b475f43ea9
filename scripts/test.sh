#!/usr/bin/env bash
# make test: two pytest runs side by side, which together run every test and every solution notebook.
#
# The machine's cores are shared instead of taken in turns: much of the suite uses one core (in-process
# tests, a kernel starting, a browser rendering between cells), so a second run fills the other. The
# second run takes nbval on every solution notebook and the test files that share no fixture with the
# rest (each grades its own class or starts its own JupyterLab); the first takes everything else. Grades
# count CPU seconds, not wall-clock seconds, so they do not depend on the load. The second run's report
# is printed after the first's; the exit status is non-zero when anything fails.
set -uo pipefail
bin="$1"
log=".test-beside.log"
beside=(tests/test_browser.py tests/test_redteam.py tests/test_other_course.py tests/test_budget.py tests/test_sandbox.py
        tests/test_zygote.py tests/test_watchdog.py tests/test_release.py tests/test_gradebook_schema.py)
second() {
  local status=0
  if compgen -G "solutions/*/*.ipynb" >/dev/null; then
    "$bin/python" -m pytest --nbval solutions --nbval-sanitize-with solutions/nbval_sanitize.cfg \
      -p no:cacheprovider || status=1
  fi
  echo
  echo "== ${beside[*]} =="
  "$bin/python" -m pytest "${beside[@]}" -p no:cacheprovider || status=1
  return "$status"
}
second >"$log" 2>&1 &
second_pid=$!
"$bin/python" -m pytest tests "${beside[@]/#/--ignore=}"
first_status=$?
wait "$second_pid"
second_status=$?
echo
echo "== beside it: nbval (every solution notebook run and compared with its stored outputs), then ${beside[*]} =="
cat "$log"
[ "$first_status" -eq 0 ] && [ "$second_status" -eq 0 ]
