"""The class report: what it gathers from the gradebook and the grading findings, and the page it writes."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from grading_support import course_config, make_course
from synthetic_class import toy_result
from tapelab.grading import findings, gradebook, report
from tapelab.grading.driver import Course
from tapelab.grading.jobs import FAILED, NOT_GRADABLE, JobResult
from tapelab.grading.limits import cpu_stop

NO_WATCH = "Hint: [no-watch] The gradient is None: the tape only records operations on trainable Variables."


def test_the_question_is_the_test_cells_docstring():
    """Is a test's question the one-line docstring opening its cell, without quotes, and empty without one?"""
    assert report.question('"""Does square(x) return x squared?"""\nassert square(3) == 9') == \
        "Does square(x) return x squared?"
    assert report.question("r'''Is it raw?'''") == "Is it raw?"
    assert report.question("assert square(3) == 9") == ""
    assert report.question("") == ""


@pytest.fixture
def toy(tmp_path) -> Course:
    """The toy class merged as the driver merges it: ann right, bob a named mistake, cyd a stopped cell,
    dee not gradable, fay's grading failed, eve in the gradebook without a submission."""
    make_course(tmp_path)
    course = Course.from_config(tmp_path / "autograder" / "nbgrader_config.py")
    stop = dataclasses.replace(cpu_stop("test_draw", 5.0, 5.0), notebook="toy")
    results = [toy_result("ann", 2, 1, seconds=10), toy_result("bob", 0, 1, messages={"test_square": NO_WATCH},
                                                                 seconds=20),
               toy_result("cyd", 2, 0, messages={"test_draw": "CellTimeoutError: this cell used 5 s"}, stops=[stop],
                          seconds=30),
               JobResult("dee", "toy", NOT_GRADABLE, 0.0, 3.0, messages=["toy.ipynb is not valid JSON"], seconds=1),
               JobResult("fay", "toy", FAILED, 0.0, 3.0, messages=["grading failed on every try: KilledWorker"])]
    for result in results:
        gradebook.merge(course.gradebook, result)
        findings.save(course.findings, result)
    with gradebook.connect(course.gradebook) as gb:
        gb.update_or_create_student("eve")
    page = course.feedback / "bob" / "toy" / "toy.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html>bob's feedback</html>")
    return course


def test_what_the_report_gathers(toy):
    """Does the report give each test's pass rate and question, the named mistake with a link to the feedback,
    the stopped cell, the submissions not graded, the grading time and who did not submit?"""
    (a,) = report.gather(toy, toy.report, settings=None).assignments
    assert (a.name, a.max_score, a.scores) == ("toy", 3.0, [0.0, 1.0, 2.0, 3.0])
    assert [(t.grade_id, t.question, t.earned, t.available) for t in a.tests] == [
        ("test_square", "Does square(x) return x squared?", 4.0, 8.0),
        ("test_draw", "Is draw() the seeded draw?", 2.0, 4.0)]
    assert [(m.code, m.tests, m.students) for m in a.mistakes] == [
        ("no-watch", ["test_square"], [report.Link("bob", "../feedback/bob/toy/toy.html")])]
    assert [(s.link.student, s.cell, s.kind) for s in a.stops] == [("cyd", "test_draw", "cpu")]
    assert [(u.student, u.status) for u in a.ungraded] == [("dee", NOT_GRADABLE), ("fay", FAILED)]
    assert "not valid JSON" in a.ungraded[0].reason and "KilledWorker" in a.ungraded[1].reason
    assert a.missing == ["eve"]
    assert (a.timing.jobs, a.timing.p50, round(a.timing.core_hours * 3600)) == (4, 15.0, 61)


