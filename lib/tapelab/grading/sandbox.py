"""Each graded kernel runs in a bubblewrap sandbox with resource limits.

A submission is untrusted code: its kernel must not reach the network, read
``solutions/``, the gradebook or other students' files, or write anywhere but
its own scratch folder. nbgrader starts kernels through jupyter_client, so the
sandbox is a kernel provisioner (:mod:`tapelab.grading.kernel`) that wraps the
kernel command in bubblewrap: an empty filesystem with only Python, tapelab and the
kernel's scratch folder bound into it, no network, and a prelude that drops to an
unprivileged uid and sets per-process backstops with ``setrlimit`` before any student
code runs (the command line is built by :mod:`tapelab.grading.bwrap`). The limits a
student meets, CPU seconds per cell and resident memory of the whole kernel, are
watched from outside (:mod:`tapelab.grading.kernel`, :mod:`tapelab.grading.watchdog`).

This module holds what surrounds that command: the scratch folder a kernel may have
(:func:`check_scratch`), the uid each kernel gets when the grader is root
(:func:`kernel_uid`), :func:`check_sandbox`, which tells whether this machine can do
all that and refuses to grade without it unless the instructor opts out, and
:func:`nbgrader_config`, the nbgrader configuration that routes ``nbgrader autograde``
through it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nbgrader.preprocessors import Execute

# The command line lives in its own module; these names stay importable from here.
from tapelab.grading.bwrap import SandboxUnavailable, bwrap_command, confine_command, find_bwrap, kernel_env
from tapelab.grading.limits import Limits

__all__ = ["OPT_OUT_ENV", "UID_BASE", "COURSE_NAMES", "SandboxUnavailable", "SandboxCheck", "bwrap_command",
           "confine_command", "kernel_env", "matplotlib_font_list", "check_scratch", "KernelUids", "KERNEL_UIDS",
           "kernel_uid", "probe", "check_sandbox", "nbgrader_config"]


# ----------------------------------------------------------------------------- scratch and uids


#: names that mark an nbgrader course folder; none may be inside a kernel's scratch folder.
COURSE_NAMES = ("gradebook.db", "source", "release", "submitted", "autograded", "feedback", "course")

#: first uid of the per-kernel range used when the grader runs as root.
UID_BASE = 100_000


def matplotlib_font_list() -> Path | None:
    """This process's matplotlib font list (built now if missing), as the kernels' matplotlib names it."""
    try:
        import matplotlib
        from matplotlib import font_manager
    except ImportError:  # pragma: no cover - matplotlib is part of the course
        return None
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return path if path.is_file() else None


def check_scratch(scratch: Path) -> None:
    """Refuse a scratch folder that holds grading material: the kernel can read and change all of it."""
    for name in COURSE_NAMES:
        if (scratch / name).exists():
            raise ValueError(
                f"the kernel's scratch folder must be a folder of its own, but {scratch} holds {name}, "
                "which the student's kernel could read and change; pass an empty folder (e.g. JOB_DIR/scratch)")


class KernelUids:
    """The uids of kernels started by this process while the grader runs as root, one after another.

    The n-th kernel of the process with pid p gets UID_BASE + (p mod 2²²)·64 + (n mod 64): no two
    live kernels on one machine share a uid (processes are counted per uid, RLIMIT_NPROC) as
    long as a grading process runs fewer than 64 kernels at a time.
    """

    def __init__(self) -> None:
        self._count = itertools.count()

    def next(self) -> int:
        return UID_BASE + (os.getpid() % 4_194_304) * 64 + next(self._count) % 64


#: the uids this process gives its kernels (a forked process continues the count under its own pid).
KERNEL_UIDS = KernelUids()


def kernel_uid() -> int:
    """A uid no other live kernel on this machine has (see :class:`KernelUids`)."""
    return KERNEL_UIDS.next()


# ----------------------------------------------------------------------------- check


#: environment variable that opts out of the sandbox, like ``--allow-unsandboxed``.
OPT_OUT_ENV = "TAPELAB_ALLOW_UNSANDBOXED"


def _bwrap() -> str | None:
    """Where bubblewrap is installed, or None (a test replaces this to play a machine without it)."""
    return find_bwrap()


@dataclasses.dataclass(frozen=True)
class SandboxCheck:
    """How this machine contains kernels: ``sandboxed`` or not, and the line that says so (``note``)."""

    sandboxed: bool
    note: str

    def __str__(self) -> str:
        return self.note


@functools.cache
def probe() -> str | None:
    """None when a sandboxed Python starts here, else why not (one sentence).

    Tried once per process (it starts a sandbox); ``probe.cache_clear()`` tries again.
    """
    result: str | None
    if _bwrap() is None:
        result = "bubblewrap (bwrap) is not installed"
    else:
        with tempfile.TemporaryDirectory(prefix="tl-probe-") as tmp:
            scratch, ipc = Path(tmp) / "scratch", Path(tmp) / "ipc"
            scratch.mkdir()
            ipc.mkdir()
            uid = kernel_uid() if os.getuid() == 0 else -1
            if uid >= 0:
                os.chown(scratch, uid, uid)
            probe = [sys.executable, "-c", "import os, tapelab; open('ok', 'w').write(str(os.getuid()))"]
            cmd = bwrap_command(probe, scratch, ipc, Limits(), uid, kernel_env(dict(os.environ), scratch,
                                                                               sys.executable))
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as err:
                done = None
                result = f"bubblewrap did not start a sandboxed Python: {err}"
            if done is not None:
                ok = (scratch / "ok").is_file()
                last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                result = None if done.returncode == 0 and ok else (
                    f"bubblewrap is installed but could not start a sandboxed Python ({last}); "
                    "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone)")
    return result


def check_sandbox(allow_unsandboxed: bool = False) -> SandboxCheck:
    """How kernels are contained here; raise SandboxUnavailable when they cannot be.

    The instructor opts out of the sandbox with ``--allow-unsandboxed`` on the grading
    command (passed here as `allow_unsandboxed`) or ``TAPELAB_ALLOW_UNSANDBOXED=1``;
    limits still apply then, but student code can read and write what the grader can.
    """
    problem = probe()
    if problem is None:
        who = "its own unprivileged uid" if os.getuid() == 0 else f"uid {os.getuid()} in a user namespace"
        return SandboxCheck(True, f"sandboxed: each kernel runs in bubblewrap as {who}, without network, "
                                  "seeing only Python, tapelab and its scratch folder")
    if allow_unsandboxed or os.environ.get(OPT_OUT_ENV, "") not in ("", "0"):
        return SandboxCheck(False, f"UNSANDBOXED: {problem}; student code runs with the grader's rights "
                                   "(opted out with --allow-unsandboxed or TAPELAB_ALLOW_UNSANDBOXED=1)")
    raise SandboxUnavailable(
        f"Grading needs a sandbox for student code, but {problem}. Install bubblewrap "
        "(Debian/Ubuntu: apt-get install bubblewrap), or opt out explicitly with --allow-unsandboxed "
        "or TAPELAB_ALLOW_UNSANDBOXED=1 if you trust every submission.")


# ----------------------------------------------------------------------------- nbgrader


def nbgrader_config(scratch: Path, limits: Limits, sandboxed: bool = True) -> dict:
    """nbgrader config sections that run every graded kernel sandboxed, watched, with `limits`.

    Merge the result into the job's config before ``nbgrader autograde``. It replaces
    nbgrader's Execute by :class:`~tapelab.grading.budget.BudgetedExecute` in
    ``Autograde.autograde_preprocessors`` and configures it and the kernels'
    :class:`~tapelab.grading.kernel.SandboxProvisioner`. ``Execute.timeout`` is the
    wall-clock backstop of a cell of the default budget. Each kernel is stopped at once when
    its last cell has run: its outputs are in, and nbgrader's graceful default waits about a
    second per kernel for TensorFlow to shut down. `sandboxed=False` (after
    ``check_sandbox(True)`` found no bubblewrap) keeps the limits and the scratch cwd only.
    All values are plain strings and numbers, so the dict travels as JSON.
    """
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    preprocessors = ["tapelab.grading.budget.BudgetedExecute" if p is Execute else f"{p.__module__}.{p.__qualname__}"
                     for p in default]
    return {
        "Autograde": {"autograde_preprocessors": preprocessors},
        "Execute": {"timeout": math.ceil(limits.wall_factor * limits.cpu_seconds_per_cell),
                    "shutdown_kernel": "immediate"},
        "BudgetedExecute": {"cpu_seconds_per_cell": float(limits.cpu_seconds_per_cell),
                            "cpu_seconds_per_notebook": float(limits.cpu_seconds_per_notebook),
                            "wall_factor": float(limits.wall_factor),
                            "max_output_bytes": int(limits.output_chars)},
        "SandboxProvisioner": {
            "scratch": str(Path(scratch).resolve()), "sandboxed": bool(sandboxed),
            "memory_mb": int(limits.memory_mb), "process_cpu_s": int(limits.process_cpu_s),
            "nproc": int(limits.nproc), "fsize_mb": int(limits.fsize_mb),
            "notebook_wall_s": float(limits.notebook_wall_s), "output_chars": int(limits.output_chars),
        },
    }
