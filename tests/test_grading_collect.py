"""Collecting submissions: the folder layout, LMS zips (nbgrader zip_collect conventions), bad archives."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tapelab.grading.collect import assignments, collect, source_files

KNOWN = {"01_gradient_tape": ["gradient_tape.ipynb"], "04_qlearner": ["qlearner.ipynb"]}


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_layout(tmp_path):
    """Is each <student>/<assignment>/ folder one submission with all its files, junk left out?"""
    _touch(tmp_path / "s1" / "01_gradient_tape" / "gradient_tape.ipynb", "A")
    _touch(tmp_path / "s1" / "01_gradient_tape" / "data" / "extra.csv", "x")
    _touch(tmp_path / "s1" / "01_gradient_tape" / ".ipynb_checkpoints" / "gradient_tape-checkpoint.ipynb")
    _touch(tmp_path / "s2" / "04_qlearner" / "qlearner.ipynb", "B")
    found = collect(tmp_path, KNOWN)
    assert [(s.student, s.assignment, s.files) for s in found.submissions] == [
        ("s1", "01_gradient_tape", {"data/extra.csv": b"x", "gradient_tape.ipynb": b"A"}),
        ("s2", "04_qlearner", {"qlearner.ipynb": b"B"}),
    ]
    assert found.problems == []
    assert [s.student for s in collect(tmp_path, KNOWN, student="s2").submissions] == ["s2"]


def test_unknown_assignment_is_reported(tmp_path):
    """Is a folder named after no assignment of the course reported instead of graded?"""
    _touch(tmp_path / "s1" / "01_gradient_tape" / "gradient_tape.ipynb")
    _touch(tmp_path / "s1" / "homework9" / "x.ipynb")
    found = collect(tmp_path, KNOWN)
    assert len(found.submissions) == 1
    assert found.problems == ["s1/homework9: unknown assignment 'homework9' (known: 01_gradient_tape, 04_qlearner)"]


def test_lms_zip_latest_attempt_wins(tmp_path):
    """Does an LMS zip of Blackboard-style names map to student and assignment, keeping the latest attempt?"""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Tape_s1_attempt_2026-11-20-10-00-00_gradient_tape.ipynb", "old")
        zf.writestr("Tape_s1_attempt_2026-11-21-09-30-00_gradient_tape.ipynb", "new")
        zf.writestr("QL_s2_attempt_2026-11-21-09-30-00_qlearner.ipynb", "q")
        zf.writestr("QL_s2_attempt_2026-11-21-09-30-00_notes.ipynb", "n")
        zf.writestr("readme.txt", "hello")
    found = collect(archive, KNOWN)
    assert [(s.student, s.assignment, s.files) for s in found.submissions] == [
        ("s1", "01_gradient_tape", {"gradient_tape.ipynb": b"new"}),
        ("s2", "04_qlearner", {"qlearner.ipynb": b"q"}),
    ]
    assert found.problems == [
        "QL_s2_attempt_2026-11-21-09-30-00_notes.ipynb: notes.ipynb is no notebook of the course "
        "(expected one of gradient_tape.ipynb, qlearner.ipynb)",
        "readme.txt: file name not understood (expected the LMS pattern "
        "<...>_<student>_attempt_<timestamp>_<notebook>.ipynb)",
    ]


def test_zip_of_folder_tree(tmp_path):
    """Is a zip of the folder layout (under one top folder) read like the folder itself?"""
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("class/s1/01_gradient_tape/gradient_tape.ipynb", "A")
    found = collect(archive, KNOWN)
    assert [(s.student, s.assignment, s.files) for s in found.submissions] == [
        ("s1", "01_gradient_tape", {"gradient_tape.ipynb": b"A"})]


def test_zip_path_traversal_is_refused(tmp_path):
    """Is a zip member that climbs out of the archive's folder skipped and reported, nothing written outside?"""
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("s1/01_gradient_tape/gradient_tape.ipynb", "A")
        zf.writestr("../../escaped.ipynb", "x")
    found = collect(archive, KNOWN)
    assert [s.student for s in found.submissions] == ["s1"]
    assert len(found.problems) == 1 and "escaped.ipynb" in found.problems[0]
    assert not list(tmp_path.rglob("escaped.ipynb"))


def test_missing_path_message(tmp_path):
    """Does a missing submissions path say what was expected?"""
    with pytest.raises(FileNotFoundError, match="expected a folder <student>/<assignment>/ or a zip file"):
        collect(tmp_path / "nope", KNOWN)


def test_source_files_and_assignments(tmp_path):
    """Are the assignments the source folders holding a notebook, and their files read without junk?"""
    _touch(tmp_path / "01_gradient_tape" / "gradient_tape.ipynb", "S")
    _touch(tmp_path / "01_gradient_tape" / "__pycache__" / "x.pyc", "j")
    _touch(tmp_path / "notes" / "todo.txt")
    assert assignments(tmp_path) == {"01_gradient_tape": ["gradient_tape.ipynb"]}
    assert source_files(tmp_path, "01_gradient_tape") == {"gradient_tape.ipynb": b"S"}
