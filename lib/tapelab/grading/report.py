"""The class report: what each assignment's class got right and wrong, in one HTML file.

    python -m tapelab.grading.report [--config autograder/nbgrader_config.py] [--out autograder/report]

``make report`` runs it, and ``make grade`` / ``make demo`` at the end of grading. It
reads the course gradebook through nbgrader's API (``nbgrader.api.Gradebook``: the
points, the tests, the students) and what grading found beyond the points
(:mod:`tapelab.grading.findings`: failure messages, stopped cells, grading time), and
gathers, for each assignment, as plain data:

- the scores of the submissions (their histogram) and how many were late;
- the pass rate of every test, Σ points earned / Σ points available over the
  submissions, with the question its cell asks (the test cell's one-line docstring);
- the named mistakes (``[code]`` of :data:`tapelab.feedback.MISTAKES` in a failed
  test's message): how many students made each, with a link to each one's feedback;
- the cells the grader stopped (CPU time, memory, a dead kernel, wall-clock time) and
  the submissions that could not be graded, with the reason;
- grading time per notebook (median p50 and p95) and the core-hours the class took
  (the jobs' seconds on one worker core each, summed);
- the students of the gradebook with no submission of the assignment;
- the pairs of similar submissions (:mod:`tapelab.grading.similarity`).

:mod:`tapelab.grading.report_html` renders it. Nothing here writes the gradebook or
keeps grades of its own.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tapelab.feedback import MISTAKES
from tapelab.grading import answer_cells, findings, gradebook, similarity
from tapelab.grading.driver import Course
from tapelab.grading.jobs import FAILED, GRADED

#: a named mistake in a failure message, e.g. "[no-watch]".
CODE = re.compile(r"\[([a-z][a-z0-9-]*)\]")


@dataclass(frozen=True)
class TestRate:
    """One test cell: points earned over points available across the submissions."""

    notebook: str
    grade_id: str
    question: str
    points: float
    earned: float
    available: float

    @property
    def rate(self) -> float:
        return self.earned / self.available if self.available else 0.0


@dataclass(frozen=True)
class Link:
    """A student and the relative address of their feedback page ("" when there is none)."""

    student: str
    href: str = ""


@dataclass
class Mistake:
    """A named mistake of :data:`~tapelab.feedback.MISTAKES` and who made it."""

    code: str
    name: str
    tests: list[str] = field(default_factory=list)
    students: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class Stopped:
    """A cell the grader stopped: ``kind`` is cpu, memory, wall, notebook or died."""

    link: Link
    notebook: str
    cell: str
    kind: str
    summary: str


@dataclass(frozen=True)
class Ungraded:
    """A submission that could not be graded (``not-gradable``) or whose grading failed."""

    student: str
    status: str
    reason: str


@dataclass(frozen=True)
class Timing:
    """Grading time of an assignment: seconds per notebook (p50, p95) and core-hours in all."""

    jobs: int
    p50: float
    p95: float
    core_hours: float


@dataclass
class AssignmentReport:
    """Everything the report says about one assignment."""

    name: str
    max_score: float
    duedate: datetime | None
    scores: list[float]
    late: int
    penalty: float
    tests: list[TestRate]
    mistakes: list[Mistake]
    stops: list[Stopped]
    ungraded: list[Ungraded]
    timing: Timing
    missing: list[str]
    pairs: list[similarity.Pair]
    without_findings: int = 0


@dataclass
class CourseReport:
    """The class report: the course, its assignments, the files next to it."""

    course_id: str
    generated: datetime
    students: int
    assignments: list[AssignmentReport]
    settings: similarity.Settings
    files: dict[str, str] = field(default_factory=dict)

    @property
    def core_hours(self) -> float:
        return sum(a.timing.core_hours for a in self.assignments)


def question(source: str) -> str:
    """The one-line docstring opening a test cell, without its quotes ("" when there is none)."""
    first = source.strip().splitlines()[0].strip() if source.strip() else ""
    match = re.fullmatch(r"[rRuU]?(\"\"\"|''')(.*?)(\1)?", first)
    return match.group(2).strip() if match else ""


def _rel(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path, out)).as_posix()


def _tests(assignment) -> list[TestRate]:
    rates = []
    for nb in assignment.notebooks:
        sources = {cell.name: cell.source or "" for cell in nb.source_cells}
        for cell in nb.grade_cells:
            scores = [float(g.score or 0.0) for g in cell.grades]
            rates.append(TestRate(nb.name, cell.name, question(sources.get(cell.name, "")), float(cell.max_score),
                                  sum(scores), float(cell.max_score) * len(scores)))
    return rates


def _assignment(course: Course, gb, assignment, students: list[str], found: dict, out: Path,
                settings: similarity.Settings | None) -> AssignmentReport:
    name = assignment.name
    notebooks = [nb.name for nb in assignment.notebooks]
    totals = gradebook.totals(gb, name)
    enrolled = set(students)
    mine = {s: f for (s, a), f in found.items() if a == name and s in enrolled}  # the gradebook is the class

    def link(student: str, notebook: str) -> Link:
        page = course.feedback / student / name / f"{notebook}.html"
        return Link(student, _rel(page, out) if page.is_file() else "")

    stops, ungraded = [], []
    for student, f in sorted(mine.items()):
        stops += [Stopped(link(student, stop.notebook), stop.notebook, stop.cell, stop.kind, stop.summary)
                  for stop in f.stops]
        if f.status != GRADED:
            ungraded.append(Ungraded(student, f.status, "; ".join(f.messages) or "no reason recorded"))
    seconds = [f.seconds / max(1, len(notebooks)) for f in mine.values() if f.seconds > 0]
    timing = Timing(len(seconds), float(np.percentile(seconds, 50)) if seconds else 0.0,
                    float(np.percentile(seconds, 95)) if seconds else 0.0,
                    sum(f.seconds for f in mine.values()) / 3600)
    failed = {s for s, f in mine.items() if f.status == FAILED}
    pairs = similar(course, name, sorted(totals), notebooks, settings) if settings else []
    return AssignmentReport(
        name=name, max_score=float(assignment.max_score), duedate=assignment.duedate,
        scores=sorted(t.score for t in totals.values()), late=sum(t.penalty > 0 for t in totals.values()),
        penalty=sum(t.penalty for t in totals.values()), tests=_tests(assignment),
        mistakes=_mistakes(mine, link), stops=stops,
        ungraded=ungraded, timing=timing, missing=sorted(set(students) - set(totals) - failed),
        pairs=pairs, without_findings=len(set(totals) - set(mine)))


def _mistakes(mine: dict[str, findings.Findings], link) -> list[Mistake]:
    """The named mistakes in the failure messages, most frequent first; `link(student, notebook)`."""
    mistakes: dict[str, Mistake] = {}
    seen: set[tuple[str, str]] = set()
    for student, f in sorted(mine.items()):
        for failure in f.failures:
            for code in CODE.findall(failure.message):
                if code not in MISTAKES:
                    continue
                m = mistakes.setdefault(code, Mistake(code, MISTAKES[code][0]))
                m.tests += [failure.grade_id] if failure.grade_id not in m.tests else []
                if (code, student) not in seen:
                    seen.add((code, student))
                    m.students.append(link(student, failure.notebook))
    return sorted(mistakes.values(), key=lambda m: (-len(m.students), m.code))


def similar(course: Course, assignment: str, students: list[str], notebooks: list[str],
            settings: similarity.Settings = similarity.Settings()) -> list[similarity.Pair]:
    """The listed pairs of similar submissions of `assignment` (notebook names without .ipynb)."""
    return similarity.find_pairs(assignment, _submitted(course, assignment, students, notebooks),
                                 _references(course, assignment, notebooks), settings)


def _submitted(course: Course, assignment: str, students, notebooks: list[str]) -> dict[str, answer_cells.Answers]:
    """student -> the answers of the submitted copy the grader graded (tokenized during grading, else now)."""
    out = {}
    for student in students:
        found = answer_cells.load(course.answers, student, assignment)
        if found is None:
            files = {f"{nb}.ipynb": course.submitted / student / assignment / f"{nb}.ipynb" for nb in notebooks}
            files = {name: path.read_bytes() for name, path in files.items() if path.is_file()}
            found = answer_cells.of_files(files) if files else None
        if found is not None:
            out[student] = found
    return out


def _references(course: Course, assignment: str, notebooks: list[str]) -> dict[str, dict[str, similarity.Reference]]:
    out = {}
    for nb in notebooks:
        source = course.source / assignment / f"{nb}.ipynb"
        if source.is_file():
            release = course.release / assignment / f"{nb}.ipynb" if course.release else None
            out[f"{nb}.ipynb"] = similarity.references(source, release, course.config)
    return out


def gather(course: Course, out: Path, *, settings: similarity.Settings | None = similarity.Settings()
           ) -> CourseReport:
    """The report of `course`, with links relative to the folder `out`; `settings` None skips similarity."""
    found = findings.load_all(course.findings)
    with gradebook.read(course.gradebook) as gb:
        students = [s.id for s in gb.students]
        assignments = [_assignment(course, gb, a, students, found, out, settings) for a in gb.assignments]
    files = {label: _rel(path, out) for label, path in (("nbgrader CSV", course.csv), ("Canvas CSV", course.canvas_csv),
                                                       ("Moodle CSV", course.moodle_csv)) if path.is_file()}
    course_id = course.config.get("CourseDirectory", {}).get("course_id", "") or course.root.name
    return CourseReport(course_id, datetime.now(timezone.utc), len(students), assignments,
                        settings or similarity.Settings(), files)


def write(course: Course, out: Path | None = None, **kwargs) -> Path:
    """Gather and render the report of `course` into `out`/index.html (default: autograder/report)."""
    from tapelab.grading import report_html

    out = Path(out or course.report)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(report_html.render(gather(course, out.resolve(), **kwargs)), encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    from tapelab.grading.cli import course_config

    p = argparse.ArgumentParser(prog="python -m tapelab.grading.report",
                                description="Write the class report (one HTML file) from the course gradebook.")
    p.add_argument("--course", type=Path, help="the course folder, with its nbgrader_config.py (default: here)")
    p.add_argument("--config", type=Path, help="the course's nbgrader_config.py itself (instead of --course)")
    p.add_argument("--out", type=Path, help="folder of index.html (default: report/ next to the gradebook)")
    args = p.parse_args(argv)
    try:
        page = write(Course.from_config(args.config or course_config(args.course)), args.out)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"class report:   {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
