"""Tests for tapelab.grading.integrity: tampering with test cells found and named, the copy repaired."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "redteam"))

import build  # noqa: E402
import cases  # noqa: E402

from tapelab.grading import integrity  # noqa: E402


@pytest.fixture(scope="module")
def source():
    return build.source_notebook()


@pytest.fixture(scope="module")
def release(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / cases.ASSIGNMENT / cases.NOTEBOOK
    path.parent.mkdir()
    nbformat.write(source, path)
    return build.release_notebook(path)


def _submission(release, name):
    nb = cases.student_version(copy.deepcopy(release))
    edit = cases.BY_NAME[name].edit
    return edit(nb) if edit else nb


def test_untampered_submission_is_clean(source, release):
    """Does a correct submission (and the untouched release) pass without a message?"""
    assert integrity.check_integrity(_submission(release, "correct"), source) == []
    assert integrity.check_integrity(release, source) == []
    assert integrity.suspicious_code(_submission(release, "correct")) == []


@pytest.mark.parametrize("name, messages", [
    ("deleted-test", ["test cell test_step is missing from the submission (deleted?); it scores 0: start again from "
                      "the released notebook and keep every locked cell"]),
    ("edited-test", ["test cell test_norm was edited; the assignment's version is graded instead"]),
    ("duplicated-test", ["test cell test_add appears 2 times (a duplicate, or a new cell carrying its grade_id); "
                         "only one copy is graded"]),
    ("fake-test-cell", ["test cell test_step appears 2 times (a duplicate, or a new cell carrying its grade_id); "
                        "only one copy is graded",
                        "test cell test_step was edited; the assignment's version is graded instead",
                        "the graded cells are in a different order than in the assignment (expected setup, test_add, "
                        "test_norm, test_step; found test_step, setup, test_add, test_norm)"]),
    ("changed-points", ["test cell test_add: its nbgrader metadata changed (points 1 -> 100); the assignment's "
                        "values are used"]),
    ("unlocked-test", ["test cell test_norm: its nbgrader metadata changed (grade True -> False, locked True -> "
                       "False); the assignment's values are used"]),
    ("reordered-tests", ["the graded cells are in a different order than in the assignment (expected setup, "
                         "test_add, test_norm, test_step; found setup, test_norm, test_add, test_step)"]),
])
def test_each_tampering_is_named(source, release, name, messages):
    """Is each kind of tampering reported with its own sentence?"""
    assert integrity.check_integrity(_submission(release, name), source) == messages


@pytest.mark.parametrize("name", ["duplicated-test", "fake-test-cell"])
def test_repair_keeps_one_copy_with_the_released_code(source, release, name):
    """Does repair leave exactly one copy of each test cell, the one with the released code, metadata restored?"""
    fixed = integrity.repair(_submission(release, name), source)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in fixed.cells]
    assert sorted(i for i in ids if i and i.startswith("test_")) == ["test_add", "test_norm", "test_step"]
    assert integrity.check_integrity(fixed, source) == []


def test_repair_restores_points(source, release):
    """Are changed points put back to the assignment's value in the grader's copy?"""
    fixed = integrity.repair(_submission(release, "changed-points"), source)
    cell = next(c for c in fixed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add")
    assert cell.metadata["nbgrader"]["points"] == 1


def test_check_and_repair_changes_only_the_copy(source, release, tmp_path):
    """Does check_and_repair return the messages and rewrite the file it is given, nothing else?"""
    src = tmp_path / "source.ipynb"
    nbformat.write(source, src)
    before = src.read_bytes()
    work = tmp_path / "work.ipynb"
    nbformat.write(_submission(release, "duplicated-test"), work)
    assert integrity.check_and_repair(work, src) == [
        "test cell test_add appears 2 times (a duplicate, or a new cell carrying its grade_id); only one copy is graded"]
    assert integrity.check_integrity(work, src) == [] and src.read_bytes() == before


@pytest.mark.parametrize("name, message", [
    ("input-transformer", "review: add uses input_transformers (changes how IPython runs or reports the following "
                          "cells)"),
    ("stack-inspection", "review: step uses inspect (reads other code's frames or objects)"),
    ("breaks-kernel", "review: add uses builtins (replaces Python's builtins)"),
    ("os-exit", "review: norm uses os._exit (uses processes, signals or raw memory)"),
])
def test_suspicious_code_is_flagged_for_review(release, name, message):
    """Is student code that reaches into the kernel or the interpreter flagged, naming the cell and the reason?"""
    assert integrity.suspicious_code(_submission(release, name)) == [message]


@pytest.mark.parametrize("code, reason", [
    ("same_floats = lambda *a, **k: True", "rebinds a name of the trusted comparisons"),
    ("def add(a, b):\n    globals()['same_float'] = print\n    return a + b", "rewrites the notebook's names"),
    ("import __main__\n__main__.pristine = None", "rewrites the notebook's names"),
])
def test_rebinding_the_trusted_names_is_flagged(release, code, reason):
    """Is a cell that rebinds the notebook's trusted comparisons (directly, via globals() or __main__) flagged?"""
    nb = cases.student_version(copy.deepcopy(release))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    cell.source = code + "\n" + cell.source
    found = integrity.suspicious_code(nb)
    assert len(found) == 1 and found[0].startswith("review: add uses ") and reason in found[0]


def test_comparing_is_not_rebinding(release):
    """Does `same_floats(x) == ...` or a keyword argument `shape=True` stay unflagged?"""
    nb = cases.student_version(copy.deepcopy(release))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    cell.source = "ok = same_floats == print\nf(x, same_int == 1)\n" + cell.source
    assert integrity.suspicious_code(nb) == []


@pytest.mark.parametrize("code, reason", [
    ("from tapelab import chainrule\nchainrule._WITHHELD.set(False)", "switches off the course library's guard"),
    ("import contextvars\nrun = contextvars.Context().run", "switches off the course library's guard"),
    ("from tapelab.chainrule import withheld", "switches off the course library's guard"),
    ("import threading\nthreading.Thread(target=print).start()", "runs code in another thread"),
    ("from concurrent.futures import ThreadPoolExecutor", "runs code in another thread"),
])
def test_switching_off_the_library_guard_is_flagged(release, code, reason):
    """Is a cell that touches chainrule's guard (withheld, _WITHHELD) or runs code outside its context flagged?"""
    nb = cases.student_version(copy.deepcopy(release))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    cell.source = code + "\n" + cell.source
    found = integrity.suspicious_code(nb)
    assert len(found) == 1 and found[0].startswith("review: add uses ") and reason in found[0]
