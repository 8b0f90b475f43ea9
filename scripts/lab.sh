#!/usr/bin/env bash
# Open the student's JupyterLab: the file browser shows DIR (default: course/), notebooks
# run on the "Python 3 (tapelab)" kernel of .venv (installed by `make setup`), and nbgrader's
# Validate button and Assignment List read autograder/nbgrader_config.py.
# Called by `make lab`. Usage: scripts/lab.sh [DIR] [jupyter lab options ...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$repo/course
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then root=$(cd "$1" && pwd); shift; fi

venv=${VIRTUAL_ENV:-$repo/.venv}
if [ ! -x "$venv/bin/jupyter-lab" ]; then
  echo "lab: JupyterLab is not installed in $venv; run: make setup" >&2
  exit 1
fi
export PATH=$venv/bin:$PATH
# The kernel spec of the environment ("python3", with tapelab) wins over one in the user's home.
export JUPYTER_PREFER_ENV_PATH=1
# autograder/ holds nbgrader_config.py; scripts/student-lab/ turns off the instructor-only
# parts of nbgrader (formgrader, course list, create assignment) for students.
export JUPYTER_CONFIG_PATH=$repo/autograder:$repo/scripts/student-lab${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} TF_ENABLE_ONEDNN_OPTS=${TF_ENABLE_ONEDNN_OPTS:-0}
# nbgrader's Validate button reads its config from the server's working folder first.
cd "$root"
as_root=()
[ "$(id -u)" = 0 ] && as_root=(--allow-root)  # containers often run as root
exec jupyter lab --ServerApp.root_dir="$root" "${as_root[@]}" "$@"
