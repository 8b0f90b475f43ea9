"""The course gradebook: only the driver writes it, one job result at a time.

Every job grades in a private gradebook; :func:`merge` copies what it recorded
(the assignment's cells, the student, the autograder's scores and comments) into
the course gradebook through nbgrader's API, as ``nbgrader autograde`` run in
the course folder would have. Merging the same result twice changes nothing, so
a retried or resumed job is never counted twice. :func:`export_csv` is
``nbgrader export``'s CSV.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from tapelab.grading import schema
from tapelab.grading.jobs import NOT_GRADABLE, JobResult


def db_url(path: Path) -> str:
    """sqlite URL of a gradebook file."""
    return f"sqlite:///{Path(path).resolve()}"


def _open(path: Path) -> Gradebook:
    """nbgrader's Gradebook at `path`, created (and stamped in this process) if missing."""
    schema.install()
    return Gradebook(db_url(path))


def _record_assignment(gb: Gradebook, assignment: str, notebooks: list[dict]) -> None:
    """The assignment's notebooks and cells, as ``nbgrader generate_assignment`` records them."""
    gb.update_or_create_assignment(assignment)
    for nb in notebooks:
        name = nb["name"]
        gb.update_or_create_notebook(name, assignment)
        for cell in nb["grade_cells"]:
            gb.update_or_create_grade_cell(cell["name"], name, assignment, max_score=cell["max_score"],
                                           cell_type=cell["cell_type"])
        for cell in nb["task_cells"]:
            gb.update_or_create_task_cell(cell["name"], name, assignment, max_score=cell["max_score"],
                                          cell_type=cell["cell_type"])
        for cell in nb["solution_cells"]:
            gb.update_or_create_solution_cell(cell["name"], name, assignment)
        for cell in nb["source_cells"]:
            gb.update_or_create_source_cell(cell["name"], name, assignment, cell_type=cell["cell_type"],
                                            locked=cell["locked"], source=cell["source"], checksum=cell["checksum"])


def merge(path: Path, result: JobResult) -> None:
    """Write `result` into the gradebook at `path` (created if missing). Idempotent.

    A result without grades still records the student, so the CSV lists them. A
    notebook that could not be graded (unreadable, missing) scores 0 on every graded
    cell once the assignment is known, as nbgrader does for a missing notebook; a job
    that failed on every try records no score.
    """
    with _open(path) as gb, warnings.catch_warnings():
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warning; harmless.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(result.student)
        notebooks = result.records.get("notebooks")
        if not notebooks:
            if result.status == NOT_GRADABLE:
                _record_zero(gb, result)
            return
        _record_assignment(gb, result.assignment, notebooks)
        gb.update_or_create_submission(result.assignment, result.student)
        for nb in notebooks:
            for grade in nb["grades"]:
                row = gb.find_grade(grade["name"], nb["name"], result.assignment, result.student)
                row.auto_score = grade["auto_score"]
                row.needs_manual_grade = bool(grade["needs_manual_grade"])
            for comment in nb["comments"]:
                try:
                    row = gb.find_comment(comment["name"], nb["name"], result.assignment, result.student)
                except MissingEntry:
                    continue
                row.auto_comment = comment["auto_comment"]
        gb.db.commit()


def _record_zero(gb: Gradebook, result: JobResult) -> None:
    try:
        gb.find_assignment(result.assignment)
    except MissingEntry:
        return
    submission = gb.update_or_create_submission(result.assignment, result.student)
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
    gb.db.commit()


def scores(path: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, assignment) -> (score, max_score) as the gradebook at `path` has them."""
    out = {}
    with _open(path) as gb:
        for assignment in gb.assignments:
            for submission in gb.assignment_submissions(assignment.name):
                out[(submission.student.id, assignment.name)] = (float(submission.score),
                                                                 float(submission.max_score))
    return out


def export_csv(path: Path, dest: Path) -> Path:
    """``nbgrader export``: one row per student and assignment of the gradebook at `path`."""
    from nbgrader.plugins import CsvExportPlugin

    with _open(path) as gb:
        CsvExportPlugin(to=str(dest)).export(gb)
    return dest
