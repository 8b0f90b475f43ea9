"""One grading job inside its own process: ``python -m tapelab.grading.runner JOB_DIR``.

``JOB_DIR/job.json`` names the student, the assignment, the nbgrader config
sections (the limits among them) and the steps; ``JOB_DIR/course`` is a private
nbgrader course directory (``source/``, ``submitted/``, its own ``gradebook.db``).
The runner records the assignment (``generate_assignment``, skipped when the job
brings a gradebook that already has it), grades it (``autograde``, with
:class:`~tapelab.grading.budget.BudgetedExecute`), writes the feedback
(``generate_feedback``) and leaves what it found in ``JOB_DIR/result.json``: the
scores, and the cells the grader stopped (each a
:class:`~tapelab.grading.limits.CellStop`, as the executor recorded it). It never
touches anything outside ``JOB_DIR``, and when the process that started it goes
away it stops and deletes ``JOB_DIR``.

A graded kernel runs in its scratch folder, not in the notebook's autograded folder
as under plain ``nbgrader autograde``; :class:`AssignmentExecute` copies into it the
files nbgrader puts next to the notebook (the student's and, over them, the source's
data files and modules), so a notebook that opens ``data/words.txt`` finds it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from nbgrader.preprocessors import Execute

from tapelab.grading import processes, sandbox
from tapelab.grading.budget import BudgetedExecute
from tapelab.grading.templates import FeedbackExporter


def _watch_parent(job_dir: Path) -> None:
    """End this job (and its kernel) when the worker that started it is gone.

    Nobody is left to read the job's folder, or to delete it (it holds a student's
    submission): the runner deletes it before it exits.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        processes.kill_tree(os.getpid(), itself=False)
        shutil.rmtree(job_dir, ignore_errors=True)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def copy_assignment_files(folder: Path, scratch: Path) -> list[str]:
    """Copy the files of the notebook's `folder` into the kernel's `scratch` folder; the paths copied.

    They are the files ``nbgrader autograde`` has put in the autograded folder, where plain
    nbgrader runs the kernel: the student's other files and, over them, the assignment's
    source files (its data, its modules), without notebooks (nbgrader copies none; the graded
    copies of the assignment's notebooks hold hidden tests). A top-level name that marks a
    course folder (:data:`~tapelab.grading.sandbox.COURSE_NAMES`) is left out: the sandbox
    refuses a scratch folder holding one.
    """
    copied = []
    if not folder.is_dir():
        return copied
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb" or \
                rel.parts[0] in sandbox.COURSE_NAMES:
            continue
        target = scratch / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copyfile(path, target)
        copied.append(rel.as_posix())
    return copied


class AssignmentExecute(BudgetedExecute):
    """BudgetedExecute whose kernel finds, in its scratch folder, the files nbgrader puts next to the notebook.

    nbclient would start the kernel in the notebook's folder (``resources["metadata"]["path"]``);
    the kit's kernels run in ``SandboxProvisioner.scratch``, their only writable folder and, sandboxed,
    the only one of the job they see. The files are copied there just before the kernel starts.
    """

    def preprocess(self, nb, resources=None, km=None):  # type: ignore[override]
        folder = ((resources or {}).get("metadata") or {}).get("path")
        scratch = self.config.get("SandboxProvisioner", {}).get("scratch")
        if folder and scratch:
            Path(scratch).mkdir(parents=True, exist_ok=True)
            copy_assignment_files(Path(folder), Path(scratch))
        return super().preprocess(nb, resources, km)


def _course_config(job: dict, course: Path):
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    config = Config(job.get("config") or {})
    config.CourseDirectory.root = str(course)
    for name in ("source", "release", "submitted", "autograded", "feedback"):
        setattr(config.CourseDirectory, f"{name}_directory", name)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [AssignmentExecute if p is Execute else p for p in default]
    # Budgets of heavy cells come from the source notebooks, never from the submission.
    config.BudgetedExecute.source_folder = str(course / "source" / job["assignment"])
    config.GenerateFeedback.exporter_class = FeedbackExporter  # the templates compiled once (in the zygote)
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
            stops: list[dict] = []  # tapelab.grading.limits.CellStop, as written by BudgetedExecute
            usage: dict = {}
            path = course / "autograded" / student / assignment / f"{nb.name}.ipynb"
            if path.exists():
                graded = nbformat.read(path, as_version=4)
                usage = dict(graded.metadata.get("tapelab", {}))
                for cell in graded.cells:
                    stop = cell.get("metadata", {}).get("tapelab", {}).get("stop")
                    if stop:
                        stops.append({**stop, "notebook": nb.name})
                    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    for out in cell.get("outputs", []):
                        if out.get("output_type") == "error" and grade_id:
                            errors[grade_id] = _error_summary(f"{out.get('ename')}: {out.get('evalue', '')}")
            notebooks.append({
                "name": nb.name,
                "submitted": path.exists(),
                "stops": stops,
                "usage": usage,
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

    schema.create_gradebook(course / "gradebook.db")  # stamped here, without nbgrader's `alembic heads` process
    config = _course_config(job, course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result: dict = {"steps": {}}
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
