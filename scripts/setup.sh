#!/usr/bin/env bash
# Set up everything the kit needs: system tools (bubblewrap for the grading sandbox,
# Chromium for the browser test) and the Python virtual environment in .venv.
# Called by `make setup`; safe to run again.
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv}

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
{ command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_apt[*]}"
    echo "       install them with your package manager (Debian/Ubuntu: sudo apt-get install ${need_apt[*]});"
    echo "       grading refuses to run without bubblewrap and the browser test is skipped without chromium."
  fi
fi

pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$pyver" in
  3.11|3.12) ;;
  *) echo "setup: tapelab needs Python 3.11 (found $pyver at $PYTHON); run: make PYTHON=python3.11 ..." >&2; exit 1;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $PYTHON ($pyver)"
  "$PYTHON" -m venv "$VENV"
fi
echo "setup: installing tapelab and the course tools from constraints.txt"
# uv (pinned in constraints.txt) installs the same pins as pip, downloading and unpacking in parallel:
# seconds instead of a minute or more. Where uv cannot be had or cannot reach the package index
# (an index configured for pip only), pip installs them.
if "$VENV/bin/python" -m pip install -q -c constraints.txt uv >/dev/null 2>&1 \
   && "$VENV/bin/uv" pip install -q --compile-bytecode --python "$VENV/bin/python" -c constraints.txt -e "lib[course]"; then
  :
else
  echo "setup: installing with pip instead of uv"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e "lib[course]"
fi
# The kernel students and the grader use: the venv's Python, with TensorFlow quiet
# (--env NAME value for each variable of tapelab.environment.TENSORFLOW).
kernel_args=$("$VENV/bin/python" -m tapelab.environment --ipykernel-args)
mapfile -t kernel_env <<< "$kernel_args"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (tapelab)" \
  "${kernel_env[@]}" >/dev/null
echo "setup: done ($("$VENV/bin/python" -c 'import tapelab; print("tapelab", tapelab.__version__)'))"
