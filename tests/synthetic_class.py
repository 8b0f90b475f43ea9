"""A synthetic graded class, built with nbgrader's API, for the class report's tests and benchmarks.

:func:`build` writes under a course root what grading a class leaves behind, without
grading anything: the kit's config, the source notebooks, a gradebook with every
assignment, notebook, grade cell, student, submission and score (through
``nbgrader.api.Gradebook``), the grading findings of every job (one with a named
mistake in its failure message, a stopped cell, or an unreadable notebook now and
then), and, with ``answers=True``, the submitted notebooks: each student's answer
cells are the instructor's solution with edits of their own (statements added, a
line dropped, a constant changed), a few left as the starter code, and the pairs in
:attr:`Built.copies` copied from one another with the names changed. With
``tokenized=True`` their answers are also tokenized, as the driver does while it grades.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sqlalchemy import text

from tapelab.feedback import MISTAKES
from tapelab.grading import answer_cells
from tapelab.grading import findings, gradebook
from tapelab.grading.jobs import GRADED, NOT_GRADABLE, CellScore, JobResult
from tapelab.grading.limits import cpu_stop

REPO = Path(__file__).resolve().parents[1]
#: what a stub cell of the release holds.
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@dataclass
class Built:
    """What :func:`build` made: the config to read it with and the facts a test can check."""

    config: Path
    students: list[str]
    submitted: dict[str, set[str]] = field(default_factory=dict)  # assignment -> students who submitted
    copies: list[tuple[str, str, str]] = field(default_factory=list)  # (assignment, student, copier)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _solution(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if line.strip() not in ("### BEGIN SOLUTION",
                                                                                  "### END SOLUTION"))


def _record(gb, assignment: str, name: str, nb) -> list[tuple[str, float]]:
    """Record `nb` in `gb` as generate_assignment does; its (grade cell, points)."""
    gb.update_or_create_notebook(name, assignment)
    tests = []
    for cell in nb.cells:
        meta = _meta(cell)
        if not meta.get("grade_id"):
            continue
        kind = cell.cell_type
        if meta.get("grade"):
            gb.update_or_create_grade_cell(meta["grade_id"], name, assignment, max_score=float(meta["points"]),
                                           cell_type=kind)
            tests.append((meta["grade_id"], float(meta["points"])))
        if meta.get("solution"):
            gb.update_or_create_solution_cell(meta["grade_id"], name, assignment)
        gb.update_or_create_source_cell(meta["grade_id"], name, assignment, cell_type=kind,
                                        locked=bool(meta.get("locked")), source=cell.source, checksum="")
    return tests


def _edit(code: str, rng: random.Random) -> str:
    """The solution as one student writes it: a few statements of their own, a line gone, a constant changed."""
    lines = code.splitlines()
    for _ in range(rng.randint(2, 4)):
        at = rng.randrange(len(lines) + 1)
        indent = re.match(r"\s*", lines[at - 1] if at else "").group(0)
        if at and lines[at - 1].rstrip().endswith(":"):
            indent += "    "
        name = rng.choice(["tmp", "val", "scale", "step", "acc", "out"]) + str(rng.randrange(100))
        lines.insert(at, indent + rng.choice([
            f"{name} = {rng.uniform(0, 9):.3f} * {rng.randrange(2, 99)} - {rng.randrange(999)}",
            f"{name} = [{rng.randrange(99)}, {rng.randrange(99)}, {rng.randrange(99)}][{rng.randrange(3)}]",
            f"{name} = max({rng.randrange(50)}, min({rng.randrange(50, 99)}, {rng.uniform(0, 1):.4f}))",
            f"assert {rng.randrange(99)} <= {rng.randrange(99, 999)}, 'check {rng.randrange(9999)}'"]))
    if len(lines) > 4 and rng.random() < 0.5:
        del lines[rng.randrange(1, len(lines))]
    text = "\n".join(lines)
    return re.sub(r"\b\d+\b", lambda m: str(int(m.group(0)) + rng.randint(0, 3)), text, count=1)


def _answers(nb, rng: random.Random, starter: dict[str, str]) -> nbformat.NotebookNode:
    mine = copy.deepcopy(nb)
    for cell in mine.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        meta = _meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            cell.source = (starter.get(meta["grade_id"], STUB) if rng.random() < 0.05
                           else _edit(_solution(cell.source), rng))
        elif meta.get("grade") and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
    return mine


def _renamed(nb) -> nbformat.NotebookNode:
    """A copy with other variable names: what a student who copies does first."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if _meta(cell).get("solution"):
            cell.source = re.sub(r"\b(tmp|val|scale|step|acc|out)(\d+)\b", r"my_\1_\2", cell.source)
    return out


