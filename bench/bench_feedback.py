"""How many of the course's common mistakes does grading name? (goal: every one)

Each mistake of ``tapelab.feedback.MISTAKES`` has a submission described in
``autograder/mistakes.toml`` (one per code); every one is graded alone, as one
student, by the kit's grading job (nbgrader autograde + feedback, in the sandbox),
as many at a time as there are cores. A mistake counts as diagnosed when its test
cell loses its points and fails with the mistake's hint (code and text), and the
feedback HTML shows that hint. A mistake whose notebook is not in the course yet
counts as missed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "mistakes"))

import mistake_build  # noqa: E402
import mistake_grade  # noqa: E402


def run() -> dict:
    from tapelab.feedback import MISTAKES

    ready, _ = mistake_build.available(mistake_build.load(), REPO)
    started = time.perf_counter()
    graded = mistake_grade.grade([(m,) for m in ready], workers=os.cpu_count() or 1, repo=REPO)
    seconds = time.perf_counter() - started
    verdicts = {v.mistake.code: v for g in graded for v in g.verdicts}
    diagnosed = [code for code in MISTAKES if code in verdicts and verdicts[code].diagnosed]
    return {
        "mistakes_diagnosed": len(diagnosed),
        "mistakes_missed": [code for code in MISTAKES if code not in diagnosed],
        "mistakes_named_by_visible_tests": sum(verdicts[c].visible for c in diagnosed),
        "mistakes_grading_seconds": round(seconds, 1),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<34} {value}")
