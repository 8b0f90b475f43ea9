"""Collecting submissions: the folder layout, LMS zips (nbgrader zip_collect conventions), bad archives."""

from __future__ import annotations

import zipfile
from datetime import datetime
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


#: the default pattern with ISO timestamps, which may carry a UTC offset.
ISO_NAMED = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9T:+\-]+)_(?P<file_id>[\w\-]+\.ipynb)$"


def test_lms_zip_latest_attempt_is_latest_in_time(tmp_path):
    """Is the latest attempt the latest in time, read as zip_collect reads timestamps, when the text order of
    the timestamps says otherwise?"""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Tape_s1_attempt_2026-11-20T10:30:00+02:00_gradient_tape.ipynb", "earlier")  # 08:30 UTC
        zf.writestr("Tape_s1_attempt_2026-11-20T09:00:00+00:00_gradient_tape.ipynb", "later")    # 09:00 UTC
    found = collect(archive, KNOWN, named_regexp=ISO_NAMED)
    assert [(s.student, s.files, s.timestamp) for s in found.submissions] == [
        ("s1", {"gradient_tape.ipynb": b"later"}, datetime(2026, 11, 20, 9, 0))]
    assert found.problems == []


def test_an_unreadable_timestamp_is_reported_and_counts_as_oldest(tmp_path):
    """Is an attempt whose timestamp cannot be read reported, and beaten by one whose timestamp can?"""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Tape_s1_attempt_2026-13-45-99-00-00_gradient_tape.ipynb", "garbled")
        zf.writestr("Tape_s1_attempt_2026-11-20-09-00-00_gradient_tape.ipynb", "dated")
    found = collect(archive, KNOWN)
    assert [(s.files, s.timestamp) for s in found.submissions] == [
        ({"gradient_tape.ipynb": b"dated"}, datetime(2026, 11, 20, 9, 0))]
    assert len(found.problems) == 1 and "timestamp '2026-13-45-99-00-00' not understood" in found.problems[0]


def test_folder_timestamp_file(tmp_path):
    """Is the timestamp.txt that nbgrader collect leaves in a submission folder its time, in UTC?"""
    _touch(tmp_path / "s1" / "01_gradient_tape" / "gradient_tape.ipynb", "A")
    _touch(tmp_path / "s1" / "01_gradient_tape" / "timestamp.txt", "2026-11-20 10:00:00.000000 Europe/Berlin\n")
    _touch(tmp_path / "s2" / "01_gradient_tape" / "gradient_tape.ipynb", "B")
    found = collect(tmp_path, KNOWN)
    assert [(s.student, s.timestamp) for s in found.submissions] == [
        ("s1", datetime(2026, 11, 20, 9, 0)), ("s2", None)]
