"""Solution notebooks run in the test process, as the grader runs them, to try other answers in them.

Running a notebook here costs only its cells: no kernel to start, no TensorFlow to import
again. :class:`NotebookRun` runs a solution notebook once, leaving its demonstrations unrun
as the grader does (training runs, pictures: no graded cell may need them), and then grades
other answers the way a fresh top-to-bottom run would: :meth:`NotebookRun.failing` puts the
answers in their cells and runs every cell from the first answer down, in order, going on
past errors as nbgrader does, then puts the solution's names back.

The `notebook_runs` fixture of conftest.py keeps one run per notebook for the whole session.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from tapelab.grading.budget import is_demo

REPO = Path(__file__).resolve().parents[1]


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


class NotebookRun:
    """A solution notebook's code run once in a namespace, with its cells by grade_id."""

    def __init__(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        #: (grade_id or None, source, whether it is a test cell) of every code cell the grader runs, in order.
        self.order: list[tuple[str | None, str, bool]] = []
        for cell in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]:
            nbgrader = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and not is_demo(cell):
                self.order.append((nbgrader.get("grade_id"), _source(cell), bool(nbgrader.get("grade"))))
        self.cells = {grade_id: source for grade_id, source, _ in self.order if grade_id}
        self.ns: dict = {"__name__": "__notebook__"}
        # The setup cell imports tapelab.grading.trusted last, so that it keeps the modules
        # imported above it; a copy imported earlier in this process would lack them.
        sys.modules.pop("tapelab.grading.trusted", None)
        for _, source, _ in self.order:
            self.run(source)

    def run(self, source: str) -> None:
        """Run one cell's code in the notebook's namespace (IPython's % lines left out)."""
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
        exec(compile(code, "<cell>", "exec"), self.ns)

    def failing(self, answers: Mapping[str, str], tests: Iterable[str] | None = None) -> dict[str, str]:
        """The test cells that fail with `answers` (grade_id -> code) in place of those cells: grade_id -> error.

        Every cell from the first answered one down runs, the answers in their places; a cell that
        raises is noted and the run goes on, as a graded kernel does. `tests` limits the test cells
        run (all by default). Afterwards the namespace holds again what the solution notebook left
        in it (the names; objects made before the first answer are shared, as in one kernel).
        """
        unknown = set(answers) - set(self.cells)
        assert not unknown, f"no cells {sorted(unknown)} in this notebook"
        chosen = None if tests is None else set(tests)
        start = min(i for i, (grade_id, _, _) in enumerate(self.order) if grade_id in answers)
        saved = dict(self.ns)
        failed: dict[str, str] = {}
        try:
            for grade_id, source, is_test in self.order[start:]:
                if is_test and chosen is not None and grade_id not in chosen:
                    continue
                try:
                    self.run(answers.get(grade_id, source))
                except Exception as error:  # noqa: BLE001 - a failing cell, whatever it raises
                    if is_test:
                        failed[grade_id] = f"{type(error).__name__}: {error}"
        finally:
            import matplotlib.pyplot as plt

            self.ns.clear()
            self.ns.update(saved)
            plt.close("all")
        return failed


class NotebookRuns:
    """One :class:`NotebookRun` per solution notebook, made when first asked for."""

    def __init__(self, repo: Path = REPO) -> None:
        self.repo, self._runs = repo, {}

    def __call__(self, assignment: str) -> NotebookRun:
        """The run of solutions/`assignment` (an assignment folder, or '<folder>/<file>.ipynb')."""
        folder = assignment.split("/")[0]
        if folder not in self._runs:
            self._runs[folder] = NotebookRun(next((self.repo / "solutions" / folder).glob("*.ipynb")))
        return self._runs[folder]
