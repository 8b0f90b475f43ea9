"""One grading job inside its own process: ``python -m tapelab.grading.runner JOB_DIR``.

``JOB_DIR/job.json`` names the student, the assignment, the nbgrader config
sections, the limits and the steps; ``JOB_DIR/course`` is a private nbgrader
course directory (``source/``, ``submitted/``, its own ``gradebook.db``). The
runner records the assignment (``generate_assignment``, skipped when the job
brings a gradebook that already has it), grades it (``autograde``), writes the
feedback (``generate_feedback``) and leaves what it found in
``JOB_DIR/result.json``. It never touches anything outside ``JOB_DIR``, and
when the process that started it goes away it stops and deletes ``JOB_DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

try:  # kernels in the sandbox, which also reports why a kernel died
    from tapelab.grading.sandbox import SandboxedExecute as _Execute
except ImportError:  # pragma: no cover - depends on the installation
    _Execute = Execute

#: first line of the error a cell gets when the grader stops it; summaries quote them.
KERNEL_DIED = "the kernel died while this cell ran (os._exit, a crash, or a memory or process limit)"
NOT_RUN_AFTER_DEATH = "not run: the kernel died in an earlier cell"
NOT_RUN_AFTER_BUDGET = "not run: the notebook used up its wall-clock limit of {limit} s"
STUCK = "this cell ran past its time limit and the kernel did not respond to the interrupt"
NOT_RUN_AFTER_STUCK = "not run: an earlier cell ran past its time limit and could not be interrupted"


class BudgetedExecute(_Execute):
    """nbgrader's Execute (sandboxed where the sandbox is installed) with a wall-clock budget per notebook.

    Each cell gets ``min(Execute.timeout, time left of notebook_timeout)``; once the
    budget is spent, or the kernel has died, the remaining code cells are not run and
    carry an error output saying why, so nbgrader scores the cells that finished and
    fails the rest.
    """

    notebook_timeout = Integer(300, help="wall-clock seconds for the whole notebook").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped: str | None = None
        return super().preprocess(nb, resources, km)

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        cell_timeout = super()._get_timeout(cell)
        left = max(1, int(self._deadline - time.monotonic() + 0.999))
        return left if cell_timeout is None else min(cell_timeout, left)

    def _stop_cell(self, cell: NotebookNode, ename: str, evalue: str) -> None:
        cell.outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                         traceback=[f"{ename}: {evalue}"]))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if getattr(self, "stop_reason", None) is not None:  # the sandbox saw the kernel stop
            return super().preprocess_cell(cell, resources, index)
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stopped = NOT_RUN_AFTER_BUDGET.format(limit=self.notebook_timeout)
            STOPS.append(self._stopped)
        if self._stopped is not None:
            cell.outputs = []
            self._stop_cell(cell, "NotRun", self._stopped)
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = NOT_RUN_AFTER_DEATH
            self._stop_cell(cell, "KernelStopped", KERNEL_DIED)
            return cell, self.resources
        except CellTimeoutError:
            self._stopped = NOT_RUN_AFTER_STUCK
            self._stop_cell(cell, "KernelStopped", STUCK)
            return cell, self.resources


#: why the grader stopped running cells, in order (read back by :func:`main`).
STOPS: list[str] = []


def _watch_parent(job_dir: Path) -> None:
    """End this job (and its kernel) when the worker that started it is gone.

    Nobody is left to read the job's folder, or to delete it (it holds a student's
    submission): the runner deletes it before it exits.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _kill_children()
        shutil.rmtree(job_dir, ignore_errors=True)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _kill_children() -> None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass


def _course_config(job: dict, course: Path):
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    config = Config(job.get("config") or {})
    config.CourseDirectory.root = str(course)
    for name in ("source", "release", "submitted", "autograded", "feedback"):
        setattr(config.CourseDirectory, f"{name}_directory", name)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.Execute.timeout = int(job["cell_timeout_s"])
    config.BudgetedExecute.notebook_timeout = int(job["notebook_timeout_s"])
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [BudgetedExecute if p is Execute else p for p in default]
    config.BudgetedExecute.timeout = int(job["cell_timeout_s"])
    return config


