"""Feedback that shows each test's result, not the hidden tests' code.

nbgrader's feedback HTML is the autograded notebook, test cells and all: after
one cohort the hidden tests would be public. :class:`HideHiddenTests` is an
nbgrader preprocessor for ``GenerateFeedback`` that, in each autograder test
cell (``grade`` and not ``solution``),

* removes the hidden-test region (nbgrader's own :class:`ClearHiddenTests` does
  the cutting, with the course's delimiters), keeping the visible tests, and
* shortens each error output to ``ename: evalue``: the failure message a test
  chose to show, without the traceback, whose context lines quote the test's code.

Students' own cells are left as they are. The instructor's autograded notebook
keeps everything: only the feedback is converted. It is on by default in the
course's ``nbgrader_config.py``; ``c.HideHiddenTests.enabled = False`` shows the
hidden tests again.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool, Unicode

#: what a test cell says in the feedback where its hidden tests were.
HIDDEN_NOTE = "# (hidden tests ran here; the feedback shows their result, not their code)"


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden tests and tracebacks from the test cells of a feedback notebook."""

    enabled = Bool(True, help="False: the feedback shows hidden tests and full tracebacks").tag(config=True)
    note = Unicode(HIDDEN_NOTE, help="the line that replaces a cell's hidden tests").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int):
        if not self.enabled or cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        before = cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.source != before and self.note:
            cell.source = cell.source.rstrip("\n") + "\n" + self.note
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [short_error(output.get("ename", "Error"), output.get("evalue", ""))]
        return cell, resources


def short_error(ename: str, evalue: str) -> str:
    """The one line a student reads for a failed test: ``ename: evalue``, or ``ename`` alone."""
    return f"{ename}: {evalue}" if evalue else f"{ename} (the test gave no message)"
