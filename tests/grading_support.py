"""A tiny course for the grading tests: one assignment `toy` without TensorFlow, five students.

``toy.ipynb`` asks for ``square(x)`` (test cell ``test_square``, 2 points, with a
hidden test) and ``draw()``, a draw seeded by TAPELAB_SEED (``test_draw``, 1 point).
Each student's notebook is the release version with the solution regions filled in:

- ``ada``: both right                                   -> 3 / 3
- ``bob``: ``square`` returns ``x + x``                 -> 1 / 3, the assert's message
- ``cyd``: the untouched release notebook               -> 0 / 3, NotImplementedError
- ``dee``: ``draw``'s cell loops forever                -> 2 / 3, stopped by the cell's CPU budget
- ``eve``: invalid JSON                                  -> not gradable, 0 / 3

:func:`graded_class` grades it once per test session with the kit's pipeline
(a LocalCluster of two workers); the tests of several files share that run.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "toy"
NOTEBOOK = "toy.ipynb"

SQUARE = "def square(x):\n    return x * x"
DRAW = "def draw():\n    return round(random.Random(SEED).random(), 6)"

#: student -> (square region, draw region); None means the release stub.
STUDENTS: dict[str, tuple[str | None, str | None] | str] = {
    "ada": (SQUARE, DRAW),
    "bob": ("def square(x):\n    return x + x", DRAW),
    "cyd": (None, None),
    "dee": (SQUARE, "while True:\n    pass"),
    "eve": "invalid-json",
}

#: student -> (points, max, the grade_id whose error message the feedback must show, text in it)
EXPECTED = {
    "ada": (3.0, 3.0, None, None),
    "bob": (1.0, 3.0, "test_square", "square(3) must be 9"),
    "cyd": (0.0, 3.0, "test_square", "NameError: name 'square' is not defined"),
    "dee": (2.0, 3.0, "test_draw", ""),
    "eve": (0.0, 3.0, None, None),
}

STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def _meta(**nbgrader) -> dict:
    base = {"schema_version": 3, "solution": False, "grade": False, "locked": False, "task": False}
    base.update(nbgrader)
    return {"nbgrader": base}


def _solution(grade_id: str, body: str) -> nbformat.NotebookNode:
    return new_code_cell(f"### BEGIN SOLUTION\n{body}\n### END SOLUTION",
                         metadata=_meta(solution=True, grade_id=grade_id))


def source_notebook() -> nbformat.NotebookNode:
    """The instructor notebook of `toy`."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Toy assignment\nWrite `square` and `draw`."),
        new_code_cell("import os\nimport random\nSEED = int(os.environ.get('TAPELAB_SEED', '0'))",
                      metadata=_meta(locked=True, grade_id="setup")),
        _solution("square", SQUARE),
        new_code_cell('"""Does square(x) return x squared?"""\n'
                      "assert square(3) == 9, f'square(3) must be 9, got {square(3)}'\n"
                      "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
                      metadata=_meta(grade=True, locked=True, grade_id="test_square", points=2)),
        _solution("draw", DRAW),
        new_code_cell('"""Is draw() the seeded draw?"""\n'
                      "assert draw() == round(random.Random(SEED).random(), 6)",
                      metadata=_meta(grade=True, locked=True, grade_id="test_draw", points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    return nb


def student_notebook(square: str | None, draw: str | None) -> nbformat.NotebookNode:
    """The release notebook with the solution regions replaced by a student's code."""
    nb = source_notebook()
    bodies = {"square": square, "draw": draw}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = bodies[meta["grade_id"]] or STUB
        elif "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
    return nb


def course_config(root: Path, course_id: str, cpu_seconds_per_cell: int | None = None) -> Path:
    """The kit's autograder/nbgrader_config.py, copied under `root`/autograder for course `course_id`.

    The kit's config finds the course root from where it lies, so the copy configures `root`.
    `cpu_seconds_per_cell` replaces the course's budget; plain nbgrader, which counts wall-clock
    time only, then gets as many wall-clock seconds (the tests run it on an idle kernel).
    """
    path = root / "autograder" / "nbgrader_config.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = f"c.CourseDirectory.course_id = {course_id!r}\n"
    if cpu_seconds_per_cell is not None:
        extra += f"c.Limits.cpu_seconds_per_cell = {cpu_seconds_per_cell}\nc.Execute.timeout = {cpu_seconds_per_cell}\n"
    path.write_text((REPO / "autograder" / "nbgrader_config.py").read_text() + "\n# The test course.\n" + extra)
    return path


def make_course(root: Path) -> Path:
    """Write solutions/toy/toy.ipynb and autograder/nbgrader_config.py under `root`."""
    (root / "solutions" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), root / "solutions" / ASSIGNMENT / NOTEBOOK)
    course_config(root, "toy", cpu_seconds_per_cell=2)  # its cells take milliseconds; dee loops for 2 s
    return root


def make_submissions(folder: Path, students: dict | None = None) -> Path:
    """Write <student>/toy/toy.ipynb for each student of :data:`STUDENTS` under `folder`."""
    for student, work in (students or STUDENTS).items():
        path = folder / student / ASSIGNMENT / NOTEBOOK
        path.parent.mkdir(parents=True, exist_ok=True)
        if work == "invalid-json":
            path.write_text('{"cells": [ {"cell_type": "code", ')
        else:
            nbformat.write(student_notebook(*work), path)
    return folder


_RUNS: dict = {}


def graded_class():
    """(course root, ClassReport) of grading the toy class once per session on two local workers."""
    if "report" not in _RUNS:
        from tapelab.grading.driver import grade_class

        root = Path(tempfile.mkdtemp(prefix="tapelab-toy-class-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        make_course(root)
        make_submissions(root / "submissions")
        _RUNS["root"] = root
        _RUNS["report"] = grade_class(root / "submissions", config=root / "autograder" / "nbgrader_config.py",
                                      workers=2, allow_unsandboxed=True)
    return _RUNS["root"], _RUNS["report"]
