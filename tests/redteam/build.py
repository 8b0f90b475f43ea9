"""Write the red-team assignment and its hostile submissions: ``python tests/redteam/build.py``.

``source/redteam/tiny.ipynb`` is a three-point assignment without TensorFlow (it grades
in seconds). Its release version comes from ``nbgrader generate_assignment``; every
case of :data:`cases.CASES` derives its submission from it (answered correctly, then
edited by the case) or gives raw bytes, and is written to
``submissions/<case>/redteam/``. The files are committed for reading; the tests build
the same submissions themselves, so this script only refreshes the committed copies.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402


def _meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's version: solutions between markers, hidden tests, trusted comparisons."""
    cells = [
        new_markdown_cell("# Red-team assignment\n\nThree small functions; each test is worth one point."),
        new_code_cell("import math\n\nfrom tapelab.grading.trusted import call_fresh, same_float, same_floats",
                      metadata=_meta("setup", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=_meta("add", solution=True)),
        new_code_cell('"""Does add return the sum of two numbers?"""\n'
                      "assert same_float(add(1.5, 2.0), 3.5), \"add(1.5, 2.0) should be 3.5\"\n"
                      "### BEGIN HIDDEN TESTS\n"
                      "assert same_float(call_fresh(add, 0.25, 0.5), 0.75), \"add(0.25, 0.5) should be 0.75\"\n"
                      "### END HIDDEN TESTS",
                      metadata=_meta("test_add", grade=True, locked=True, points=1)),
        new_code_cell("def norm(v):\n    ### BEGIN SOLUTION\n    return math.sqrt(sum(x * x for x in v))\n"
                      "    ### END SOLUTION",
                      metadata=_meta("norm", solution=True)),
        new_code_cell('"""Does norm return the Euclidean length of a vector?"""\n'
                      "assert same_float(norm([3.0, 4.0]), 5.0), \"norm([3, 4]) should be 5\"\n"
                      "### BEGIN HIDDEN TESTS\n"
                      "assert same_float(call_fresh(norm, [1.0, 2.0, 2.0]), 3.0), \"norm([1, 2, 2]) should be 3\"\n"
                      "### END HIDDEN TESTS",
                      metadata=_meta("test_norm", grade=True, locked=True, points=1)),
        new_code_cell("def step(w, g, lr):\n    \"\"\"One gradient step: w - lr * g, element by element.\"\"\"\n"
                      "    ### BEGIN SOLUTION\n    return [wi - lr * gi for wi, gi in zip(w, g)]\n"
                      "    ### END SOLUTION",
                      metadata=_meta("step", solution=True)),
        new_code_cell('"""Does step move every weight against its gradient?"""\n'
                      "### BEGIN HIDDEN TESTS\n"
                      "got = call_fresh(step, [1.0, 2.0], [0.5, -1.0], 0.1)\n"
                      "assert same_floats(got, [1.0 - 0.1 * 0.5, 2.0 + 0.1 * 1.0]), \"step is not w - lr * g\"\n"
                      "### END HIDDEN TESTS",
                      metadata=_meta("test_step", grade=True, locked=True, points=1)),
    ]
    for cell in cells:
        cell.id = cell.metadata.get("nbgrader", {}).get("grade_id", "intro").replace("_", "-")
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def release_notebook(source: Path) -> nbformat.NotebookNode:
    """The student version of `source`, made by ``nbgrader generate_assignment`` in a scratch course."""
    import tempfile

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copytree(source.parent, course / "source" / cases.ASSIGNMENT)
        config = Config()
        config.CourseDirectory.root = str(course)
        config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        outcome = api.generate_assignment(cases.ASSIGNMENT, force=True, create=True)
        if not outcome["success"]:
            raise RuntimeError(outcome["error"] or outcome["log"])
        return nbformat.read(course / "release" / cases.ASSIGNMENT / cases.NOTEBOOK, as_version=4)


def main() -> None:
    source = HERE / "source" / cases.ASSIGNMENT / cases.NOTEBOOK
    source.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), source)
    release = release_notebook(source)
    out = HERE / "submissions"
    shutil.rmtree(out, ignore_errors=True)
    written = [case for case in cases.CASES if case.committed]
    for case in written:
        case.write(out / case.name, release)
    print(f"wrote {source.relative_to(HERE)} and {len(written)} submissions")


if __name__ == "__main__":
    main()
