"""Patching attacks on the real course notebooks score nothing.

For each course notebook with answer fixtures, hostile students (see
``tests/redteam/course_attacks.py``) replace NumPy's, math's, SymPy's and
TensorFlow's comparisons, the kit's checkers and the notebook's trusted names,
then hand in wrong answers or objects that agree with everything. Graded by the
kit's grading job, every cell an attack aims at must score 0: the course's tests
compare through :mod:`tapelab.grading.trusted`, which keeps its own references.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "redteam"))

import course_attacks  # noqa: E402  (puts the answers and mistakes fixtures on the path)
import answers  # noqa: E402
import mistake_grade  # noqa: E402

pytestmark = pytest.mark.slow


def test_every_attack_scores_zero(repo):
    """Does every cell an attack aims at score 0, with the submission graded (not refused)?"""
    hostile = [attack for path in answers.files() for attack in course_attacks.attacks(path, repo)]
    specs = [mistake_grade.job_spec(a.student, a.notebook, a.submission, repo) for a in hostile]
    results = mistake_grade.grade_specs(specs)
    assert all(r.status == "graded" and r.cells for r in results), [(r.student, r.status, r.messages) for r in results]
    scored = {a.student: {c.grade_id: c.score for c in r.cells if c.score and c.grade_id in a.must_lose}
              for a, r in zip(hostile, results)}
    assert not any(scored.values()), {name: cells for name, cells in scored.items() if cells}
