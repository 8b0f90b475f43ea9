"""The course gradebook: only the driver writes it, one job result at a time.

Every job grades in a private gradebook; :func:`merge` copies what it recorded
(the assignment's cells, the student, the autograder's scores and comments) into
the course gradebook through nbgrader's API, as ``nbgrader autograde`` run in
the course folder would have. Merging the same result twice changes nothing, so
a retried or resumed job is never counted twice, and what a grader did in the
formgrader stays: manual scores and comments are never written, and a cell graded
by hand is flagged for review again only when it is graded anew (as ``nbgrader
autograde --force`` flags it), not when a resumed run merges the same result again.
:func:`export_csv` is ``nbgrader export``'s CSV.

Late submissions are penalised as ``nbgrader autograde`` does (its
``AssignLatePenalties`` step): a submission whose time is past the assignment's due
date (with the student's extension; set with ``nbgrader db assignment add NAME
--duedate=...``) gets, per notebook, the penalty of nbgrader's
``LateSubmissionPlugin`` configured in the course config
(``c.LateSubmissionPlugin.penalty_method = "zero"``; the default, ``"none"``,
gives none), between 0 and the notebook's score. The gradebook then reports
``score`` and ``late_submission_penalty`` side by side, as nbgrader's CSV does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import BasePlugin, LateSubmissionPlugin

from tapelab.grading import schema
from tapelab.grading.jobs import NOT_GRADABLE, JobResult


def db_url(path: Path) -> str:
    """sqlite URL of a gradebook file."""
    return f"sqlite:///{Path(path).resolve()}"


def _open(path: Path, course_id: str | None = None) -> Gradebook:
    """nbgrader's Gradebook at `path`, created (and stamped in this process) if missing.

    `course_id` (the course config's ``CourseDirectory.course_id``) is the course new assignments
    belong to, as nbgrader's commands record them; without one, nbgrader's default course.
    """
    schema.create_gradebook(path)
    return Gradebook(db_url(path), course_id) if course_id else Gradebook(db_url(path))


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


def late_plugin(config: dict | None = None) -> BasePlugin:
    """nbgrader's late-submission plugin as the course config sets it up.

    ``AssignLatePenalties.plugin_class`` may name another plugin class (as for ``nbgrader
    autograde``); its section of the config, e.g. ``LateSubmissionPlugin``, configures it.
    """
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    config = config or {}
    cls = config.get("AssignLatePenalties", {}).get("plugin_class") or LateSubmissionPlugin
    cls = import_item(cls) if isinstance(cls, str) else cls
    return cls(config=Config({k: v for k, v in config.items() if isinstance(v, dict)}))


def merge(path: Path, result: JobResult, *, timestamp: datetime | None = None,
          late: BasePlugin | None = None, reused: bool = False, course_id: str | None = None) -> None:
    """Write `result` into the gradebook at `path` (created if missing). Idempotent.

    A result without grades still records the student, so the CSV lists them. A
    notebook that could not be graded (unreadable, missing) scores 0 on every graded
    cell once the assignment is known, as nbgrader does for a missing notebook; a job
    that failed on every try records no score. `timestamp` (naive UTC) is when the
    student submitted; `late` the plugin that penalises a late submission
    (:func:`late_plugin`, nbgrader's default when None). `reused`: `result` is a
    cached one, of a submission graded before (see :func:`_needs_manual_grade`). `course_id`:
    the course an assignment recorded here belongs to (see :func:`_open`).
    """
    with _open(path, course_id) as gb, warnings.catch_warnings():
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warning; harmless.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(result.student)
        notebooks = result.records.get("notebooks")
        if not notebooks:
            if result.status == NOT_GRADABLE:
                _record_zero(gb, result)
            return
        _record_assignment(gb, result.assignment, notebooks)
        stamp = {"timestamp": timestamp} if timestamp is not None else {}
        submission = gb.update_or_create_submission(result.assignment, result.student, **stamp)
        for nb in notebooks:
            for grade in nb["grades"]:
                row = gb.find_grade(grade["name"], nb["name"], result.assignment, result.student)
                row.needs_manual_grade = _needs_manual_grade(row, grade, reused)
                row.auto_score = grade["auto_score"]
            for comment in nb["comments"]:
                try:
                    row = gb.find_comment(comment["name"], nb["name"], result.assignment, result.student)
                except MissingEntry:
                    continue
                row.auto_comment = comment["auto_comment"]
        gb.db.commit()
        _assign_late_penalties(gb, submission, late or LateSubmissionPlugin())


def _needs_manual_grade(row, grade: dict, reused: bool) -> bool:
    """The flag of the gradebook's grade `row` once the job's `grade` of the cell is merged.

    The job graded in a gradebook of its own, where no cell has a manual score, so its flag is
    nbgrader's for an ungraded cell: whether the autograder left no score. nbgrader's
    SaveAutoGrades also flags a cell that already has a manual score, for review, and so does
    this merge, unless the same result is merged again (`reused`, with the auto score the row
    holds): the cell has not changed since the grader saw it, and the grader's flag stays.
    """
    if row.manual_score is None:
        return bool(grade["needs_manual_grade"])
    if reused and row.auto_score == grade["auto_score"]:
        return bool(row.needs_manual_grade)
    return True


def _assign_late_penalties(gb: Gradebook, submission, plugin: BasePlugin) -> None:
    """Each notebook's late penalty, as nbgrader's AssignLatePenalties sets it: 0 <= penalty <= score."""
    late_s = submission.total_seconds_late
    for notebook in submission.notebooks:
        penalty = None
        if late_s > 0:
            penalty = plugin.late_submission_penalty(submission.student.id, notebook.score, late_s)
        notebook.late_submission_penalty = None if penalty is None else min(max(penalty, 0.0), notebook.score)
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


def connect(path: Path) -> Gradebook:
    """nbgrader's Gradebook at `path`, created if missing (use it as a context manager)."""
    return _open(path)


def read(path: Path) -> Gradebook:
    """The existing gradebook at `path`, for reading (use it as a context manager)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no gradebook at {path}: grade the class first (make grade SUBMISSIONS=...)")
    return _open(path)


@dataclass(frozen=True)
class Total:
    """A student's points for one assignment: ``score`` before and ``final`` after the late penalty."""

    score: float
    max_score: float
    penalty: float = 0.0
    timestamp: datetime | None = None

    @property
    def final(self) -> float:
        return self.score - self.penalty


def totals(gb: Gradebook, assignment: str) -> dict[str, Total]:
    """student id -> :class:`Total` of every submission of `assignment` in `gb`.

    Scores come from ``Gradebook.submission_dicts`` (one SQL query); late penalties from
    ``SubmittedAssignment.late_submission_penalty``, read only where the assignment has a
    due date (without one, nbgrader gives no penalty).
    """
    penalties = {}
    if gb.find_assignment(assignment).duedate is not None:
        penalties = {s.student_id: float(s.late_submission_penalty or 0.0)
                     for s in gb.assignment_submissions(assignment) if s.total_seconds_late > 0}
    return {d["student"]: Total(float(d["score"]), float(d["max_score"]), penalties.get(d["student"], 0.0),
                                d["timestamp"])
            for d in gb.submission_dicts(assignment)}


def scores(path: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, assignment) -> (score, max_score) as the gradebook at `path` has them (before late penalties)."""
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
