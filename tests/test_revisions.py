"""An assignment changed after it was graded: refused with a message naming the cells, or replaced."""

from __future__ import annotations

import json
from pathlib import Path

from nbgrader.api import Gradebook

from tapelab.grading import revisions
from tapelab.grading.collect import source_files


def _graded_course(repo: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A gradebook recording the sample 01's assignment with ada's submission, and 01's source files."""
    from tapelab.grading import gradebook
    from tapelab.grading.jobs import GRADED, JobResult

    source = source_files(repo / "solutions", "01_gradient_tape")
    cells = revisions.source_cells(source)["gradient_tape"]
    nb = json.loads(source["gradient_tape.ipynb"])
    meta = [c["metadata"]["nbgrader"] for c in nb["cells"] if c.get("metadata", {}).get("nbgrader")]
    record = {"name": "gradient_tape",
              "grade_cells": [{"name": m["grade_id"], "max_score": float(m.get("points", 0)), "cell_type": "code"}
                              for m in meta if m.get("grade")],
              "task_cells": [], "solution_cells": [{"name": m["grade_id"]} for m in meta if m.get("solution")],
              "source_cells": [{"name": m["grade_id"], "cell_type": "code", "locked": bool(m.get("locked")),
                                "source": "", "checksum": None} for m in meta if m["grade_id"] in cells],
              "grades": [{"name": m["grade_id"], "auto_score": float(m.get("points", 0)), "needs_manual_grade": False}
                         for m in meta if m.get("grade")], "comments": []}
    result = JobResult(student="ada", assignment="01_gradient_tape", status=GRADED, score=0.0, max_score=0.0,
                       records={"notebooks": [record]})
    db = tmp_path / "gradebook.db"
    gradebook.merge(db, result)
    return db, source


def test_an_unchanged_assignment_passes(repo, tmp_path):
    """Is an assignment recorded with the cells its source has now (or not recorded at all) let through?"""
    db, source = _graded_course(repo, tmp_path)
    assert revisions.changed_assignments(db, {"01_gradient_tape": source}) == []
    assert revisions.changed_assignments(tmp_path / "none.db", {"01_gradient_tape": source}) == []


def test_a_changed_assignment_is_named_with_its_cells_and_the_fix(repo, tmp_path):
    """Is a test added to the source (and one removed) reported with both names, how many submissions, and the fix?"""
    db, source = _graded_course(repo, tmp_path)
    nb = json.loads(source["gradient_tape.ipynb"])
    graded = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    graded[0]["metadata"]["nbgrader"]["grade_id"] = "test_new"
    changed = revisions.changed_assignments(db, {"01_gradient_tape": {**source,
                                                 "gradient_tape.ipynb": json.dumps(nb).encode()}})
    [c] = changed
    assert c.assignment == "01_gradient_tape" and c.submissions == 1
    assert c.added == ("gradient_tape/test_new",) and len(c.removed) == 1
    text = revisions.refusal(changed)
    assert "01_gradient_tape changed since 1 submission(s) were graded (added gradient_tape/test_new; removed " in text
    assert "--replace-changed" in text and "manual grades" in text


def test_replacing_removes_the_assignment_and_its_grades(repo, tmp_path):
    """Does replacing remove the assignment with its submissions, and leave the students?"""
    db, _ = _graded_course(repo, tmp_path)
    revisions.replace_assignments(db, ["01_gradient_tape"])
    with Gradebook(f"sqlite:///{db}") as gb:
        assert [a.name for a in gb.assignments] == [] and [s.id for s in gb.students] == ["ada"]


def test_a_test_the_old_submissions_were_never_graded_on_counts_as_added(repo, tmp_path):
    """A record that already lists a new test cell (updated by an earlier run) while a submission has no grade
    for it: is that cell reported as added?"""
    db, source = _graded_course(repo, tmp_path)
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.update_or_create_grade_cell("test_new", "gradient_tape", "01_gradient_tape", max_score=1.0,
                                       cell_type="code")
    nb = json.loads(source["gradient_tape.ipynb"])
    nb["cells"].append({"cell_type": "code", "id": "x1", "metadata": {"nbgrader": {
        "grade": True, "grade_id": "test_new", "locked": True, "points": 1, "schema_version": 3,
        "solution": False, "task": False}}, "source": "assert True", "outputs": [], "execution_count": None})
    [c] = revisions.changed_assignments(db, {"01_gradient_tape": {**source, "gradient_tape.ipynb": json.dumps(nb).encode()}})
    assert (c.added, c.removed) == (("gradient_tape/test_new",), ())
