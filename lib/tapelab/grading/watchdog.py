"""A thread that watches one kernel's process tree: the CPU each cell uses, and its memory.

Every ``interval_s`` it samples the root process (the kernel, or the bubblewrap process
around it) and all its descendants (:func:`tapelab.grading.processes.tree`, which reads
only the tree, never the whole process table):

    cpu    = Σ_p (user_p + system_p + children_user_p + children_system_p)
    memory = Σ_p rss_p

(children_* hold the CPU of the children p has reaped, so a process that has exited
still counts). A cell's CPU is ``cpu`` now minus ``cpu`` when it started, never
decreasing. Processes that share pages (after a fork) each count them in their RSS, so
above the limit the proportional set size decides (``Pss`` of /proc/PID/smaps_rollup:
each shared page divided among the processes that map it), read at most once a second.

Callbacks, each at most once, in the watchdog's thread: ``on_cpu(used, budget)`` when the
cell's CPU passes its budget; ``on_stuck(used, budget)`` when the cell has still not ended
``grace_s`` wall-clock seconds after that; ``on_memory(used_mb, limit_mb)`` when memory
passes its limit. The watchdog itself signals nothing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import psutil

from tapelab.grading.processes import tree

#: seconds between two samples.
INTERVAL_S = 0.05
#: wall-clock seconds a cell has to end after on_cpu before on_stuck.
GRACE_S = 5.0
#: seconds between two reads of the (slow) proportional set size while RSS is over the limit.
PSS_EVERY_S = 1.0

Callback = Callable[[float, float], None]


@dataclasses.dataclass(frozen=True)
class Usage:
    """One sample of a process tree."""

    cpu_s: float
    memory_mb: float
    pids: tuple[int, ...]


def usage(pid: int) -> Usage | None:
    """CPU seconds and resident MB of the tree under `pid`; None when `pid` is gone."""
    cpu = rss = 0.0
    pids = tree(pid)
    for p in pids:
        try:
            proc = psutil.Process(p)
            with proc.oneshot():
                t = proc.cpu_times()
                rss += proc.memory_info().rss
        except psutil.Error:
            if p == pid:
                return None
            continue
        cpu += t.user + t.system + t.children_user + t.children_system
    return Usage(cpu, rss / 2**20, tuple(pids))


def pss_mb(pids: tuple[int, ...]) -> float | None:
    """Proportional set size of `pids` in MB; None when a process's smaps cannot be read."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except FileNotFoundError:
            continue  # exited since the sample
        except (OSError, StopIteration, ValueError):
            return None
    return total / 1024


@dataclasses.dataclass
class _Cell:
    budget: float
    start: float
    used: float = 0.0
    over_at: float | None = None
    stuck: bool = False


class Watchdog:
    """Watches the tree under `pid` (see the module docstring); :meth:`start` it, :meth:`close` it."""

    def __init__(self, pid: int, *, memory_mb: float, on_cpu: Callback, on_stuck: Callback, on_memory: Callback,
                 grace_s: float = GRACE_S, interval_s: float = INTERVAL_S) -> None:
        self.pid, self.memory_mb, self.grace_s, self.interval_s = pid, memory_mb, grace_s, interval_s
        self._on_cpu, self._on_stuck, self._on_memory = on_cpu, on_stuck, on_memory
        self.peak_memory_mb = 0.0
        self.memory_fired = False
        self._cell: _Cell | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._next_pss = 0.0
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{pid}", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()

    def start_cell(self, budget_s: float) -> None:
        """A cell starts now with `budget_s` CPU seconds."""
        now = usage(self.pid)
        with self._lock:
            self._cell = _Cell(budget_s, now.cpu_s if now else 0.0)

    def end_cell(self) -> float:
        """The cell has ended: the CPU seconds it used."""
        now = usage(self.pid)
        with self._lock:
            cell, self._cell = self._cell, None
        if cell is None:
            return 0.0
        return max(cell.used, now.cpu_s - cell.start) if now else cell.used

    def _run(self) -> None:
        while not self._done.wait(self.interval_s):
            now = usage(self.pid)
            if now is None:
                return
            self._check_cpu(now)
            self._check_memory(now)

    def _check_cpu(self, now: Usage) -> None:
        # Under the lock: once end_cell has returned, no callback about that cell can come.
        with self._lock:
            cell = self._cell
            if cell is None:
                return
            cell.used = max(cell.used, now.cpu_s - cell.start)
            if cell.over_at is None and cell.used > cell.budget:
                cell.over_at = time.monotonic()
                _call(self._on_cpu, cell.used, cell.budget)
            elif cell.over_at is not None and not cell.stuck and time.monotonic() - cell.over_at > self.grace_s:
                cell.stuck = True
                _call(self._on_stuck, cell.used, cell.budget)

    def _check_memory(self, now: Usage) -> None:
        self.peak_memory_mb = max(self.peak_memory_mb, now.memory_mb)
        if self.memory_fired or now.memory_mb <= self.memory_mb or time.monotonic() < self._next_pss:
            return
        self._next_pss = time.monotonic() + PSS_EVERY_S
        used = pss_mb(now.pids)
        used = now.memory_mb if used is None else used
        if used > self.memory_mb:
            self.memory_fired = True
            _call(self._on_memory, used, self.memory_mb)


def _call(callback: Callback, used: float, limit: float) -> None:
    try:
        callback(used, limit)
    except Exception:  # noqa: BLE001 - a failing callback must not end the watch
        pass
