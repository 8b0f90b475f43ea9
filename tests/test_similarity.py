"""Similar submissions: answer cells compared across students (copydetect), and their tokenized cache."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tapelab.grading import answer_cells, similarity
from tapelab.grading.similarity import Reference, Settings

STARTER = "def fit(xs, ys, steps=100):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
SOLUTION = '''def fit(xs, ys, steps=100):
    """Least squares w, b of ys ≈ w·xs + b by gradient descent."""
    w, b = 0.0, 0.0
    for _ in range(steps):
        grad_w = sum(2 * (w * x + b - y) * x for x, y in zip(xs, ys)) / len(xs)
        grad_b = sum(2 * (w * x + b - y) for x, y in zip(xs, ys)) / len(xs)
        w, b = w - 0.01 * grad_w, b - 0.01 * grad_b
    return w, b'''
#: code of the student's own, beyond the solution: a stopping rule and a learning-rate schedule.
OWN = '''def fit(xs, ys, steps=100):
    """Least squares w, b of ys ≈ w·xs + b by gradient descent."""
    w, b, rate, previous = 0.0, 0.0, 0.05, float("inf")
    for step in range(steps):
        residuals = [w * x + b - y for x, y in zip(xs, ys)]
        loss = sum(r * r for r in residuals) / len(xs)
        if abs(previous - loss) < 1e-9:
            break
        previous = loss
        w -= rate * sum(2 * r * x for r, x in zip(residuals, xs)) / len(xs)
        b -= rate * sum(2 * r for r in residuals) / len(xs)
        rate = rate * 0.99 if step % 10 == 9 else rate
    return w, b'''
#: another student's own code: a closed form instead of the loop.
OTHER = '''def fit(xs, ys, steps=100):
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = cov / var if var else 0.0
    return slope, mean_y - slope * mean_x'''
REFERENCES = {"fit.ipynb": {"fit": Reference(STARTER, SOLUTION)}}


def notebook(code: str, *, outputs: str = "") -> bytes:
    """A submitted notebook whose one answer cell `fit` holds `code`."""
    cell = new_code_cell(code, metadata={"nbgrader": {"solution": True, "grade_id": "fit", "grade": False,
                                                       "locked": False, "schema_version": 3}})
    nb = new_notebook(cells=[new_code_cell("import math" + outputs), cell])
    return nbformat.writes(nb).encode()


def pairs(codes: dict[str, str | bytes], settings: Settings = Settings()) -> set[tuple[str, str, bool]]:
    found = {s: answer_cells.of_files({"fit.ipynb": c if isinstance(c, bytes) else notebook(c)})
             for s, c in codes.items()}
    return {(p.a, p.b, p.identical) for p in similarity.find_pairs("a1", found, REFERENCES, settings)}


def test_the_sample_class_lists_only_the_twins(repo):
    """In the sample class, are ada and zed (one notebook, submitted twice) the only pair listed?"""
    listed = set()
    submissions = repo / "autograder" / "samples" / "submissions"
    for assignment in sorted({p.name for p in submissions.glob("*/*")}):
        references = {p.name: similarity.references(p, repo / "course" / assignment / p.name)
                      for p in (repo / "solutions" / assignment).glob("*.ipynb")}
        found = {d.parent.name: answer_cells.of_files({p.name: p.read_bytes() for p in d.glob("*.ipynb")})
                 for d in submissions.glob(f"*/{assignment}")}
        listed |= {(p.assignment, p.a, p.b, p.identical)
                   for p in similarity.find_pairs(assignment, found, references)}
    assert listed == {("04_qlearner", "ada_all_correct", "zed_same_as_ada", True)}


def test_own_code_copied_with_other_names_is_listed():
    """Is a copy of a student's own code listed although every name was changed, and an honest pair not?"""
    renamed = OWN.replace("residuals", "errs").replace("previous", "last").replace("rate", "lr")
    assert pairs({"ann": OWN, "bob": renamed, "cyd": OTHER}) == {("ann", "bob", False)}


def test_the_solution_and_a_common_slip_are_not_evidence():
    """Are students who write the solution, or the same one-line slip in it, left alone?"""
    slip = SOLUTION.replace("0.01 * grad_w", "0.1 * grad_w")
    assert pairs({"ann": SOLUTION, "bob": SOLUTION, "cyd": slip, "dee": slip}) == set()


def test_identical_notebooks_are_listed_unless_untouched():
    """Are byte-identical notebooks listed when they hold an answer, and not when both are the starter code?"""
    same = notebook(SOLUTION, outputs="  # run once")
    assert pairs({"ann": same, "bob": same, "cyd": SOLUTION}) == {("ann", "bob", True)}
    untouched = notebook(STARTER)
    assert pairs({"ann": untouched, "bob": untouched}) == set()


def test_code_many_students_share_is_an_idiom():
    """Is own code shared by more than `common` students left out, as MOSS's -m does?"""
    codes = {f"s{i}": OWN for i in range(4)}
    assert len(pairs(codes, Settings(common=10))) == 6
    assert pairs(codes, Settings(common=3)) == set()


def test_the_matching_spans_are_the_students_code():
    """Do the spans of a listed pair mark, in each student's code, the code they share?"""
    renamed = OWN.replace("residuals", "errs")
    found = {s: answer_cells.of_files({"fit.ipynb": notebook(c)}) for s, c in {"ann": OWN, "bob": renamed}.items()}
    (pair,) = similarity.find_pairs("a1", found, REFERENCES)
    (cell,) = pair.cells
    assert (cell.left, cell.right) == (OWN, renamed)
    marked = "".join(cell.left[s:e] for s, e in cell.left_spans)
    assert "abs(previous - loss) < 1e-9" in marked and "rate * 0.99 if step % 10 == 9" in marked


def test_kept_answers_are_reused(tmp_path):
    """Are the tokenized answers kept once per submission, read back equal, and made again when it changes?"""
    files = {"fit.ipynb": notebook(OWN)}
    assert answer_cells.save(tmp_path, "ann", "a1", files)
    assert not answer_cells.save(tmp_path, "ann", "a1", files)
    assert answer_cells.load(tmp_path, "ann", "a1") == answer_cells.of_files(files)
    assert answer_cells.save(tmp_path, "ann", "a1", {"fit.ipynb": notebook(OTHER)})
    assert answer_cells.load(tmp_path, "ann", "a2") is None


@pytest.mark.parametrize("text", [b"{not json", b"[]", b'{"cells": 3}'])
def test_unreadable_notebooks_have_no_answers(text):
    """Does a notebook that is not valid JSON (or not a notebook) give no answer cells instead of an error?"""
    assert answer_cells.of_files({"fit.ipynb": text}).cells == {}