def test_the_page_opens_offline(toy):
    """Is index.html one file whose plots are embedded PNGs, with no address outside it but relative links?"""
    page = report.write(toy)
    assert page == toy.report / "index.html"
    html = page.read_text()
    addresses = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert not [a for a in addresses if re.match(r"(https?:)?//", a)]
    images = [a for a in addresses if a.startswith("data:")]
    assert images and all(base64.b64decode(a.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for a in images)
    links = [a for a in addresses if not a.startswith(("data:", "#"))]
    assert links and all((page.parent / a).is_file() for a in links)
    assert "<script" not in html and "no-watch" in html and "eve" in html


def test_the_report_command(toy, tmp_path, capsys):
    """Does `python -m tapelab.grading.report` write the page where --out says, and say so when there is
    no gradebook?"""
    config = toy.root / "autograder" / "nbgrader_config.py"
    assert report.main(["--config", str(config), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "index.html").is_file()
    empty = course_config(tmp_path / "empty", "empty")
    assert report.main(["--config", str(empty)]) == 2
    assert "grade the class first" in capsys.readouterr().err


def test_late_submissions_are_counted(toy):
    """Does an assignment with a due date say how many submissions were late and what they lost?"""
    with gradebook.connect(toy.gradebook) as gb:
        gb.update_or_create_assignment("toy", duedate=datetime(2026, 11, 20))
    late = gradebook.late_plugin({"LateSubmissionPlugin": {"penalty_method": "zero"}})
    gradebook.merge(toy.gradebook, toy_result("ann", 2, 1), timestamp=datetime(2026, 11, 22), late=late)
    (a,) = report.gather(toy, toy.report, settings=None).assignments
    assert (a.late, a.penalty) == (1, 3.0)


def _expected_codes(expected: dict, repo: Path) -> dict[str, dict[str, set[str]]]:
    """assignment -> mistake code -> students, from the `[code]` texts of expected.json."""
    out: dict[str, dict[str, set[str]]] = {}
    for student, work in expected["students"].items():
        for assignment, want in work.items():
            if (repo / "course" / assignment).is_dir():
                for text in want.get("cells", {}).values():
                    for code in re.findall(r"\[([a-z-]+)\]", text):
                        out.setdefault(assignment, {}).setdefault(code, set()).add(student)
    return out


@pytest.fixture(scope="module")
def sample_report(graded):
    root, _ = graded
    course = Course.from_config(root / "autograder" / "nbgrader_config.py")
    return course, report.gather(course, course.report), report.write(course)


@pytest.mark.slow
def test_the_sample_report_names_exactly_the_expected_mistakes(sample_report, repo):
    """Does the sample class's report list exactly the named mistakes of expected.json, each with its
    students and a link to each one's feedback page?"""
    course, gathered, page = sample_report
    expected = json.loads((repo / "autograder" / "samples" / "expected.json").read_text())
    got = {a.name: {m.code: {s.student for s in m.students} for m in a.mistakes} for a in gathered.assignments}
    assert {a: codes for a, codes in got.items() if codes} == _expected_codes(expected, repo)
    links = [s for a in gathered.assignments for m in a.mistakes for s in m.students]
    assert links and all((page.parent / s.href).is_file() for s in links)


@pytest.mark.slow
def test_the_sample_report_lists_stops_failures_pairs_and_absentees(sample_report):
    """Does the sample report show gus's stopped cell, fay's unreadable notebook, ada and zed as the only
    similar pair, and who did not submit 04_qlearner?"""
    _, gathered, _ = sample_report
    by_name = {a.name: a for a in gathered.assignments}
    assert [(s.link.student, s.cell, s.kind) for a in gathered.assignments for s in a.stops] == [
        ("gus_endless_loop", "test_hessian", "cpu")]
    assert [(a.name, u.student) for a in gathered.assignments for u in a.ungraded] == [
        ("02_chain_rule", "fay_invalid_json")]
    assert [(p.assignment, p.a, p.b, p.identical) for a in gathered.assignments for p in a.pairs] == [
        ("04_qlearner", "ada_all_correct", "zed_same_as_ada", True)]
    missing = by_name["04_qlearner"].missing
    assert "cho_no_watch" in missing and "hal_terminal_alias" not in missing
    assert all(a.timing.jobs == len(a.scores) and 0 < a.timing.p50 <= a.timing.p95 for a in gathered.assignments)


@pytest.mark.slow
def test_the_sample_report_in_chromium(sample_report, repo):
    """Does headless Chromium render the sample report offline: every plot loaded, every section there?"""
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM_ARGS, SCREENSHOTS, find_chromium, in_ci

    chromium = find_chromium()
    if chromium is None:
        if in_ci():
            pytest.fail("Chromium is not installed; CI must run the browser tests")
        pytest.skip("Chromium is not installed (sudo apt-get install chromium)")
    _, gathered, page = sample_report
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
            tab = context.new_page()
            tab.goto(page.as_uri())
            images = tab.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
            sections = tab.locator("h2").all_inner_texts()
            SCREENSHOTS.mkdir(exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / "report-sample-class.png"), full_page=True)
        finally:
            browser.close()
    assert images and all(images)
    names = [a.name for a in gathered.assignments]
    assert names == [s for s in sections if s in names]
    assert len(images) == sum(bool(a.scores) for a in gathered.assignments)
