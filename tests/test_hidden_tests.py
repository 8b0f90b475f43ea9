"""Does the feedback show each test's result without the hidden tests' code?"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tapelab.grading.hidden_tests import HIDDEN_NOTE, HideHiddenTests

TEST_CELL = '''"""Does add() add?"""
assert add(1, 2) == 3, "add(1, 2) should be 3"
### BEGIN HIDDEN TESTS
assert add(-7, 5) == -2, "add is wrong for negative numbers"
### END HIDDEN TESTS'''
TRACEBACK = ["\x1b[0;31mAssertionError\x1b[0m Traceback (most recent call last)",
             "Cell In[3], line 4\n----> 4 assert add(-7, 5) == -2, 'add is wrong for negative numbers'",
             "AssertionError: add is wrong for negative numbers"]


def _notebook() -> nbformat.NotebookNode:
    test = new_code_cell(TEST_CELL, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                           "grade_id": "test_add", "points": 1}})
    test.outputs = [new_output("error", ename="AssertionError", evalue="add is wrong for negative numbers",
                               traceback=TRACEBACK)]
    student = new_code_cell("def add(a, b):\n    return a - b  # ### BEGIN HIDDEN TESTS (a student's own text)",
                            metadata={"nbgrader": {"grade": False, "solution": True, "locked": False,
                                                   "grade_id": "add"}})
    return new_notebook(cells=[student, test])


def test_hidden_region_and_traceback_are_removed():
    """Are the hidden lines and the traceback gone, the visible test, the message and the student's cell kept?"""
    nb, _ = HideHiddenTests().preprocess(_notebook(), {})
    student, test = nb.cells
    assert "add(-7, 5)" not in test.source and 'add(1, 2) == 3' in test.source and HIDDEN_NOTE in test.source
    assert test.outputs[0].traceback == ["AssertionError: add is wrong for negative numbers"]
    assert "add(-7, 5)" not in "".join(test.outputs[0].traceback)
    assert student.source == _notebook().cells[0].source


def test_switched_off_keeps_everything():
    """With HideHiddenTests.enabled = False, does the feedback notebook keep the hidden tests and tracebacks?"""
    nb, _ = HideHiddenTests(enabled=False).preprocess(_notebook(), {})
    assert nb.cells[1].source == TEST_CELL and nb.cells[1].outputs[0].traceback == TRACEBACK
