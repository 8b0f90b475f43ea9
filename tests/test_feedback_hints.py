"""Does grading name each common mistake, costing only the affected part?

One submission per mistake of ``tapelab.feedback.MISTAKES`` is described in the course's
catalogue, ``autograder/mistakes.toml`` (the entry named after the code), and built from the current notebooks
(``course/`` with the solution regions written, then the mistake made). The slow
tests grade them with the kit's grading job (``tapelab.grading.jobs.grade_job``:
nbgrader autograde + feedback in the sandbox), two compatible mistakes of a
notebook per submission so that each kernel grades two, two jobs at a time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent / "fixtures" / "mistakes"
sys.path.insert(0, str(HERE))

import mistake_build  # noqa: E402
import mistake_grade  # noqa: E402

from tapelab.feedback import MISTAKES  # noqa: E402

ALL = mistake_build.load()
CODES = [m.code for m in ALL]


#: (check, code) -> what the notebook's tests lack; such a check is expected to fail (strict xfail),
#: so that fixing the notebook turns it into a failure that asks to remove the entry here.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _known_gap(check: str, code: str, ok: bool) -> None:
    """xfail a check listed in KNOWN_GAPS that fails; fail one that passes (its entry is out of date)."""
    if (check, code) in KNOWN_GAPS:
        if ok:
            pytest.fail(f"the {check} check of {code!r} passes now: remove it from KNOWN_GAPS")
        pytest.xfail(KNOWN_GAPS[(check, code)])


def _mistake(code: str) -> mistake_build.Mistake:
    return next(m for m in ALL if m.code == code)


def _ready_or_skip(code: str, repo: Path) -> mistake_build.Mistake:
    mistake = _mistake(code)
    if not mistake_build.available([mistake], repo)[0]:
        pytest.skip(f"{mistake.notebook} is not in solutions/ and course/ yet")
    return mistake


# ------------------------------------------------------------------ the fixtures themselves (fast)


def test_every_mistake_has_one_fixture():
    """Does the catalogue name one graded entry after each mistake code of tapelab.feedback.MISTAKES, and give
    every other entry a known code?"""
    assert {m.code for m in mistake_build.mistakes.load()} <= set(MISTAKES)
    assert sorted(CODES) == sorted(MISTAKES), (
        f"missing: {sorted(set(MISTAKES) - set(CODES))}, unknown: {sorted(set(CODES) - set(MISTAKES))}, "
        f"repeated: {sorted({c for c in CODES if CODES.count(c) > 1})}")


@pytest.mark.parametrize("code", CODES)
def test_fixture_changes_only_its_solution_cell(code, repo):
    """Does the submission differ from a correct one only in the mistake's cell, and there really?"""
    mistake = _ready_or_skip(code, repo)
    correct = mistake_build.student_notebook(mistake.notebook, repo)
    wrong = mistake_build.submission([mistake], repo)
    changed = [mistake_build._grade_id(a) or f"cell {i}" for i, (a, b) in enumerate(zip(correct.cells, wrong.cells))
               if a.source != b.source]
    assert changed == [mistake.cell]
    assert [c.metadata for c in correct.cells] == [c.metadata for c in wrong.cells]


@pytest.mark.parametrize("notebook", sorted({m.notebook for m in ALL}))
def test_correct_submission_is_the_release_with_the_solutions(notebook, repo):
    """Is the correct submission course/'s notebook with exactly the solution regions written?"""
    if not (repo / "solutions" / notebook).exists() or not (repo / "course" / notebook).exists():
        pytest.skip(f"{notebook} is not in solutions/ and course/ yet")
    release = mistake_build.read(notebook, "course", repo)
    student = mistake_build.student_notebook(notebook, repo)
    regions = mistake_build.solution_regions(notebook, repo)
    assert len(release.cells) == len(student.cells)
    for before, after in zip(release.cells, student.cells):
        grade_id = mistake_build._grade_id(before)
        if grade_id in regions:
            assert "raise NotImplementedError()" in before.source
            assert "NotImplementedError" not in after.source and "### BEGIN SOLUTION" not in after.source
            assert all(line in after.source.split("\n") for line in regions[grade_id].split("\n"))
        else:
            assert before.source == after.source


