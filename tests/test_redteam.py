"""The red-team suite: hostile and broken submissions graded in one batch, sandboxed.

Every case of ``tests/redteam/cases.py`` is handed in by its own student of one
course; the batch runs intake, the tamper checks and ``nbgrader autograde`` with
the sandbox's config (the kernel manager in bubblewrap, the limits below). Then
each case's score and messages are compared with what the case expects, and the
batch as a whole must leave every other student's files and grades alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "redteam"
sys.path.insert(0, str(HERE))

import build  # noqa: E402
import cases  # noqa: E402
import grade_batch  # noqa: E402

from tapelab.grading import intake, sandbox  # noqa: E402

pytestmark = pytest.mark.slow

#: the batch runs as this many side-by-side processes, each grading its share in its own course.
SHARDS = 2


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every case once; return (courses, originals, {case: result}, fingerprint of originals before)."""
    sandbox.check_sandbox(False)
    root = tmp_path_factory.mktemp("redteam")
    originals = root / "originals"
    courses = [root / f"course{k}" for k in range(SHARDS)]
    for course in courses:
        shutil.copytree(HERE / "source", course / "source")
    release = build.release_notebook(HERE / "source" / cases.ASSIGNMENT / cases.NOTEBOOK)
    # Hostile code aims at the first course: the correct student's notebook, its gradebook, its source.
    places = {"@@OTHER@@": str(courses[0] / "submitted" / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK),
              "@@GRADEBOOK@@": str(courses[0] / "gradebook.db"),
              "@@SOURCE@@": str(courses[0] / "source" / cases.ASSIGNMENT / cases.NOTEBOOK)}
    for case in cases.CASES:
        for rel, data in case.files(release).items():
            for key, value in places.items():
                data = data.replace(key.encode(), value.encode())
            path = originals / case.name / cases.ASSIGNMENT / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    before = intake.fingerprint(originals)
    hostile = [c.name for c in cases.CASES if c.name != "correct"]
    procs = []
    for k, course in enumerate(courses):  # "correct" first in each course: later cases must leave it alone
        names = ["correct", *hostile[k::SHARDS]]
        procs.append(subprocess.Popen([sys.executable, str(HERE / "grade_batch.py"), str(course), str(originals),
                                       str(course / "results.json"), *names],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-3000:]
    shards = [json.loads((course / "results.json").read_text()) for course in courses]
    results = {name: got for shard in shards for name, got in shard.items()}
    return courses, originals, results, before, shards


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_case_outcome(batch, case):
    """Does each hostile or broken submission get its expected score and message?"""
    got = batch[2][case.name]
    assert got["score"] == case.score, f"{case.name}: {got}"
    for pattern in case.messages:
        assert any(re.search(pattern, m) for m in got["messages"]), f"{case.name}: no {pattern!r} in {got['messages']}"


def test_no_other_grade_or_file_changed(batch):
    """Are the originals, the sources, the correct student's notebook and every student's grades unchanged?"""
    courses, originals, _results, before, shards = batch
    assert intake.fingerprint(originals) == before
    source = (HERE / "source" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes()
    for course, shard in zip(courses, shards):
        assert (course / "source" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes() == source
        assert b"pwned" not in (course / "submitted" / "correct" / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes()
        for student, got in shard.items():  # rows and files as they were right after the student's own grading
            if got["score"] is not None:
                assert grade_batch.rows(course, student) == got["rows"], student
                assert grade_batch.files(course, student) == got["files"], student
        assert [r[1] for r in grade_batch.rows(course, "correct")] == [1.0, 1.0, 1.0]


def test_batch_finished_with_every_case(batch):
    """Did the batch finish with a result for every case, at least 20 of them?"""
    results = batch[2]
    assert set(results) == set(cases.BY_NAME) and len(results) >= 20


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
    assert not (tmp_path.parent / "escaped.txt").exists() and not list(tmp_path.rglob("escaped.txt"))
    assert messages == ["upload.zip: skipped '../../escaped.txt', a path that leaves the submission folder",
                        "upload.zip: skipped '/etc/evil.txt', a path that leaves the submission folder"]
