"""The environment variables tapelab's processes run with, in one place.

* TensorFlow quiet and repeatable: ``TF_CPP_MIN_LOG_LEVEL=2`` (no oneDNN / CPU-feature
  banners) and ``TF_ENABLE_ONEDNN_OPTS=0`` (oneDNN's reordered float arithmetic off, so that
  runs repeat bit for bit under one seed). They act only if set before ``import tensorflow``.
* nbgrader calls ``alembic`` through ``PATH``, so this interpreter's scripts come first.

Who uses them: the grading job's environment (:func:`tapelab.grading.jobs.grading_env`, and
from it every graded kernel), the kernel spec ``make setup`` installs (``scripts/setup.sh``:
``python -m tapelab.environment --ipykernel-args``) and the student's JupyterLab and Binder
(``scripts/lab-env.sh``: ``eval "$(python -m tapelab.environment --shell)"``). Importing
``tapelab`` changes nothing; a script that imports TensorFlow itself calls :func:`apply` first.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import MutableMapping
from pathlib import Path

#: TensorFlow's start-up logging off and its oneDNN arithmetic off (see the module docstring).
TENSORFLOW: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def scripts_first(path: str | None) -> str:
    """`path` (a PATH value) with the folder of this interpreter's scripts (alembic, nbgrader) in front."""
    return str(Path(sys.executable).parent) + os.pathsep + (path or "")


def apply(environ: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Set :data:`TENSORFLOW` where `environ` leaves them unset and put this interpreter's scripts first on PATH."""
    for name, value in TENSORFLOW.items():
        environ.setdefault(name, value)
    environ["PATH"] = scripts_first(environ.get("PATH"))
    return environ


def shell_exports() -> str:
    """:data:`TENSORFLOW` as POSIX shell lines that keep a value already set: ``export NAME=${NAME:-value}``."""
    return "\n".join(f"export {name}=${{{name}:-{shlex.quote(value)}}}" for name, value in TENSORFLOW.items())


def ipykernel_args() -> list[str]:
    """:data:`TENSORFLOW` as arguments of ``python -m ipykernel install``: ``--env NAME value`` each."""
    return [arg for name, value in TENSORFLOW.items() for arg in ("--env", name, value)]


def main(argv: list[str]) -> int:
    """``--shell``: :func:`shell_exports`; ``--ipykernel-args``: :func:`ipykernel_args`, one per line."""
    if argv == ["--shell"]:
        print(shell_exports())
    elif argv == ["--ipykernel-args"]:
        print("\n".join(ipykernel_args()))
    else:
        print("usage: python -m tapelab.environment --shell | --ipykernel-args", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
