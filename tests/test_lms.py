"""Grades an LMS imports: the Canvas and Moodle CSVs, and nbgrader's late-submission penalty behind them."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest

from synthetic_class import toy_result
from tapelab.grading import gradebook, lms
from tapelab.grading.jobs import NOT_GRADABLE, JobResult

DUE = datetime(2026, 11, 20, 23, 59)


def _rows(path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _class(path, *, penalty_method: str = "zero"):
    """The toy assignment due on DUE: ann on time (3/3), bob a day late (3/3), cyd without a time (1/3), dee nothing."""
    with gradebook.connect(path) as gb:
        gb.update_or_create_assignment("toy", duedate=DUE)  # as `nbgrader db assignment add toy --duedate=...`
        gb.update_or_create_student("dee", first_name="Dee", last_name="Nosub", email="dee@example.org",
                                    lms_user_id="4711")
    late = gradebook.late_plugin({"LateSubmissionPlugin": {"penalty_method": penalty_method}})
    gradebook.merge(path, toy_result("ann", 2, 1), timestamp=datetime(2026, 11, 20, 12, 0), late=late)
    gradebook.merge(path, toy_result("bob", 2, 1), timestamp=datetime(2026, 11, 21, 23, 0), late=late)
    gradebook.merge(path, toy_result("cyd", 0, 1), late=late)


def test_a_late_submission_gets_nbgraders_penalty(tmp_path):
    """With penalty_method "zero", does the late submission lose its points as nbgrader's own export says,
    and only it?"""
    db = tmp_path / "gradebook.db"
    _class(db)
    gradebook.merge(db, toy_result("bob", 2, 1), timestamp=datetime(2026, 11, 21, 23, 0),
                    late=gradebook.late_plugin({"LateSubmissionPlugin": {"penalty_method": "zero"}}))  # idempotent
    with gradebook.read(db) as gb:
        totals = gradebook.totals(gb, "toy")
    assert {s: (t.score, t.penalty, t.final) for s, t in totals.items()} == {
        "ann": (3.0, 0.0, 3.0), "bob": (3.0, 3.0, 0.0), "cyd": (1.0, 0.0, 1.0)}
    nbgrader_csv = {r["student_id"]: r for r in csv.DictReader(gradebook.export_csv(db, tmp_path / "g.csv").open())}
    assert {s: (float(r["raw_score"]), float(r["late_submission_penalty"]), float(r["score"]))
            for s, r in nbgrader_csv.items() if s in totals} == {s: (t.score, t.penalty, t.final)
                                                                 for s, t in totals.items()}
    assert _rows(lms.export_moodle(db, tmp_path / "m.csv"))[1:] == [
        ["ann", "", "3"], ["bob", "", "0"], ["cyd", "", "1"], ["dee", "dee@example.org", ""]]


def test_no_penalty_without_a_penalty_method(tmp_path):
    """With nbgrader's default penalty_method "none", does a late submission keep its points?"""
    db = tmp_path / "gradebook.db"
    _class(db, penalty_method="none")
    with gradebook.read(db) as gb:
        assert gradebook.totals(gb, "toy")["bob"].final == 3.0


def test_canvas_layout(tmp_path):
    """Does the Canvas CSV have Canvas's identifying columns, a Points Possible row, one row per student
    ("Last, First", the LMS id where known) and an empty cell where nothing was submitted?"""
    db = tmp_path / "gradebook.db"
    _class(db)
    assert _rows(lms.export_canvas(db, tmp_path / "c.csv")) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "toy"],
        ["Points Possible", "", "", "", "", "3"],
        ["ann", "", "", "ann", "", "3"],
        ["bob", "", "", "bob", "", "0"],
        ["cyd", "", "", "cyd", "", "1"],
        ["Nosub, Dee", "4711", "", "dee", "", ""],
    ]


def test_an_ungradable_notebook_scores_zero_in_the_lms(tmp_path):
    """Does a submission nbgrader scores 0 (not gradable) give 0, not an empty cell?"""
    db = tmp_path / "gradebook.db"
    gradebook.merge(db, toy_result("ann", 2, 1))
    gradebook.merge(db, JobResult("eve", "toy", NOT_GRADABLE, 0.0, 3.0, messages=["toy.ipynb is not valid JSON"]))
    assert _rows(lms.export_moodle(db, tmp_path / "m.csv"))[1:] == [["ann", "", "3"], ["eve", "", "0"]]


def test_points_keep_their_decimals(tmp_path):
    """Are fractional points written as numbers an LMS reads (2.5, not 2.50 or 2,5)?"""
    db = tmp_path / "gradebook.db"
    gradebook.merge(db, toy_result("ann", 1.5, 1))
    assert _rows(lms.export_canvas(db, tmp_path / "c.csv"))[2][-1] == "2.5"


@pytest.mark.slow
def test_the_sample_class_in_both_lms_files(graded):
    """After grading the sample class, do grades_canvas.csv and grades_moodle.csv hold every student's points
    from the gradebook, the maximum of each assignment, and nothing where a student did not submit?"""
    root, _ = graded
    db = root / "autograder" / "gradebook.db"
    scores = gradebook.scores(db)
    maxima = {a: m for (_, a), (_, m) in scores.items()}
    canvas = _rows(root / "autograder" / "grades_canvas.csv")
    moodle = _rows(root / "autograder" / "grades_moodle.csv")
    assignments = canvas[0][5:]
    assert canvas[0][:5] == lms.CANVAS_COLUMNS and moodle[0] == lms.MOODLE_COLUMNS + assignments
    assert assignments == sorted(maxima)
    assert canvas[1] == ["Points Possible", "", "", "", ""] + [f"{maxima[a]:g}" for a in assignments]
    students = sorted({s for s, _ in scores})
    want = [[f"{scores[(s, a)][0]:g}" if (s, a) in scores else "" for a in assignments] for s in students]
    assert [row[3] for row in canvas[2:]] == students and [row[5:] for row in canvas[2:]] == want
    assert [row[0] for row in moodle[1:]] == students and [row[2:] for row in moodle[1:]] == want
