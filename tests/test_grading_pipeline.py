"""The grading pipeline end to end on the toy class (tests/grading_support.py), graded once per session."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from grading_support import ASSIGNMENT, EXPECTED, NOTEBOOK, graded_class, make_course

from tapelab.grading import gradebook, summary
from tapelab.grading.driver import grade_class
from tapelab.grading.jobs import GRADED, NOT_GRADABLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def toy():
    return graded_class()


def test_every_expected_score(toy):
    """Does every student get the expected points out of the maximum?"""
    _, report = toy
    got = {s: (r.score, r.max_score) for (s, _), r in report.results.items()}
    assert got == {s: (points, best) for s, (points, best, _, _) in EXPECTED.items()}


def test_feedback_messages(toy):
    """Does each failed test cell carry the message the student reads?"""
    _, report = toy
    for student, (_, _, grade_id, text) in EXPECTED.items():
        if grade_id is None:
            continue
        cells = {c.grade_id: c for c in report.results[(student, ASSIGNMENT)].cells}
        assert cells[grade_id].score == 0
        assert text in cells[grade_id].message, (student, cells[grade_id].message)
    assert all(c.message == "" for c in report.results[("ada", ASSIGNMENT)].cells)


def test_unreadable_notebook_is_listed_with_its_reason(toy):
    """Is the invalid-JSON notebook reported as not gradable, saying it is not valid JSON?"""
    _, report = toy
    eve = report.results[("eve", ASSIGNMENT)]
    assert eve.status == NOT_GRADABLE
    assert "toy.ipynb" in eve.reason and "JSON" in eve.reason
    assert "JSON" in summary.cell(eve)


def test_endless_cell_is_stopped_and_the_rest_scored(toy):
    """Is the endless cell stopped by its CPU budget, with a message naming it, and the finished cells scored?"""
    _, report = toy
    dee = report.results[("dee", ASSIGNMENT)]
    assert dee.status == GRADED
    assert dee.scores == {"test_square": 2.0, "test_draw": 0.0}
    assert any("draw" in m for m in dee.messages), dee.messages


def test_gradebook_matches_results(toy):
    """Does the course gradebook hold exactly the scores the jobs returned?"""
    root, report = toy
    stored = gradebook.scores(root / "autograder" / "gradebook.db")
    assert stored == {(s, a): (r.score, r.max_score) for (s, a), r in report.results.items()}


def test_csv_export(toy):
    """Does autograder/grades.csv list every student with nbgrader's export columns and scores?"""
    root, _ = toy
    rows = list(csv.DictReader((root / "autograder" / "grades.csv").open()))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {s: e[0] for s, e in EXPECTED.items()}
    assert {float(r["max_score"]) for r in rows} == {3.0}


def test_nbgrader_layout_of_outputs(toy):
    """Are autograded notebooks and feedback HTML written where nbgrader puts them?"""
    root, _ = toy
    for student in ("ada", "bob", "cyd", "dee"):
        autograded = root / "autograder" / "autograded" / student / ASSIGNMENT / NOTEBOOK
        feedback = root / "autograder" / "feedback" / student / ASSIGNMENT / "toy.html"
        assert nbformat.read(autograded, as_version=4).cells
        assert "<html" in feedback.read_text().lower()
    bob = (root / "autograder" / "feedback" / "bob" / ASSIGNMENT / "toy.html").read_text()
    assert "square(3) must be 9, got 6" in bob


def test_summary_table(toy):
    """Does the table have a row per student and show points/max with the reason where not graded?"""
    _, report = toy
    lines = summary.table(report.results).splitlines()
    assert lines[0].split()[:2] == ["student", ASSIGNMENT]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == set(EXPECTED)
    assert rows["ada"].split()[1] == "3/3"
    assert "0/3 (" in rows["eve"]


def test_rerun_grades_nothing_unchanged(toy):
    """Does a rerun reuse every cached result, grade nothing and leave the gradebook unchanged?"""
    root, report = toy
    before = gradebook.scores(root / "autograder" / "gradebook.db")
    again = grade_class(root / "submissions", config=root / "autograder" / "nbgrader_config.py",
                        workers=2, allow_unsandboxed=True)
    assert (again.graded, again.reused) == (0, 5)
    assert {k: (r.score, r.max_score) for k, r in again.results.items()} == \
        {k: (r.score, r.max_score) for k, r in report.results.items()}
    assert gradebook.scores(root / "autograder" / "gradebook.db") == before


