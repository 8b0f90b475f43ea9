"""Is a correct answer graded full marks however it is written, and a wrong one exactly its test's points?

``tests/fixtures/answers/<assignment>.toml`` holds answers written the way other
students write them (NumPy instead of TensorFlow, a loop instead of vectorised
code, another API route the prompt allows, NumPy scalars and bools) and wrong
ones, each with the graded cells it must lose. The fast tests check that the
fixtures cover every answer cell twice and every test once. The slow ones grade
every student in this process (tests/notebook_runs.py: the solution notebook with
the student's cells, run from the first of them down, hidden tests included), and
the first correct student of each notebook through the kit's grading job, as
``make grade`` does (a fresh sandboxed kernel, nbgrader's scores).
Wrong answers meet the grading job in the sample class (exact scores) and the
course red team (behind patched comparisons).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "fixtures" / "answers"
sys.path.insert(0, str(HERE))

import answers  # noqa: E402
import mistake_build  # noqa: E402

FILES = answers.files()
STUDENTS = answers.all_students()


def _solution_cells(notebook: str, repo: Path) -> set[str]:
    return set(mistake_build.solution_regions(notebook, repo)) | {
        mistake_build._grade_id(c) for c in mistake_build.read(notebook, "solutions", repo).cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_two_correct_answers_for_every_answer_cell(path, repo):
    """Does every solution cell have at least two correct answers written differently from the solution?"""
    group = answers.students(answers.load(path))
    notebook = group[0].notebook
    correct: dict[str, list[str]] = {}
    for student in (s for s in group if s.correct):
        for answer in student.answers:
            correct.setdefault(answer.cell, []).append(answer.code)
    solutions = mistake_build.solution_regions(notebook, repo)
    for cell in _solution_cells(notebook, repo):
        codes = set(correct.get(cell, []))
        assert len(codes) >= 2, f"{path.name}: solution cell {cell!r} has {len(codes)} distinct correct answers, need 2"
        assert not any(solutions.get(cell, "\0").strip() in code for code in codes), \
            f"{path.name}: a correct answer of {cell!r} contains the instructor's solution unchanged"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_wrong_answer_for_every_test(path, repo):
    """Does every graded test cell lose its points to at least one wrong answer?"""
    group = answers.students(answers.load(path))
    tests = set(mistake_build.points(group[0].notebook, repo))
    lost = {cell for s in group for cell in s.loses}
    assert tests <= lost, f"{path.name}: no wrong answer fails {sorted(tests - lost)}"


@pytest.mark.parametrize("student", STUDENTS, ids=lambda s: s.name)
def test_submission_changes_only_the_answered_cells(student, repo):
    """Does each submission differ from the correct one only in the cells its answers name?"""
    correct = mistake_build.student_notebook(student.notebook, repo)
    theirs = answers.submission(student, repo)
    changed = {mistake_build._grade_id(a) for a, b in zip(correct.cells, theirs.cells) if a.source != b.source}
    assert changed == {a.cell for a in student.answers}
    assert [c.metadata for c in correct.cells] == [c.metadata for c in theirs.cells]


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS, ids=lambda s: s.name)
def test_student_fails_exactly_the_cells_it_loses(student, notebook_runs):
    """Run in this process from the first answered cell down, do exactly the test cells the student loses fail?"""
    failed = notebook_runs(student.notebook).failing({a.cell: a.code for a in student.answers})
    assert set(failed) == set(student.loses), (
        f"{student.name}: expected to fail {sorted(student.loses) or 'nothing'}, failed {failed or 'nothing'}")


def _first_correct() -> list:
    """The first correct student of each answers file."""
    return [next(s for s in answers.students(answers.load(path)) if s.correct) for path in FILES]


@pytest.mark.slow
def test_correct_students_get_full_marks_from_the_grading_job(repo):
    """Graded by the kit's grading job, does the first correct student of each notebook get every point?"""
    chosen = _first_correct()
    results = answers.grade(chosen, repo=repo)
    wrong = {s.name: answers.disagreements(s, r, repo) for s, r in zip(chosen, results)}
    wrong = {name: off for name, off in wrong.items() if off}
    assert not wrong, "graded otherwise than expected (expected, got, message): " + "; ".join(
        f"{name}: {off}" for name, off in wrong.items())
