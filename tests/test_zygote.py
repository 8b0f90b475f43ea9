"""Tests for tapelab.grading.zygote's warm-up: what every grading process inherits ready-made."""

from __future__ import annotations

import jinja2
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory

from tapelab.grading import zygote


def _feedback_html(nb) -> str:
    exporter = HTMLExporter(config=GenerateFeedback(coursedir=CourseDirectory()).config)
    resources = {"nbgrader": {"notebook": "work", "score": 2, "max_score": 3, "late_penalty": 0}}
    return exporter.from_notebook_node(nb, resources=resources)[0]


def test_feedback_templates_are_compiled_once_and_render_the_same(monkeypatch):
    """After the warm-up, does a new feedback exporter render without compiling any template, to the same HTML?"""
    nb = new_notebook(cells=[new_markdown_cell("# Work"), new_code_cell(
        "assert 1 + 1 == 3, 'arithmetic'", outputs=[new_output("error", ename="AssertionError", evalue="arithmetic",
                                                               traceback=["AssertionError: arithmetic"])])])
    before = _feedback_html(nb)
    zygote._warm_up()
    compiled: list[str] = []
    compile_template = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return compile_template(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    after = _feedback_html(nb)
    assert compiled == []
    assert after == before and "arithmetic" in after and "2" in after
