"""An assignment whose source changed after students were graded on it.

nbgrader records each assignment's cells in the gradebook (``generate_assignment``), and the
grades of a submission are rows for exactly those cells. An instructor who then adds or
removes a test, an answer or a read-only cell cannot merge new grades into the old record:
``nbgrader generate_assignment`` refuses ("Cannot add or remove cells ... because there are
submissions associated with it"), and a merge would meet grade rows that do not exist.

:func:`changed_assignments` finds such assignments before anything is graded, so the driver
stops with a message that names the cells and the fix, instead of failing half-way through a
class. :func:`replace_assignments` is that fix (``--replace-changed``): it removes the
assignments, with every submission's grades and comments of them, manual ones included,
through nbgrader's API, and the run records them anew from the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry


@dataclass(frozen=True)
class ChangedAssignment:
    """An assignment whose cells in `source` differ from those the gradebook records with submissions."""

    assignment: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    submissions: int

    def __str__(self) -> str:
        parts = [f"added {', '.join(self.added)}" if self.added else "",
                 f"removed {', '.join(self.removed)}" if self.removed else ""]
        return (f"{self.assignment} changed since {self.submissions} submission(s) were graded "
                f"({'; '.join(p for p in parts if p)})")


def source_cells(source: dict[str, bytes]) -> dict[str, set[str]]:
    """notebook name -> the names nbgrader records for it: its grade, solution, task and read-only cells."""
    out: dict[str, set[str]] = {}
    for name, data in source.items():
        if "/" in name or not name.endswith(".ipynb"):
            continue
        cells = nbformat.from_dict(json.loads(data)).get("cells", [])
        out[name[: -len(".ipynb")]] = {
            cell["metadata"]["nbgrader"]["grade_id"] for cell in cells
            if utils.is_grade(cell) or utils.is_solution(cell) or utils.is_task(cell) or utils.is_locked(cell)}
    return out


def _recorded(notebook) -> set[str]:
    return {c.name for cells in (notebook.grade_cells, notebook.solution_cells, notebook.task_cells,
                                 notebook.source_cells) for c in cells}


def changed_assignments(gradebook: Path, sources: dict[str, dict[str, bytes]]) -> list[ChangedAssignment]:
    """The assignments of `sources` (assignment -> source files) that the gradebook records, with
    submissions, for other cells than the source has now."""
    if not Path(gradebook).is_file():
        return []
    found = []
    with Gradebook(f"sqlite:///{Path(gradebook).resolve()}") as gb:
        for assignment, files in sorted(sources.items()):
            try:
                record = gb.find_assignment(assignment)
            except MissingEntry:
                continue
            if not record.submissions:
                continue
            now = {f"{nb}/{c}" for nb, cells in source_cells(files).items() for c in cells}
            # A test cell counts as recorded only where every submission has a grade for it (a record
            # updated by an earlier run, say, has cells its old submissions were never graded on).
            graded = [{f"{snb.notebook.name}/{g.name}" for snb in sub.notebooks for g in snb.grades}
                      for sub in record.submissions]
            tests = {f"{nb.name}/{c.name}" for nb in record.notebooks for c in nb.grade_cells}
            before = {f"{nb.name}/{c}" for nb in record.notebooks for c in _recorded(nb)} - \
                (tests - set.intersection(*graded))
            if now != before:
                found.append(ChangedAssignment(assignment, tuple(sorted(now - before)), tuple(sorted(before - now)),
                                               len(record.submissions)))
    return found


def replace_assignments(gradebook: Path, assignments: list[str]) -> None:
    """Remove `assignments` from the gradebook, with every grade and comment of their submissions."""
    if not assignments:  # nothing to remove: a new gradebook stays unopened (nbgrader creates it on first merge)
        return
    with Gradebook(f"sqlite:///{Path(gradebook).resolve()}") as gb:
        for assignment in assignments:
            gb.remove_assignment(assignment)


def refusal(changed: list[ChangedAssignment]) -> str:
    """What the driver says when it will not merge into the changed assignments."""
    names = " ".join(c.assignment for c in changed)
    return ("the gradebook's record of an assignment no longer matches its source: "
            + "; ".join(map(str, changed))
            + ". nbgrader cannot add grades for the new cells to those submissions. Grade again with "
            "--replace-changed (make grade REPLACE_CHANGED=1) to remove the old grades of "
            f"{names}, manual grades, comments and due dates included, and record the assignment anew; or "
            "grade into a new gradebook (CourseDirectory.db_url)")
