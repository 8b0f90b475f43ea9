"""The class report at scale: similar submissions of 200 students, the whole report of 1,400.

Both classes are synthetic (``tests/synthetic_class.py``), built with nbgrader's API in a
temporary course before anything is timed: the five notebooks are the course's four
solution notebooks and the first one again, and every student's answer cells are the
solution with edits of their own (statements added, a line dropped, a constant changed);
three pairs per assignment copied from one another, names changed.

- ``similarity_seconds_per_200``: comparing the answer cells of 200 students × 5 notebooks
  (:func:`tapelab.grading.report.similar` for each assignment), from the submitted
  notebooks: reading, tokenizing, fingerprinting, comparing. ``similarity_copies_found``
  counts the planted pairs found, ``similarity_other_pairs`` the pairs listed beyond them.
- ``report_seconds_1400``: ``tapelab.grading.report.write`` for 1,400 students × 5
  notebooks: the gradebook through nbgrader's API, the grading findings, similarity and
  the HTML page. Its answers are tokenized as the driver does while it grades, so this is
  the report ``make grade`` writes at its end.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import synthetic_class  # noqa: E402

NOTEBOOKS = ["01_gradient_tape", "02_chain_rule", "03_jacobians", "04_qlearner", "01_gradient_tape"]


def _notebooks(folder: str) -> dict:
    import nbformat

    out = {}
    for assignment in NOTEBOOKS:
        name = assignment if assignment not in out else f"05_{assignment[3:]}_again"
        out[name] = nbformat.read(next((REPO / folder / assignment).glob("*.ipynb")), as_version=4)
    return out


def _class(root: Path, n: int, *, tokenized: bool) -> synthetic_class.Built:
    return synthetic_class.build(root, _notebooks("solutions"), n, answers=True, copies=3,
                                 releases=_notebooks("course"), tokenized=tokenized)


def similarity_200() -> dict:
    from tapelab.grading import report
    from tapelab.grading.driver import Course

    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        built = _class(Path(tmp), 200, tokenized=False)
        course = Course.from_config(built.config)
        started = time.perf_counter()
        pairs = [p for a, students in built.submitted.items()
                 for p in report.similar(course, a, sorted(students), ["notebook"])]
        seconds = time.perf_counter() - started
    found = {(p.assignment, p.a, p.b) for p in pairs}
    return {"similarity_seconds_per_200": seconds,
            "similarity_copies_found": f"{len(found & set(built.copies))}/{len(built.copies)}",
            "similarity_other_pairs": len(found - set(built.copies))}


def report_1400() -> dict:
    from tapelab.grading import report
    from tapelab.grading.driver import Course

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        started = time.perf_counter()
        built = _class(Path(tmp), 1400, tokenized=True)
        build = time.perf_counter() - started
        course = Course.from_config(built.config)
        started = time.perf_counter()
        page = report.write(course)
        seconds = time.perf_counter() - started
        size = page.stat().st_size
    return {"report_seconds_1400": seconds, "report_build_seconds_1400": build, "report_html_mb_1400": size / 2**20}


def run() -> dict:
    return {**similarity_200(), **report_1400()}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<34} {value}")