def test_stale_description_says_what_to_update(repo):
    """Does a mistake whose line is gone from the solution raise StaleFixture naming it?"""
    mistake = mistake_build.Mistake(
        name="no-watch", code="no-watch", notebook="01_gradient_tape/gradient_tape.ipynb", cell="derivative", story="",
        hint_cell="test_derivative", loses=("test_derivative",),
        edits=(mistake_build.Edit("tape.observe(x)", ""),))
    with pytest.raises(mistake_build.StaleFixture) as err:
        mistake_build.submission([mistake], repo)
    assert str(err.value) == (
        "mistake 'no-watch': the solution of 'derivative' in 01_gradient_tape/gradient_tape.ipynb contains "
        "'tape.observe(x)' 0 times (expected once); update mistakes.toml")
    moved = mistake_build.Mistake(
        name="no-watch", code="no-watch", notebook="01_gradient_tape/gradient_tape.ipynb", cell="derivative", story="",
        hint_cell="test_derivatives", loses=(), edits=())
    with pytest.raises(mistake_build.StaleFixture, match="has no graded cell 'test_derivatives'"):
        mistake_build.submission([moved], repo)


def test_groups_share_no_cell():
    """Do the submissions that carry several mistakes put them in different cells, failing different tests?"""
    packed = mistake_build.groups(ALL)
    assert sorted(m.code for g in packed for m in g) == sorted(CODES)
    for group in packed:
        assert 1 <= len(group) <= 2
        cells = [m.cell for m in group]
        failing = [c for m in group for c in {m.hint_cell, *m.loses, *m.may_lose}]
        assert len(set(cells)) == len(cells) and len(set(failing)) == len(failing)
        assert len(group) == 1 or not any(m.may_lose for m in group)
        assert len({m.notebook for m in group}) == 1


# ------------------------------------------------------------------ graded (slow)


def _sample_groups(ready: list[mistake_build.Mistake], repo: Path) -> dict[tuple[str, str], tuple]:
    """(student, assignment) -> the mistakes, for the sample students who make only graded catalogue
    mistakes, each in a cell of its own (autograder/samples/make_samples.py)."""
    sys.path.insert(0, str(repo / "autograder" / "samples"))
    import make_samples

    order = {m.name: i for i, m in enumerate(ready)}
    out = {}
    for student, work in make_samples.students().items():
        for assignment, edits in work.items():
            made = list(edits.values()) if isinstance(edits, dict) else []
            if made and all(isinstance(m, mistake_build.Mistake) and m.graded and m.name in order for m in made) \
                    and all(mistake_build.compatible(a, b) for a in made for b in made if a is not b):
                out[(student, assignment)] = tuple(sorted(made, key=lambda m: order[m.name]))
    return out


@pytest.fixture(scope="module")
def graded(repo, graded):
    """Every available mistake graded by the kit's grading job; code -> (Graded, Verdict).

    The sample class (graded once per session: the `graded` fixture of conftest.py, which this one
    overrides) already makes several of the codes, each sample student a group of compatible catalogue
    mistakes, so their results are read from it; the other mistakes are graded here, two to a submission.
    """
    _, samples = graded
    ready, _ = mistake_build.available(ALL, repo)
    reused = {where: group for where, group in _sample_groups(ready, repo).items() if where in samples.results}
    covered = {m.code for group in reused.values() for m in group}
    results = mistake_grade.grade(mistake_build.groups([m for m in ready if m.code not in covered]),
                                  workers=2, repo=repo)
    results += [mistake_grade.Graded(group, samples.results[where],
                                     mistake_grade.verdicts(group, samples.results[where], repo))
                for where, group in reused.items()]
    return {v.mistake.code: (g, v) for g in results for v in g.verdicts}


@pytest.mark.slow
@pytest.mark.parametrize("code", CODES)
def test_grader_names_the_mistake(code, repo, graded):
    """Does the affected test cell fail with the mistake's hint, in the notebook and in the feedback HTML?"""
    _ready_or_skip(code, repo)
    submission, verdict = graded[code]
    assert submission.result.status == "graded", submission.result.messages
    _known_gap("named", code, verdict.diagnosed)
    assert verdict.hint_in_cell, (
        f"{verdict.mistake.hint_cell} should fail with {mistake_grade.hint_text(code)!r}..., "
        f"found {verdict.error or 'no error'!r}")
    assert verdict.hint_in_feedback, f"the feedback HTML does not show {verdict.error!r}"
    assert verdict.diagnosed


