"""Tests for tapelab.grading.zygote: what every grading process inherits ready-made, and how it is waited for."""

from __future__ import annotations

import json
import os
import time

import jinja2
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from tapelab.grading import processes, zygote
from tapelab.grading.templates import FeedbackExporter


def _feedback_html(nb, exporter_class=FeedbackExporter) -> str:
    exporter = exporter_class(config=GenerateFeedback(coursedir=CourseDirectory()).config)
    resources = {"nbgrader": {"notebook": "work", "score": 2, "max_score": 3, "late_penalty": 0}}
    return exporter.from_notebook_node(nb, resources=resources)[0]


def test_feedback_templates_are_compiled_once_and_render_the_same(monkeypatch):
    """After the warm-up, does a new feedback exporter render without compiling any template, as HTMLExporter does?"""
    nb = new_notebook(cells=[new_markdown_cell("# Work"), new_code_cell(
        "assert 1 + 1 == 3, 'arithmetic'", outputs=[new_output("error", ename="AssertionError", evalue="arithmetic",
                                                               traceback=["AssertionError: arithmetic"])])])
    plain = _feedback_html(nb, HTMLExporter)
    zygote._warm_up()
    compiled: list[str] = []
    compile_template = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return compile_template(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    after = _feedback_html(nb)
    assert compiled == []
    assert after == plain and "arithmetic" in after and "2" in after


def test_the_runner_selects_the_feedback_exporter(tmp_path):
    """Does the grading runner's config make nbgrader's GenerateFeedback use FeedbackExporter?"""
    from tapelab.grading import runner

    config = runner._course_config({"assignment": "a", "config": {}}, tmp_path)
    assert GenerateFeedback(coursedir=CourseDirectory(config=config), config=Config(config)).exporter_class \
        is FeedbackExporter


def _job(folder, hang: bool = False):
    """A job folder whose runner finds nothing to do, or (`hang`) blocks reading its job.json, a FIFO."""
    (folder / "course").mkdir(parents=True)
    if hang:
        os.mkfifo(folder / "job.json")
    else:
        (folder / "job.json").write_text(json.dumps({"assignment": "a", "student": "s", "steps": []}))
    return folder


def test_a_forked_job_reports_its_end_through_its_pidfd(tmp_path):
    """Does the wait on a zygote's child return when it exits, its status in JOB_DIR/exit?"""
    forks = zygote.Zygote(dict(os.environ))
    try:
        job = _job(tmp_path / "quick")
        forked = forks.fork(job, dict(os.environ))
        assert forked.wait(120)
        forked.close()
        assert (job / "exit").read_text() == "0"
        assert json.loads((job / "result.json").read_text()) == {"steps": {}}
    finally:
        forks.close()


def test_a_job_past_its_time_is_killed_and_a_closed_zygote_takes_its_jobs_along(tmp_path):
    """Does a wait time out on a running child, kill_tree end it, and closing the zygote end the others?"""
    forks = zygote.Zygote(dict(os.environ))
    try:
        first = forks.fork(_job(tmp_path / "first", hang=True), dict(os.environ))
        assert not first.wait(0.5)
        processes.kill_tree(first.pid, group=True)
        assert first.wait(30)
        first.close()
        second = forks.fork(_job(tmp_path / "second", hang=True), dict(os.environ))
        started = time.monotonic()
    finally:
        forks.close()
    assert second.wait(30) and time.monotonic() - started < 30
    second.close()
    assert not (tmp_path / "first" / "exit").exists() and not (tmp_path / "second" / "exit").exists()
