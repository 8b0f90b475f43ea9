"""Tests for tapelab.grading.limits: where the limits come from, and every sentence a stopped cell shows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tapelab.grading.driver import Course
from tapelab.grading.jobs import stop_message
from tapelab.grading.limits import (Limits, cpu_stop, died, memory_stop, notebook_stop, notebook_wall_stop,
                                    wall_stop)


def test_course_config_is_the_one_place(repo):
    """Do the limits come from the Limits section of autograder/nbgrader_config.py, with plain nbgrader's
    wall-clock timeout derived from them?"""
    config = Course.from_config(repo / "autograder" / "nbgrader_config.py").config
    limits = Limits.from_config(config)
    assert limits == Limits(**config["Limits"])
    assert config["Execute"]["timeout"] == limits.wall_factor * limits.cpu_seconds_per_cell
    assert limits.process_cpu_s > limits.cpu_seconds_per_notebook >= limits.cpu_seconds_per_cell


@pytest.mark.parametrize("line, name, shown", [
    ("c.Autograde.autograde_preprocessors = [__import__('nbgrader').preprocessors.Execute]",
     "Autograde.autograde_preprocessors", "[<class"),
    ("c.GenerateFeedback.preprocessors.append('x.Y')", "GenerateFeedback.preprocessors", "<LazyConfigValue"),
])
def test_config_the_workers_cannot_receive_is_refused(tmp_path, line, name, shown):
    """Is a config value that cannot travel to the workers as JSON refused, naming it and the fix,
    instead of left out (the workers would grade under another config than nbgrader)?"""
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.Limits.memory_mb = 1024\n{line}\n")
    with pytest.raises(ValueError) as err:
        Course.from_config(tmp_path / "nbgrader_config.py")
    text = str(err.value)
    assert f"sets {name} to {shown}" in text and "which the grading workers cannot receive" in text
    assert "a class by its import name" in text


def test_unknown_limit_is_refused():
    """Is a misspelt name in the Limits section refused, naming the names it may set?"""
    with pytest.raises(ValueError) as err:
        Limits.from_config({"Limits": {"cpu_second_per_cell": 5}})
    assert str(err.value) == (
        "the Limits section of the nbgrader config may set cpu_seconds_per_cell, cpu_seconds_per_notebook, "
        "wall_factor, memory_mb, process_cpu_s, nproc, fsize_mb, output_mb; actual: cpu_second_per_cell (a misspelt name?)")
    assert Limits.from_config({}) == Limits()


def test_cpu_messages():
    """Does a cell past its CPU budget say how much CPU it used of how much, rounded, and what happened?"""
    stop = cpu_stop("test_hessian", 60.04, 60)
    assert stop.message == ("this cell used 60 s of CPU of its 60 s and was interrupted: an endless loop, or far "
                            "more work than the exercise needs")
    assert stop_message(replace(stop, notebook="jacobians")) == "jacobians: test_hessian used 60 s of CPU of its 60 s"
    assert not stop.kernel_stopped
    assert cpu_stop("cell 2", 5.04, 5).message.startswith("this cell used 5 s of CPU of its 5 s and")
    assert cpu_stop("cell 2", 1.52, 1.46).message.startswith("this cell used 1.5 s of CPU of its 1.5 s and")
    killed = cpu_stop("test_norm", 10.6, 5, killed=True)
    assert killed.message == ("this cell used 11 s of CPU of its 5 s and kept running past its time limit although "
                              "it was interrupted, so the kernel was stopped; later cells did not run")
    assert killed.summary == "test_norm used 11 s of CPU of its 5 s and ignored the interrupt; later cells not run"
    assert killed.kernel_stopped
    short = cpu_stop("cell 4", 40.2, 40, notebook_budget=600)
    assert short.message.startswith("this cell used 40 s of CPU of its 40 s (what was left of the notebook's 600 s)")


def test_memory_wall_and_notebook_messages():
    """Do the memory, wall-clock and notebook stops each get the sentence the student reads?"""
    stop = memory_stop("test_plot", 2113.4, 2048)
    assert stop.message == ("the kernel used 2113 MB of memory, over its limit of 2048 MB, and was stopped; later "
                            "cells did not run")
    assert stop.summary == "test_plot: the kernel used 2113 MB of memory, over its limit of 2048 MB"
    assert wall_stop("cell 2", 300, 0.07).message == (
        "this cell ran for 300 s of wall-clock time, its limit, while using 0.07 s of CPU: it was waiting or "
        "sleeping, and was interrupted")
    assert notebook_wall_stop("cell 9", 3030).message == (
        "the kernel was stopped: the notebook ran past its wall-clock limit of 3030 s (a kernel that kept waiting "
        "or sleeping); later cells did not run")
    assert notebook_stop("test_learns", 600.3, 600).message == "not run: the notebook used up its 600 s of CPU"
    assert notebook_stop("test_learns", 600.3, 600).summary == (
        "the notebook used up its 600 s of CPU; cells from test_learns on not run")
    assert died("cell 3", "the kernel exited with status 0").summary == "cell 3: the kernel exited with status 0"
