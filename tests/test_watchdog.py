"""Tests for tapelab.grading.watchdog on real process trees (no kernel, no sandbox)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from tapelab.grading import processes, watchdog

pytestmark = pytest.mark.timeout(120)

#: burns `sys.argv[1]` CPU seconds, then sleeps.
BURN = "import sys, time\nt = time.process_time()\nwhile time.process_time() - t < float(sys.argv[1]): pass\n" \
       "print('done', flush=True)\ntime.sleep(60)"


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)


def _wait(event: threading.Event, what: str) -> None:
    assert event.wait(60), f"the watchdog never reported {what}"


class Calls:
    """Records each callback and sets an event per kind."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, float]] = {}
        self.events = {k: threading.Event() for k in ("cpu", "stuck", "memory")}

    def __getattr__(self, kind: str):
        def record(used: float, limit: float) -> None:
            self.seen[kind] = (used, limit)
            self.events[kind].set()
        return record

    def watch(self, pid: int, **kwargs) -> watchdog.Watchdog:
        kwargs.setdefault("memory_mb", 100_000)
        return watchdog.Watchdog(pid, on_cpu=self.cpu, on_stuck=self.stuck, on_memory=self.memory, **kwargs).start()


def test_reaped_children_and_live_grandchildren_count():
    """Does the tree's CPU include a child that exited (reaped by its parent) and a grandchild still running?"""
    parent = _python("import subprocess, sys\n"
                     f"subprocess.run([sys.executable, '-c', {BURN.replace('time.sleep(60)', '')!r}, '0.5'])\n"
                     f"subprocess.Popen([sys.executable, '-c', {BURN!r}, '0.5'])\n"
                     "import time; time.sleep(60)")
    try:
        assert parent.stdout.readline() == "done\n"  # the first child, reaped
        assert parent.stdout.readline() == "done\n"  # the second, alive and sleeping
        seen = watchdog.usage(parent.pid)
        assert len(seen.pids) == 2 and seen.pids[0] == parent.pid
        assert seen.cpu_s >= 1.0
    finally:
        processes.kill_tree(parent.pid)
        parent.wait()


def test_cpu_budget_fires_once_then_stuck_after_grace():
    """Past its budget, is on_cpu called once with what the cell used, and on_stuck when the cell does not end?"""
    calls = Calls()
    burner = _python("while True: pass")
    try:
        dog = calls.watch(burner.pid, grace_s=0.5)
        dog.start_cell(0.5)
        _wait(calls.events["cpu"], "the CPU budget")
        used, budget = calls.seen["cpu"]
        assert budget == 0.5 and 0.5 < used < 1.5
        _wait(calls.events["stuck"], "a stuck cell")
        assert dog.end_cell() >= used
        dog.close()
    finally:
        burner.kill()
        burner.wait()


def test_a_cell_within_budget_fires_nothing():
    """Does a cell that ends within its budget report the CPU it used and call nothing?"""
    calls = Calls()
    burner = _python(BURN, "0.3")
    try:
        dog = calls.watch(burner.pid)
        dog.start_cell(5.0)
        assert burner.stdout.readline() == "done\n"
        used = dog.end_cell()
        assert 0.2 < used < 1.0 and calls.seen == {}
        dog.close()
    finally:
        burner.kill()
        burner.wait()


def test_memory_over_the_limit_fires_with_what_is_resident():
    """Does a process that makes 300 MB resident trip a 100 MB limit, reported in MB?"""
    calls = Calls()
    hog = _python("import time\nx = b'x' * (300 << 20)\nprint('done', flush=True)\ntime.sleep(60)")
    try:
        dog = calls.watch(hog.pid, memory_mb=100)
        assert hog.stdout.readline() == "done\n"
        _wait(calls.events["memory"], "the memory limit")
        used, limit = calls.seen["memory"]
        assert limit == 100 and 100 < used < 400 and dog.peak_memory_mb >= used
        dog.close()
    finally:
        hog.kill()
        hog.wait()


def test_gone_process_reads_as_none():
    """Is a process that has exited and been reaped read as None, so the watchdog stops?"""
    proc = _python("pass")
    proc.wait()
    time.sleep(0.1)
    assert watchdog.usage(proc.pid) is None
