"""The sample class (autograder/samples) graded by the kit's pipeline, as `make demo` does.

The class is graded once per session by the `graded` fixture of conftest.py, which the
class report's tests (test_report.py, test_lms.py) share.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tapelab.grading import gradebook


@pytest.fixture(scope="module")
def expected(repo):
    return json.loads((repo / "autograder" / "samples" / "expected.json").read_text())


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def _cases(expected):
    """(student, assignment, expectation) for the assignments released in course/."""
    return [(s, a, want) for s, work in expected["students"].items() for a, want in work.items()
            if (REPO / "course" / a).is_dir()]


def test_samples_are_up_to_date(repo):
    """Do the sample submissions equal a fresh generation from course/ and solutions/?"""
    done = subprocess.run([sys.executable, str(repo / "autograder" / "samples" / "make_samples.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_sample_is_listed(repo, expected):
    """Does expected.json give a grade for every sample submission, and only for those?"""
    on_disk = {(p.parts[-3], p.parts[-2]) for p in (repo / "autograder" / "samples" / "submissions").glob("*/*/*")}
    assert on_disk == {(s, a) for s, a, _ in _cases(expected)}


@pytest.mark.slow
def test_every_expected_score(graded, expected):
    """Does every sample get its expected points, maximum and status?"""
    _, report = graded
    got = {k: (r.score, r.max_score, r.status) for k, r in report.results.items()}
    assert got == {(s, a): (w["score"], w["max_score"], w["status"]) for s, a, w in _cases(expected)}


@pytest.mark.slow
def test_every_expected_message(graded, expected):
    """Does each failed test carry the hint or error the student must read, and each reason its text?"""
    _, report = graded
    for student, assignment, want in _cases(expected):
        result = report.results[(student, assignment)]
        cells = {c.grade_id: c for c in result.cells}
        for grade_id, text in want.get("cells", {}).items():
            assert cells[grade_id].score == 0 and text in cells[grade_id].message, (student, grade_id,
                                                                                   cells[grade_id].message)
        failed = {c.grade_id for c in result.cells if c.score < c.max_score}  # "" in cells: any message
        assert failed == set(want.get("cells", {})), (student, assignment, failed)
        if "reason" in want:
            assert want["reason"] in result.reason, (student, result.reason)


@pytest.mark.slow
def test_gradebook_and_csv(graded, expected):
    """Do the course gradebook and grades.csv hold the expected scores?"""
    root, _ = graded
    want = {(s, a): (float(w["score"]), float(w["max_score"])) for s, a, w in _cases(expected)}
    assert gradebook.scores(root / "autograder" / "gradebook.db") == want
    rows = csv.DictReader((root / "autograder" / "grades.csv").open())
    assert {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows if (r["student_id"], r["assignment"])
            in want} == {k: v[0] for k, v in want.items()}


@pytest.mark.slow
def test_feedback_html_for_every_graded_sample(graded, expected):
    """Is there a feedback page for every graded sample, showing the hint of a typical mistake?"""
    root, _ = graded
    for student, assignment, want in _cases(expected):
        if want["status"] != "graded":
            continue
        pages = list((root / "autograder" / "feedback" / student / assignment).glob("*.html"))
        assert len(pages) == 1, (student, assignment)
    page = next((root / "autograder" / "feedback" / "cho_no_watch" / "01_gradient_tape").glob("*.html")).read_text()
    assert "no-watch" in page and "tape.watch" in page


def _text_outputs(data: bytes) -> list:
    """Each code cell's outputs as text; a stream printed in several chunks counts as one (chunking is timing)."""
    import nbformat

    nb = nbformat.reads(data.decode(), as_version=4)
    cells = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outputs: list = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and outputs and outputs[-1][0] == ("stream", o.get("name")):
                outputs[-1] = (outputs[-1][0], outputs[-1][1] + o.get("text", ""))
            elif o.get("output_type") == "stream":
                outputs.append((("stream", o.get("name")), o.get("text", "")))
            else:
                outputs.append(((o.get("output_type"), None), (o.get("data", {}).get("text/plain"), o.get("ename"),
                                                               o.get("evalue"))))
        cells.append(outputs)
    return cells


@pytest.mark.slow
def test_same_qlearner_submission_grades_identically(graded):
    """Graded twice in one run (two students, one notebook), does the stochastic QLearner exercise give identical
    scores, messages and printed outputs?"""
    _, report = graded
    if ("zed_same_as_ada", "04_qlearner") not in report.results:
        pytest.skip("course/04_qlearner is not released yet")
    ada, zed = report.results[("ada_all_correct", "04_qlearner")], report.results[("zed_same_as_ada", "04_qlearner")]
    assert ada.submission_hash == zed.submission_hash
    assert ada.cells == zed.cells and ada.messages == zed.messages
    assert _text_outputs(ada.autograded["qlearner.ipynb"]) == _text_outputs(zed.autograded["qlearner.ipynb"])


def _hidden_lines(repo, assignment: str) -> list[str]:
    """The lines of the hidden tests of `assignment`'s source notebook that the released notebook does not show."""
    import nbformat

    sys.path.insert(0, str(repo / "tests" / "fixtures" / "mistakes"))
    import mistake_build

    shown = "\n".join(c.source for p in (repo / "course" / assignment).glob("*.ipynb")
                      for c in nbformat.read(p, as_version=4).cells)
    hidden = [code for path in (repo / "solutions" / assignment).glob("*.ipynb")
              for code in mistake_build.hidden_tests(f"{assignment}/{path.name}", repo).values()]
    return [line.strip() for code in hidden for line in code.splitlines()
            if len(line.strip()) >= 25 and line.strip() not in shown]


@pytest.mark.slow
def test_feedback_hides_the_hidden_tests(graded, expected, repo):
    """Does no feedback page quote a hidden test, while the instructor's autograded notebook keeps them all?"""
    import html
    import re

    root, report = graded
    for student, assignment, want in _cases(expected):
        if want["status"] != "graded":
            continue
        hidden = _hidden_lines(repo, assignment)
        page = next((root / "autograder" / "feedback" / student / assignment).glob("*.html")).read_text()
        page = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)))
        assert not [line for line in hidden if line in page], (student, assignment)
        autograded = next((root / "autograder" / "autograded" / student / assignment).glob("*.ipynb")).read_text()
        assert hidden and all(json.dumps(line, ensure_ascii=False)[1:-1] in autograded for line in hidden[:3]), (student, assignment)
