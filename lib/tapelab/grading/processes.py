"""The process trees of grading: a process's descendants, and killing all of them.

Kernels run in sessions of their own (bubblewrap's, or jupyter_client's ``start_new_session``),
so a signal to a process group misses them: the grader works on the tree of parent and
children instead.

* :func:`children` and :func:`tree` read Linux's ``/proc/PID/task/TID/children``: only the
  tree, never the whole process table, cheap enough for the watchdog's samples.
* :func:`kill_tree` is the one process killer of the grader (a job past its wall-clock limit,
  a kernel past its memory, a runner or zygote whose worker is gone): it lists every
  descendant with psutil first, so that none escapes by being reparented while the others
  die, then sends each SIGKILL.
"""

from __future__ import annotations

import os
import signal

import psutil


def children(pid: int) -> list[int]:
    """The children of every thread of `pid`."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, parents before children."""
    found, todo, seen = [], [pid], set()
    while todo:
        p = todo.pop(0)
        if p not in seen:
            seen.add(p)
            found.append(p)
            todo += children(p)
    return found


def kill_tree(pid: int, *, itself: bool = True, group: bool = False) -> None:
    """SIGKILL every descendant of `pid`, and `pid` itself unless ``itself=False``.

    ``group=True`` also kills `pid`'s process group when `pid` leads one (a grading process
    started in a session of its own): what it started and left behind, reparented, dies too.
    """
    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True)
    except psutil.Error:
        return
    if group and itself:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in ([root] if itself else []) + family:
        try:
            proc.kill()
        except psutil.Error:
            pass
