"""Grade red-team cases in one nbgrader course: ``python grade_batch.py COURSE ORIGINALS OUT CASE...``.

For each case in order: intake on the original files, a working copy into
``COURSE/submitted``, the tamper checks (which repair the copy), then ``nbgrader
autograde`` with the sandbox's config. Writes ``OUT`` (JSON): per case the score
and messages, and the gradebook rows of the student right after their grading.
The red-team suite runs two of these side by side, each on its own course.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402

from tapelab.grading import integrity, intake, sandbox  # noqa: E402

LIMITS = sandbox.Limits(cell_timeout_s=5, notebook_timeout_s=60, memory_mb=1024, cpu_s=8, nproc=64, fsize_mb=16)


def config(course: Path, scratch: Path | None = None):
    from traitlets.config import Config

    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    if scratch is not None:
        cfg.merge(Config(sandbox.nbgrader_config(scratch, LIMITS)))
    return cfg


def api(cfg):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def rows(course: Path, student: str) -> list[list]:
    """The gradebook's grade rows of one student: [cell, auto score, manual score]."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            sub = gb.find_submission(cases.ASSIGNMENT, student)
        except MissingEntry:
            return []
        return sorted([g.name, g.auto_score, g.manual_score] for nb in sub.notebooks for g in nb.grades)


def files(course: Path, student: str) -> dict[str, str]:
    """sha256 of the student's submitted and autograded files in the course."""
    return {f"{kind}/{rel}": digest for kind in ("submitted", "autograded")
            for rel, digest in intake.fingerprint(course / kind / student).items()}


def cell_messages(path: Path) -> list[str]:
    """'ename: evalue' of every error output of the autograded notebook, and output-truncation notes."""
    messages = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                messages.append(f"{out['ename']}: {out['evalue']}")
            elif out["output_type"] == "stream" and "output truncated" in out.get("text", ""):
                messages.append(out["text"].strip())
    return messages


def grade(course: Path, originals: Path, names: list[str]) -> dict:
    source = course / "source" / cases.ASSIGNMENT / cases.NOTEBOOK
    results: dict[str, dict] = {}
    for name in names:
        found = intake.inspect_submission(originals / name / cases.ASSIGNMENT, [cases.NOTEBOOK])
        messages = list(found.problems)
        if not found.gradable:
            results[name] = {"score": None, "messages": messages, "rows": []}
            continue
        submitted = course / "submitted" / name / cases.ASSIGNMENT
        submitted.mkdir(parents=True)
        shutil.copyfile(found.gradable[0], submitted / cases.NOTEBOOK)  # the grader's working copy
        messages += integrity.check_and_repair(submitted / cases.NOTEBOOK, source)
        outcome = api(config(course, course.parent / "scratch" / name)).autograde(
            cases.ASSIGNMENT, name, force=True, create=True)
        if not outcome["success"]:
            results[name] = {"score": None, "messages": messages + [outcome["error"] or outcome["log"][-2000:]],
                             "rows": []}
            continue
        messages += cell_messages(course / "autograded" / name / cases.ASSIGNMENT / cases.NOTEBOOK)
        got = rows(course, name)
        results[name] = {"score": sum(r[1] or 0 for r in got), "messages": messages, "rows": got,
                         "files": files(course, name)}
    return results


if __name__ == "__main__":
    course, originals, out = (Path(a) for a in sys.argv[1:4])
    assert api(config(course)).generate_assignment(cases.ASSIGNMENT, force=True, create=True)["success"]
    Path(out).write_text(json.dumps(grade(course, originals, sys.argv[4:])))