def build(root: Path, sources: dict[str, nbformat.NotebookNode], n_students: int, *, seed: int = 0,
          answers: bool = False, copies: int = 0, releases: dict[str, nbformat.NotebookNode] | None = None,
          tokenized: bool = False) -> Built:
    """A graded class of `n_students` for the assignments `sources` (assignment -> its one source notebook)."""
    from grading_support import course_config

    rng = random.Random(seed)
    config = course_config(root, "synthetic")
    students = [f"s{i:04d}" for i in range(n_students)]
    built = Built(config, students)
    codes = sorted(MISTAKES)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's add_submission trips it; harmless
    with gradebook.connect(root / "autograder" / "gradebook.db") as gb:
        gb.db.execute(text("PRAGMA synchronous = OFF"))  # a throwaway gradebook: no disk sync per commit
        for student in students:
            gb.update_or_create_student(student, first_name=f"First{student[1:]}", last_name=f"Last{student[1:]}",
                                        email=f"{student}@example.org")
        for index, (assignment, nb) in enumerate(sources.items()):
            name = "notebook"
            nbformat.write(nb, _mkdir(root / "solutions" / assignment / f"{name}.ipynb"))
            if releases and assignment in releases:
                nbformat.write(releases[assignment], _mkdir(root / "course" / assignment / f"{name}.ipynb"))
            starter = {_meta(c)["grade_id"]: c.source for c in (releases or {}).get(assignment, nb).cells
                       if _meta(c).get("solution")}
            gb.update_or_create_assignment(assignment)
            tests = _record(gb, assignment, name, nb)
            built.submitted[assignment] = set()
            for i, student in enumerate(students):
                if (i * 7 + index) % 50 == 0:
                    continue  # 2% do not submit
                built.submitted[assignment].add(student)
                result = _grade(gb, assignment, name, student, tests, rng, codes)
                findings.save(root / "autograder" / ".jobs" / "findings", result)
                if answers:
                    _write(_answers(nb, rng, starter),
                           _mkdir(root / "autograder" / "submitted" / student / assignment / f"{name}.ipynb"))
            for a, b in [(students[2 * k + 1], students[2 * k + 2]) for k in range(copies)] if answers else []:
                folder = root / "autograder" / "submitted"
                if a in built.submitted[assignment] and b in built.submitted[assignment]:
                    _write(_renamed(nbformat.read(folder / a / assignment / f"{name}.ipynb", as_version=4)),
                           folder / b / assignment / f"{name}.ipynb")
                    built.copies.append((assignment, a, b))
            for student in sorted(built.submitted[assignment]) if answers and tokenized else []:
                path = root / "autograder" / "submitted" / student / assignment / f"{name}.ipynb"
                answer_cells.save(root / "autograder" / ".jobs" / "answers", student, assignment,
                                  {path.name: path.read_bytes()})
    return built


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    """`nb` as nbformat writes it, without validating it again (thousands of notebooks)."""
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _mkdir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _grade(gb, assignment: str, notebook: str, student: str, tests: list[tuple[str, float]], rng: random.Random,
           codes: list[str]) -> JobResult:
    """Scores for one submission, written to `gb`, and the job result grading would have given."""
    submission = gb.add_submission(assignment, student)
    result = JobResult(student, assignment, GRADED, 0.0, sum(p for _, p in tests), seconds=rng.uniform(5, 30))
    unreadable = rng.random() < 0.01
    passed = {gid: not unreadable and rng.random() < 0.9 - 0.1 * k for k, (gid, _) in enumerate(tests)}
    for grade in submission.notebooks[0].grades:
        points = dict(tests)[grade.cell.name]
        grade.auto_score = points if passed[grade.cell.name] else 0.0
        grade.needs_manual_grade = False
        message = "" if passed[grade.cell.name] else (
            f"Hint: [{rng.choice(codes)}] what the hint says" if rng.random() < 0.5 else "AssertionError: wrong")
        result.cells.append(CellScore(notebook, grade.cell.name, grade.auto_score, points, message))
    gb.db.commit()
    if unreadable:
        result.status, result.cells = NOT_GRADABLE, []
        result.messages.append(f"{notebook}.ipynb is not valid JSON")
    elif rng.random() < 0.02:
        result.stops.append(dataclasses.replace(cpu_stop(tests[-1][0], 60.0, 60.0), notebook=notebook))
    return result


def toy_result(student: str, square: float, draw: float, *, messages: dict[str, str] | None = None,
               stops: list | None = None, seconds: float = 10.0) -> JobResult:
    """The job result grading the toy assignment (tests/grading_support.py) gives when `square` and `draw`
    points are earned; `messages`: grade_id -> the error of a failed test."""
    from grading_support import NOTEBOOK, source_notebook

    nb = source_notebook()
    name = NOTEBOOK.removesuffix(".ipynb")
    points = {"test_square": square, "test_draw": draw}
    record = {"name": name, "submitted": True, "stops": [],
              "grade_cells": [{"name": _meta(c)["grade_id"], "max_score": float(_meta(c)["points"]),
                               "cell_type": "code"} for c in nb.cells if _meta(c).get("grade")],
              "task_cells": [], "solution_cells": [{"name": _meta(c)["grade_id"]} for c in nb.cells
                                                   if _meta(c).get("solution")],
              "source_cells": [{"name": _meta(c)["grade_id"], "cell_type": c.cell_type,
                                "locked": bool(_meta(c)["locked"]), "source": c.source, "checksum": ""}
                               for c in nb.cells if _meta(c).get("grade_id")],
              "grades": [{"name": gid, "auto_score": p, "needs_manual_grade": False, "error": ""}
                         for gid, p in points.items()],
              "comments": [{"name": "square", "auto_comment": None}, {"name": "draw", "auto_comment": None}]}
    result = JobResult(student, "toy", GRADED, square + draw, 3.0, records={"notebooks": [record]},
                       seconds=seconds, stops=list(stops or []))
    result.cells = [CellScore(name, gid, p, {"test_square": 2.0, "test_draw": 1.0}[gid], (messages or {}).get(gid, ""))
                    for gid, p in points.items()]
    return result