@pytest.mark.slow
@pytest.mark.parametrize("code", CODES)
def test_mistake_costs_only_its_part(code, repo, graded):
    """Do the cells the mistake aims at lose all their points, and every cell it does not aim at keep them?"""
    _ready_or_skip(code, repo)
    submission, verdict = graded[code]
    by_cell = {c.grade_id: (c.score, c.max_score, c.message[:120]) for c in submission.result.cells}
    assert set(by_cell) == set(mistake_build.points(verdict.mistake.notebook, repo))
    assert mistake_grade.missing_losses(submission.group, verdict.lost, repo) == {}, by_cell
    assert mistake_grade.unexpected_losses(submission.group, verdict.lost, repo) == {}, by_cell


@pytest.mark.slow
@pytest.mark.parametrize("code", CODES)
def test_visible_tests_show_the_hint(code, repo, graded):
    """Is the hint raised by the test's visible lines, so the student sees it before submitting?"""
    _ready_or_skip(code, repo)
    _, verdict = graded[code]
    _known_gap("visible", code, verdict.visible)
    assert verdict.hint_in_cell, f"no hint to look at: {verdict.error!r}"
    assert verdict.visible, (
        f"{verdict.mistake.hint_cell}: the hint comes from the hidden tests only; a visible check "
        f"with expect(..., {code!r}, ...) must catch this mistake")


@pytest.mark.slow
@pytest.mark.parametrize("code", CODES)
def test_hint_reveals_no_hidden_value_or_solution(code, repo, graded):
    """Does the message the student reads quote no solution line and no number they have not seen?"""
    _ready_or_skip(code, repo)
    _, verdict = graded[code]
    assert verdict.error, "the affected cell did not fail"
    assert verdict.leaks == []


def test_leak_check_catches_a_hidden_number_and_a_solution_line(repo):
    """Would a hint quoting a hidden-test value or the instructor's solution line be caught?"""
    mistake = _mistake("no-watch")
    nb = mistake_build.submission([mistake], repo)
    region = mistake_build.solution_regions(mistake.notebook, repo)["huber"].strip().splitlines()[-1].strip()
    found = mistake_grade.leaks(f"expected 0.73125 ({region})", mistake, nb, repo)
    assert found == [f"solution line of huber: {region!r}",
                     "number 0.73125 appears nowhere in the released notebook or the student's cell"]
    assert mistake_grade.leaks(mistake_grade.hint_text("no-watch"), mistake, nb, repo) == []


def test_visible_line_is_told_from_a_hidden_one():
    """Is an error raised on a line above '### BEGIN HIDDEN TESTS' visible, and one below it not?"""
    cell = {"source": '"""Doc."""\nexpect(a, "no-watch")\n### BEGIN HIDDEN TESTS\nexpect(b, "no-watch")\n'}
    frame = "\x1b[0;32mCell In[7], line {}\x1b[0m"
    assert mistake_grade._raised_visibly(cell, ["Hint  Traceback", frame.format(2), "..."])
    assert not mistake_grade._raised_visibly(cell, ["Hint  Traceback", frame.format(4), "..."])


def test_feedback_text_reads_like_the_page():
    """Is the feedback HTML read as text, with entities decoded and tags and scripts dropped?"""
    page = b"<html><script>var x = '[no-watch]';</script><pre><span>Hint</span>: it&#39;s &lt;None&gt;</pre></html>"
    assert mistake_grade.feedback_text(page) == "Hint: it's <None>"


def test_builder_writes_nbgrader_layout(tmp_path, repo):
    """Does the builder write every available submission as a readable notebook in nbgrader's layout?"""
    paths = mistake_build.write(tmp_path, ALL, repo=repo)
    ready, _ = mistake_build.available(ALL, repo)
    assert len(paths) == len(ready)
    for path, mistake in zip(paths, ready):
        assert path.relative_to(tmp_path).parts == (mistake.code, mistake.assignment, mistake.filename)
        nbformat.validate(nbformat.read(path, as_version=4))
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"
