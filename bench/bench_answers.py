"""Are grades right however an answer is written? (issue goal: grading_agreement 1.0)

Every student of ``tests/fixtures/answers/*.toml`` (correct answers written
differently from the solution, and wrong answers that must lose exactly their
tests' points) is graded by the kit's grading job, as many at a time as there
are cores. ``grading_agreement`` is the share of students whose every graded
cell got exactly the expected points.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "answers"))

import answers  # noqa: E402


def run() -> dict:
    students = answers.all_students()
    started = time.perf_counter()
    results = answers.grade(students, workers=os.cpu_count() or 1, repo=REPO)
    seconds = time.perf_counter() - started
    off = [s.name for s, r in zip(students, results) if answers.disagreements(s, r, REPO)]
    return {
        "grading_agreement": round(1 - len(off) / max(1, len(students)), 3),
        "grading_disagreements": off,
        "answers_students": len(students),
        "answers_grading_seconds": round(seconds, 1),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<34} {value}")
