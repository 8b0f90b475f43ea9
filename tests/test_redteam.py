"""The red-team suite: hostile and broken submissions graded as one class through the kit's pipeline.

Every case of ``tests/redteam/cases.py`` is handed in by its own student of a
small course (the assignment of ``tests/redteam/source``). The class is graded
by :func:`tapelab.grading.driver.grade_class` (the ``make grade`` path: intake,
tamper checks, one sandboxed nbgrader job per student on a local Dask cluster,
one writer of the course gradebook), with tight limits so the batch takes
seconds per case (``cases.LIMITS``). Then each case's score and messages are compared with what
the case expects, and the batch as a whole must leave every other student's
files and grades alone.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from grading_support import course_config

HERE = Path(__file__).resolve().parent / "redteam"
sys.path.insert(0, str(HERE))

import build  # noqa: E402
import cases  # noqa: E402

from tapelab.grading import intake, sandbox  # noqa: E402

pytestmark = pytest.mark.slow


def _messages(result) -> list[str]:
    """Everything a student reads about a result: summary messages, cell errors, notes in the notebook."""
    found = list(result.messages) + [c.message for c in result.cells if c.message]
    for data in result.autograded.values():
        for cell in json.loads(data)["cells"]:
            for out in cell.get("outputs", []):
                if out["output_type"] == "error":
                    found.append(f"{out['ename']}: {out['evalue']}")
                elif out["output_type"] == "stream" and "output truncated" in out.get("text", ""):
                    found.append(out["text"].strip())
    return found


def _rows(gradebook: Path, student: str) -> dict[str, float]:
    """grade_id -> auto score of one student in the course gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{gradebook}") as gb:
        try:
            sub = gb.find_submission(cases.ASSIGNMENT, student)
        except MissingEntry:
            return {}
        return {g.name: g.auto_score or 0.0 for nb in sub.notebooks for g in nb.grades}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every case once; return (course root, originals, {case: JobResult}, fingerprint of originals before)."""
    from tapelab.grading.driver import grade_class

    sandbox.check_sandbox(False)
    root = tmp_path_factory.mktemp("redteam")
    course, originals = root / "course", root / "submissions"
    shutil.copytree(HERE / "source", course / "solutions")
    course_config(course, cases.ASSIGNMENT)
    release = build.release_notebook(HERE / "source" / cases.ASSIGNMENT / cases.NOTEBOOK)
    # Hostile code aims at the correct student's notebook, the course gradebook and the instructor's source.
    other = course / "autograder" / "submitted" / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK
    places = {"@@OTHER@@": str(other), "@@GRADEBOOK@@": str(course / "autograder" / "gradebook.db"),
              "@@SOURCE@@": str(course / "solutions" / cases.ASSIGNMENT / cases.NOTEBOOK)}
    for case in cases.CASES:
        for rel, data in case.files(release).items():
            for key, value in places.items():
                data = data.replace(key.encode(), value.encode())
            path = originals / case.name / cases.ASSIGNMENT / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    other.parent.mkdir(parents=True)
    shutil.copyfile(originals / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK, other)
    before = intake.fingerprint(originals)
    report = grade_class(originals, config=course / "autograder" / "nbgrader_config.py", workers=3, limits=cases.LIMITS)
    assert str(report.containment).startswith("sandboxed")
    return course, originals, {student: r for (student, _a), r in report.results.items()}, before


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_case_outcome(batch, case):
    """Does each hostile or broken submission get its expected score and message?"""
    result = batch[2][case.name]
    messages = _messages(result)
    score = result.score if result.status == "graded" else None
    assert score == case.score, f"{case.name}: {result.status} {result.score} {messages}"
    for pattern in case.messages:
        assert any(re.search(pattern, m) for m in messages), f"{case.name}: no {pattern!r} in {messages}"


def test_no_other_grade_or_file_changed(batch):
    """Are the originals, the source, the correct student's notebook and every gradebook row as grading left them?"""
    course, originals, results, before = batch
    assert intake.fingerprint(originals) == before
    assert (course / "solutions" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes() == \
        (HERE / "source" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes()
    other = course / "autograder" / "submitted" / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK
    assert other.read_bytes() == (originals / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes()
    gradebook = course / "autograder" / "gradebook.db"
    assert _rows(gradebook, "correct") == {"test_add": 1.0, "test_norm": 1.0, "test_step": 1.0}
    for student, result in results.items():  # each row is what that student's own job returned
        if result.status == "graded":
            assert _rows(gradebook, student) == {c.grade_id: c.score for c in result.cells}, student


def test_batch_finished_with_every_case(batch):
    """Did the batch finish with a result for every case, at least 20 of them, none failed?"""
    results = batch[2]
    assert set(results) == set(cases.BY_NAME) and len(results) >= 20
    assert all(r.status in ("graded", "not-gradable") for r in results.values())


def test_zip_with_path_traversal_is_contained(tmp_path):
    """Does a zip with '../' and absolute names extract only inside its folder, with a message per member?"""
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/redteam/tiny.ipynb", "{}")
        zf.writestr("../../escaped.txt", "x")
        zf.writestr("/etc/evil.txt", "x")
    dest = tmp_path / "out"
    messages = intake.safe_extract(archive, dest)
    assert (dest / "alice" / "redteam" / "tiny.ipynb").is_file()
    assert not list(tmp_path.parent.rglob("escaped.txt")) and not Path("/etc/evil.txt").exists()
    assert messages == ["upload.zip: skipped '../../escaped.txt', a path that leaves the submission folder",
                        "upload.zip: skipped '/etc/evil.txt', a path that leaves the submission folder"]