def test_regrade_one_student_is_identical(toy):
    """Does --regrade --student grade only that student again, with identical cell scores and messages?"""
    root, report = toy
    again = grade_class(root / "submissions", config=root / "autograder" / "nbgrader_config.py", workers=1,
                        student="bob", regrade=True, allow_unsandboxed=True)
    assert (again.graded, again.reused, list(again.results)) == (1, 0, [("bob", ASSIGNMENT)])
    assert again.results[("bob", ASSIGNMENT)].cells == report.results[("bob", ASSIGNMENT)].cells


def test_plain_nbgrader_gives_the_same_grades(toy, tmp_path):
    """Does sequential plain `nbgrader autograde` on the same submissions give the same scores?"""
    root, report = toy
    make_course(tmp_path)
    shutil.copytree(root / "autograder" / "submitted", tmp_path / "autograder" / "submitted")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    for args in (["generate_assignment", ASSIGNMENT, "--force"], ["autograde", ASSIGNMENT, "--force"]):
        subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=tmp_path / "autograder", env=env,
                       capture_output=True, check=False)
    plain = gradebook.scores(tmp_path / "autograder" / "gradebook.db")
    assert plain == gradebook.scores(root / "autograder" / "gradebook.db")
    assert plain == {k: (r.score, r.max_score) for k, r in report.results.items()}


def test_job_failing_every_try_is_listed(tmp_path):
    """Is a job that fails on every try (no such kernel) listed with its reason, the batch finished, no grade stored?"""
    from grading_support import make_submissions

    config = make_course(tmp_path) / "autograder" / "nbgrader_config.py"
    config.write_text(config.read_text() + "c.Execute.kernel_name = 'no-such-kernel'\n")
    make_submissions(tmp_path / "submissions", {"ada": ("def square(x):\n    return x * x", None)})
    report = grade_class(tmp_path / "submissions", config=config, workers=1, allow_unsandboxed=True)
    [failed] = report.failed
    assert failed.student == "ada" and failed.score == 0 and failed.max_score == 3
    assert failed.reason.startswith("nbgrader autograde failed: ") and "no-such-kernel" in failed.reason
    assert gradebook.scores(tmp_path / "autograder" / "gradebook.db") == {}
    assert not list((tmp_path / "autograder" / ".jobs").glob("*.pickle"))  # no cached result: tried again next time


def test_missing_sandbox_is_a_setup_error(tmp_path, monkeypatch, capsys, repo, request):
    """Without bubblewrap and without an opt-out, does grading stop with exit 2 and say how to fix it?"""
    import shutil

    from tapelab.grading import cli, sandbox

    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    sandbox.probe.cache_clear()  # tried again without bubblewrap ...
    request.addfinalizer(sandbox.probe.cache_clear)  # ... and with it after this test
    monkeypatch.delenv("TAPELAB_ALLOW_UNSANDBOXED", raising=False)
    submissions = tmp_path / "submissions"
    shutil.copytree(repo / "autograder" / "samples" / "submissions" / "ben_partial", submissions / "ben_partial")
    status = cli.main([str(submissions), "--regrade", "--no-progress"])
    out = capsys.readouterr()
    assert status == 2
    assert "apt-get install bubblewrap" in out.out + out.err
    assert "--allow-unsandboxed" in out.out + out.err


def test_orphaned_job_stops_and_deletes_its_folder(tmp_path):
    """When the worker that started a grading process dies, does the process stop and delete the job's folder?

    The folder holds a student's submission and nobody is left to clean it up.
    """
    import signal
    import time

    job_dir = tmp_path / "tapelab-job-orphan"
    (job_dir / "course" / "submitted").mkdir(parents=True)
    (job_dir / "course" / "submitted" / "work.ipynb").write_text("{}")
    grader = ("import sys, time; from pathlib import Path; from tapelab.grading import runner; "
              "runner._watch_parent(Path(sys.argv[1])); print('watching', flush=True); time.sleep(60)")
    # a stand-in worker: starts the grading process, reports its pid, waits
    worker = subprocess.Popen(["bash", "-c", f'"{sys.executable}" -c "{grader}" "{job_dir}" & echo $!; wait'],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    grading_pid = int(worker.stdout.readline())
    assert worker.stdout.readline().strip() == "watching"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while job_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job_dir.exists()
    import psutil

    while time.monotonic() < deadline:
        try:
            if psutil.Process(grading_pid).status() == psutil.STATUS_ZOMBIE:
                break  # exited; whoever adopted it has not reaped it yet
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    else:
        os.kill(grading_pid, signal.SIGKILL)
        pytest.fail("the orphaned grading process did not stop")
