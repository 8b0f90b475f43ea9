#!/usr/bin/env bash
# Open the student's JupyterLab: the file browser shows DIR (default: course/), notebooks
# run on the "Python 3 (tapelab)" kernel of .venv (installed by `make setup`), and nbgrader's
# Validate button and Assignment List use autograder/nbgrader_config.py.
# Called by `make lab`. Usage: scripts/lab.sh [DIR] [jupyter lab options ...]
set -euo pipefail
TAPELAB_REPO=$(cd "$(dirname "$0")/.." && pwd)
root=$TAPELAB_REPO/course
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then root=$(cd "$1" && pwd); shift; fi

# The kit's .venv (make setup); else a JupyterLab already on PATH (a conda env from environment.yml).
if [ -x "$TAPELAB_REPO/.venv/bin/jupyter-lab" ]; then
  export PATH=$TAPELAB_REPO/.venv/bin:$PATH
elif ! command -v jupyter-lab >/dev/null 2>&1; then
  echo "lab: JupyterLab is not installed: expected $TAPELAB_REPO/.venv/bin/jupyter-lab; run: make setup" >&2
  exit 1
fi
source "$TAPELAB_REPO/scripts/lab-env.sh"

as_root=()
[ "$(id -u)" = 0 ] && as_root=(--allow-root)  # containers often run as root
# nbgrader's Validate button looks for nbgrader_config.py in the server's working folder first.
cd "$root"
exec jupyter lab --ServerApp.root_dir="$root" "${as_root[@]}" "$@"
