"""What a graded kernel may use, and the sentence a student reads when a cell used more.

A grade must not depend on how busy the grading machine is, so time is counted in CPU
seconds of the kernel's process tree (user + system time of the kernel and of every
process it starts, see :mod:`tapelab.grading.watchdog`), not in wall-clock seconds: a cell
that needs 3 s of CPU gets its 3 s on an idle machine and on one running ten other kernels.
Cell i of a notebook may use

    b_i = min(B_i, B_notebook − Σ_{j<i} u_j)   CPU seconds,

where B_i is ``cpu_seconds_per_cell`` (or the cell's ``tapelab.cpu_seconds`` in the *source*
notebook, see :mod:`tapelab.grading.budget`) and u_j the CPU the earlier cells used. Past
b_i the cell is interrupted (KeyboardInterrupt) and the next cell runs; a kernel that has
not come back a few seconds later is stopped. The notebook's budget B_notebook is a sum of
CPU seconds too, because a student can add cells; once it is spent the remaining cells
are not run. Only a kernel that waits or sleeps meets a wall-clock limit: a cell may run
``wall_factor`` · b_i seconds, far more than any load makes a cell of b_i CPU seconds take.

Memory is the resident memory of the same process tree, watched while the kernel runs;
past ``memory_mb`` the kernel is stopped. The per-process limits set with ``setrlimit``
(address space 4 × memory_mb, ``process_cpu_s``) are backstops only.

The course sets all of them in one place, the ``Limits`` section of
autograder/nbgrader_config.py (:meth:`Limits.from_config`); the defaults below apply to
what a config leaves out.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from typing import Any

#: what the cells after a stopped kernel show.
NOT_RUN = "not run: the kernel had stopped in an earlier cell"
#: what a cell shows when the kernel died and nothing says why.
DIED = "the kernel died while this cell ran"
#: what a cell shows when the kernel stopped answering the grader (its IPython machinery broken).
UNRESPONSIVE = ("the kernel stopped answering the grader while this cell ran and was stopped: the cell kept "
                "running past its time limit although it was interrupted, or it broke the kernel itself "
                "(replaced builtins or IPython internals)")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one graded kernel may use (see the module docstring for how they combine).

    cpu_seconds_per_cell: CPU seconds a cell may use (its kernel and every process it starts).
    cpu_seconds_per_notebook: CPU seconds all cells of a notebook may use together.
    wall_factor: a cell may run wall_factor × its CPU budget in wall-clock seconds.
    memory_mb: resident memory (RSS) of the kernel's process tree; the kernel is stopped past it.
    process_cpu_s: CPU seconds of each kernel process (RLIMIT_CPU), a backstop.
    nproc: processes and threads of the kernel's uid (RLIMIT_NPROC); stops fork bombs.
    fsize_mb: largest file the kernel may write (RLIMIT_FSIZE).
    output_mb: output a cell keeps (millions of characters printed or displayed); the rest is
        dropped, in the kernel (:mod:`tapelab.grading.output_cap`) and where it arrives.
    """

    cpu_seconds_per_cell: float = 60
    cpu_seconds_per_notebook: float = 600
    wall_factor: float = 5
    memory_mb: int = 2048
    process_cpu_s: int = 900
    nproc: int = 256
    fsize_mb: int = 200
    output_mb: float = 1

    @property
    def address_space_mb(self) -> int:
        """Address space of each kernel process (RLIMIT_AS): 4 × memory_mb, since TensorFlow alone
        reserves about 1.4 GB of address space for some 0.7 GB it keeps resident."""
        return 4 * self.memory_mb

    @property
    def output_chars(self) -> int:
        """Characters of output a cell keeps (``output_mb`` in units of 2**20)."""
        return int(self.output_mb * (1 << 20))

    @property
    def notebook_wall_s(self) -> float:
        """Wall-clock seconds after which a notebook's kernel is stopped whatever it does."""
        return self.wall_factor * self.cpu_seconds_per_notebook + 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """The ``Limits`` section of a course's nbgrader config (as a dict of sections)."""
        section = dict(config.get("Limits", None) or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ValueError(f"the Limits section of the nbgrader config may set {', '.join(known)}; "
                             f"actual: {', '.join(unknown)} (a misspelt name?)")
        return cls(**section)


def output_truncated(kept_chars: int) -> str:
    """The line that ends a cell's output once it printed more than `kept_chars` characters."""
    return f"\n[output truncated: this cell printed more than {_n(kept_chars / (1 << 20))} MB]\n"


def _n(x: float) -> str:
    """A number of seconds or MB as the student reads it: 62, 5, 1.4, 0.07."""
    if abs(x) >= 10:
        return f"{x:.0f}"
    return f"{x:.1f}".removesuffix(".0") if abs(x) >= 1 else f"{x:.1g}"


@dataclasses.dataclass(frozen=True)
class CellStop:
    """Why the grader stopped a cell; kept in the autograded cell's metadata (``tapelab.stop``).

    kind: "cpu" (past its CPU budget: interrupted, or with ``kernel_stopped`` killed because it
        kept running), "memory" (the kernel's memory: killed), "wall" (the wall-clock backstop:
        interrupted), "notebook" (the notebook's CPU budget was spent before this cell: it and
        the later cells were not run), "died" (the kernel ended for another reason).
    used, limit: CPU seconds ("cpu", "notebook"), wall-clock seconds ("wall"), MB ("memory").
    message: what the cell's error output says.
    """

    kind: str
    cell: str
    used: float
    limit: float
    message: str
    kernel_stopped: bool = False
    notebook: str = ""

    @property
    def summary(self) -> str:
        """One line for the grade table: the cell and what it did."""
        used, limit = _n(self.used), _n(self.limit)
        if self.kind == "cpu":
            tail = " and ignored the interrupt; later cells not run" if self.kernel_stopped else ""
            return f"{self.cell} used {used} s of CPU of its {limit} s{tail}"
        if self.kind == "memory":
            return f"{self.cell}: the kernel used {used} MB of memory, over its limit of {limit} MB"
        if self.kind == "wall":
            return f"{self.cell} ran {used} s of wall-clock time, its limit, waiting or sleeping"
        if self.kind == "notebook":
            return f"the notebook used up its {limit} s of CPU; cells from {self.cell} on not run"
        return f"{self.cell}: {self.message}"


def cpu_stop(cell: str, used: float, limit: float, *, killed: bool = False,
             notebook_budget: float | None = None) -> CellStop:
    """A cell past its CPU budget; `notebook_budget` when what was left of the notebook's was smaller."""
    of = f" (what was left of the notebook's {_n(notebook_budget)} s)" if notebook_budget is not None else ""
    if killed:
        text = (f"this cell used {_n(used)} s of CPU of its {_n(limit)} s{of} and kept running past its time "
                "limit although it was interrupted, so the kernel was stopped; later cells did not run")
    else:
        text = (f"this cell used {_n(used)} s of CPU of its {_n(limit)} s{of} and was interrupted: an endless "
                "loop, or far more work than the exercise needs")
    return CellStop("cpu", cell, used, limit, text, kernel_stopped=killed)


def memory_stop(cell: str, used_mb: float, limit_mb: float) -> CellStop:
    """A kernel stopped for its memory while `cell` ran."""
    text = (f"the kernel used {_n(used_mb)} MB of memory, over its limit of {_n(limit_mb)} MB, and was "
            "stopped; later cells did not run")
    return CellStop("memory", cell, used_mb, limit_mb, text, kernel_stopped=True)


def wall_stop(cell: str, wall_s: float, cpu_s: float) -> CellStop:
    """A cell that ran into the wall-clock backstop while using little CPU."""
    text = (f"this cell ran for {_n(wall_s)} s of wall-clock time, its limit, while using {_n(cpu_s)} s of CPU: "
            "it was waiting or sleeping, and was interrupted")
    return CellStop("wall", cell, wall_s, wall_s, text)


def notebook_wall_stop(cell: str, wall_s: float) -> CellStop:
    """A kernel stopped because its notebook ran `wall_s` wall-clock seconds, whatever it did."""
    text = (f"the kernel was stopped: the notebook ran past its wall-clock limit of {_n(wall_s)} s (a kernel "
            "that kept waiting or sleeping); later cells did not run")
    return CellStop("wall", cell, wall_s, wall_s, text, kernel_stopped=True)


def notebook_stop(cell: str, used: float, limit: float) -> CellStop:
    """The notebook's CPU budget was spent before `cell`."""
    return CellStop("notebook", cell, used, limit, f"not run: the notebook used up its {_n(limit)} s of CPU",
                    kernel_stopped=True)


def died(cell: str, text: str) -> CellStop:
    """The kernel ended while `cell` ran, for the reason `text`."""
    return CellStop("died", cell, 0.0, 0.0, text, kernel_stopped=True)


def describe_exit(returncode: int | None, limits: Limits) -> str:
    """Why a kernel ended that the grader did not stop itself, in the words the student reads."""
    signo = None
    if returncode is not None and returncode < 0:
        signo = -returncode
    elif returncode is not None and returncode > 128:
        signo = returncode - 128
    if signo in (signal.SIGXCPU, signal.SIGKILL):
        return (f"the kernel was stopped, most likely by its limit of {limits.process_cpu_s} s of CPU per "
                "process (or by the system, out of memory)")
    if signo in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return (f"the kernel crashed (signal {signal.Signals(signo).name}), most likely out of memory (its "
                f"processes may reserve {limits.address_space_mb} MB each) or from too deep recursion")
    if signo == signal.SIGXFSZ:
        return f"the kernel was stopped: it wrote a file larger than the limit of {limits.fsize_mb} MB"
    if signo is not None:
        return f"the kernel was stopped by signal {signal.Signals(signo).name}"
    if returncode is not None:
        return (f"the kernel exited with status {returncode} (os._exit, a crash, or running out of "
                "memory); cells after this one did not run")
    return "the kernel stopped responding"
