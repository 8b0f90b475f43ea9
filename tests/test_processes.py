"""Tests for tapelab.grading.processes: the grader's one process-tree killer, on real process trees."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from tapelab.grading import processes

pytestmark = pytest.mark.timeout(120)

#: starts a grandchild in a session of its own (as kernels are), prints its pid, then waits.
PARENT = ("import subprocess, sys, time\n"
          "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
          "print(child.pid, flush=True)\ntime.sleep(60)")


def _gone(pid: int, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _family():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    return parent, int(parent.stdout.readline())


def test_tree_lists_parents_before_children():
    """Does tree() give the process first, then its child in another session?"""
    parent, child = _family()
    try:
        assert processes.tree(parent.pid) == [parent.pid, child] and processes.children(parent.pid) == [child]
    finally:
        processes.kill_tree(parent.pid)
        parent.wait()


def test_kill_tree_kills_descendants_in_other_sessions():
    """Does kill_tree end the process and a descendant that a signal to its process group would miss?"""
    parent, child = _family()
    processes.kill_tree(parent.pid)
    parent.wait(timeout=10)
    assert _gone(child)


def test_kill_tree_can_spare_the_root():
    """With itself=False, are only the descendants killed?"""
    parent, child = _family()
    try:
        processes.kill_tree(parent.pid, itself=False)
        assert _gone(child)
        assert parent.poll() is None
    finally:
        parent.kill()
        parent.wait()


def test_kill_tree_of_a_group_takes_what_was_reparented():
    """With group=True, does a process of the root's group that was reparented away die too?"""
    leader = subprocess.Popen([sys.executable, "-c", "import os, subprocess, sys, time\n"
                               "mid = os.fork()\n"
                               "if mid == 0:\n"
                               "    orphan = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                               "    print(orphan.pid, flush=True)\n"
                               "    os._exit(0)\n"
                               "os.waitpid(mid, 0)\nprint('reparented', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    orphan = int(leader.stdout.readline())
    assert leader.stdout.readline() == "reparented\n"
    assert os.getpgid(orphan) == leader.pid and orphan not in processes.tree(leader.pid)
    processes.kill_tree(leader.pid, group=True)
    leader.wait(timeout=10)
    assert _gone(orphan)


def test_kill_tree_of_a_gone_process_does_nothing():
    """Is killing the tree of a process that has already exited silent?"""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    processes.kill_tree(done.pid)
    processes.kill_tree(done.pid, group=True)