def _error_summary(text: str, lines: int = 4, width: int = 400) -> str:
    """The first `lines` non-empty lines of an error message, joined, at most `width` characters."""
    kept = " ".join([line.strip() for line in text.strip().splitlines() if line.strip()][:lines])
    return kept if len(kept) <= width else kept[: width - 1] + "…"


def _read_gradebook(db_url: str, assignment: str, student: str, course: Path) -> dict:
    """The assignment's cells and this student's grades, as plain data."""
    import nbformat
    from nbgrader.api import Gradebook

    notebooks = []
    with Gradebook(db_url) as gb:
        record = gb.find_assignment(assignment)
        submission = gb.find_submission(assignment, student)
        for nb in record.notebooks:
            sub = submission.notebooks[[n.name for n in submission.notebooks].index(nb.name)]
            grades = {g.name: g for g in sub.grades}
            comments = {c.name: c for c in sub.comments}
            errors: dict[str, str] = {}
            timeouts: list[str] = []
            path = course / "autograded" / student / assignment / f"{nb.name}.ipynb"
            if path.exists():
                for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
                    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    for out in cell.get("outputs", []):
                        if out.get("output_type") != "error":
                            continue
                        if out.get("ename") == "CellTimeoutError":
                            timeouts.append(grade_id or f"cell {index + 1}")
                        elif out.get("ename") in ("KernelStopped", "DeadKernelError") and out.get("evalue"):
                            STOPS.append(f"{grade_id or f'cell {index + 1}'}: {out['evalue']}")
                        if grade_id:
                            errors[grade_id] = _error_summary(f"{out.get('ename')}: {out.get('evalue', '')}")
            notebooks.append({
                "name": nb.name,
                "submitted": path.exists(),
                "timeouts": timeouts,
                "grade_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                                for c in nb.grade_cells],
                "task_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                               for c in nb.task_cells],
                "solution_cells": [{"name": c.name} for c in nb.solution_cells],
                "source_cells": [{"name": c.name, "cell_type": c.cell_type, "locked": c.locked,
                                  "source": c.source, "checksum": c.checksum} for c in nb.source_cells],
                "grades": [{"name": name, "auto_score": g.auto_score, "needs_manual_grade": g.needs_manual_grade,
                            "error": errors.get(name, "")} for name, g in sorted(grades.items())],
                "comments": [{"name": name, "auto_comment": c.auto_comment} for name, c in sorted(comments.items())],
            })
    return {"notebooks": notebooks}


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0]).resolve()
    _watch_parent(job_dir)
    job = json.loads((job_dir / "job.json").read_text())
    course = job_dir / "course"
    assignment, student = job["assignment"], job["student"]

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from tapelab.grading import schema

    schema.install()  # a new gradebook is stamped without nbgrader's `alembic heads` child process
    config = _course_config(job, course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result: dict = {"steps": {}, "stops": STOPS}
    calls = {
        "generate_assignment": lambda: api.generate_assignment(assignment, force=True, create=True),
        "autograde": lambda: api.autograde(assignment, student, force=True, create=True),
        "generate_feedback": lambda: api.generate_feedback(assignment, student, force=True),
    }
    for step in job["steps"]:
        started = time.monotonic()
        outcome = calls[step]()
        result["steps"][step] = {"success": bool(outcome["success"]), "seconds": time.monotonic() - started,
                                 "error": outcome.get("error", ""), "log": outcome.get("log", "")[-4000:]}
        if not outcome["success"]:
            break
    if result["steps"].get("autograde", {}).get("success"):
        result.update(_read_gradebook(config.CourseDirectory.db_url, assignment, student, course))
    (job_dir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
