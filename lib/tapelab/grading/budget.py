"""nbgrader's Execute with budgets in CPU seconds: what a graded notebook's cells may use.

:class:`BudgetedExecute` runs a notebook in a kernel of
:class:`~tapelab.grading.kernel.SandboxedKernelManager` and gives cell i

    b_i = min(B_i, B_notebook − Σ_{j<i} u_j)  CPU seconds,   wall_factor · b_i  wall-clock seconds

(see :mod:`tapelab.grading.limits`). B_i is ``cpu_seconds_per_cell``, or, for a heavy cell,
the ``tapelab.cpu_seconds`` in the metadata of the cell with the same nbgrader ``grade_id``
in the assignment's *source* notebook (``source_folder``): what a student writes in the
metadata of their own copy changes nothing. The source also marks its demonstrations
(``tapelab.demo`` on a read-only cell: a training run, a picture), which the grader leaves
unrun (:class:`SourceMarks`); no graded cell may need them. The hooks nbclient offers do the watching:
``on_cell_execute`` hands the budget to the watchdog of the kernel's
:class:`~tapelab.grading.kernel.SandboxProvisioner`, ``on_cell_executed`` reads what the cell
used, and ``timeout_func`` sets the wall-clock backstop.

Whatever stops a cell becomes an error output the student reads and a
:class:`~tapelab.grading.limits.CellStop` in the cell's metadata (``tapelab.stop``), which
the grading job reports. A cell past its CPU budget is interrupted and the next cell runs;
when the kernel is gone (killed for memory, for ignoring the interrupt, or dead) or the
notebook's budget is spent, every later code cell gets an error ``not run``: nbgrader then
scores the cells that finished and fails the rest. The notebook's metadata ``tapelab``
records the CPU seconds its cells used and the peak memory of its kernel.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode, default

from tapelab.grading import limits as lim
from tapelab.grading.kernel import SandboxedKernelManager, SandboxProvisioner


#: what a demonstration cell shows in the graded notebook and the feedback.
DEMO_NOT_RUN = ("[not run by the grader: a demonstration, worth no points, that runs when you run the "
                "notebook yourself]\n")


@dataclasses.dataclass(frozen=True)
class SourceMarks:
    """What the instructor's source notebook says about its cells, by nbgrader grade_id.

    budgets: CPU seconds of a heavy cell (``tapelab.cpu_seconds``).
    demos: read-only cells marked ``tapelab.demo``: demonstrations (training runs, pictures) that
        no graded cell needs. nbgrader restores a read-only cell from the source before grading,
        so nothing a student wrote is in one, and the grader does not run them.
    """

    budgets: dict[str, float] = dataclasses.field(default_factory=dict)
    demos: frozenset[str] = frozenset()


def is_demo(cell: dict) -> bool:
    """Whether a source cell is a demonstration the grader leaves unrun: a read-only cell, neither an
    answer nor a test, marked ``tapelab.demo``."""
    meta = cell.get("metadata", {})
    nbgrader = meta.get("nbgrader", {})
    return bool(nbgrader.get("grade_id")) and (meta.get("tapelab") or {}).get("demo") is True \
        and bool(nbgrader.get("locked")) and not nbgrader.get("grade") and not nbgrader.get("solution")


def source_marks(path: Path) -> SourceMarks:
    """The :class:`SourceMarks` of the source notebook at `path` (none when it cannot be read)."""
    try:
        cells = json.loads(Path(path).read_text()).get("cells", [])
    except (OSError, ValueError):
        return SourceMarks()
    budgets, demos = {}, set()
    for cell in cells:
        meta = cell.get("metadata", {})
        nbgrader, own = meta.get("nbgrader", {}), meta.get("tapelab") or {}
        grade_id = nbgrader.get("grade_id")
        seconds = own.get("cpu_seconds")
        if grade_id and isinstance(seconds, (int, float)) and seconds > 0:
            budgets[grade_id] = float(seconds)
        if is_demo(cell):
            demos.add(grade_id)
    return SourceMarks(budgets, frozenset(demos))


def graded_code(source: dict[str, bytes]) -> int:
    """Characters of code the grader runs in an assignment's source notebooks (demonstrations left out):
    a rough size of a job, so the longest start first and no worker idles at the end of a class."""
    total = 0
    for name, data in source.items():
        if not name.endswith(".ipynb"):
            continue
        try:
            cells = json.loads(data).get("cells", [])
        except ValueError:
            continue
        for cell in cells:
            if cell.get("cell_type") == "code" and not is_demo(cell):
                source_text = cell.get("source", "")
                total += len(source_text if isinstance(source_text, str) else "".join(source_text))
    return total


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _label(cell: NotebookNode, index: int) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


class BudgetedExecute(Execute):
    """nbgrader's Execute with CPU budgets per cell and per notebook (see the module docstring)."""

    cpu_seconds_per_cell = Float(lim.Limits.cpu_seconds_per_cell, help="CPU seconds a cell may use").tag(config=True)
    cpu_seconds_per_notebook = Float(lim.Limits.cpu_seconds_per_notebook,
                                     help="CPU seconds all cells of a notebook may use").tag(config=True)
    wall_factor = Float(lim.Limits.wall_factor,
                        help="a cell may run wall_factor x its CPU budget in wall-clock seconds").tag(config=True)
    source_folder = Unicode("", help="the assignment's source notebooks, for the budgets of heavy cells"
                            ).tag(config=True)
    skip_demos = Bool(True, help="leave the source's demonstration cells (tapelab.demo) unrun").tag(config=True)
    max_output_bytes = Integer(lim.Limits().output_chars,
                               help="characters of output kept per cell; the rest is dropped").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    @default("timeout_func")
    def _default_timeout_func(self):
        return self.wall_limit

    @property
    def sandbox(self) -> SandboxProvisioner | None:
        """The provisioner of the running kernel, when it is tapelab's (it watches the kernel)."""
        provisioner = getattr(self.km, "provisioner", None)
        return provisioner if isinstance(provisioner, SandboxProvisioner) else None

    def own_budget(self, cell: NotebookNode) -> float:
        """B_i: the CPU seconds of `cell`, from the source notebook or ``cpu_seconds_per_cell``."""
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return getattr(self, "_budgets", {}).get(grade_id, self.cpu_seconds_per_cell)

    def budget(self, cell: NotebookNode) -> float:
        """b_i: the CPU seconds `cell` may use now (its own, or what is left of the notebook's)."""
        return max(0.0, min(self.own_budget(cell), self.cpu_seconds_per_notebook - getattr(self, "_used", 0.0)))

    def wall_limit(self, cell: NotebookNode) -> int:
        """Wall-clock seconds `cell` may run (nbclient's ``timeout_func``)."""
        return max(1, math.ceil(self.wall_factor * self.budget(cell)))

    # ------------------------------------------------------------------------- the notebook

    def preprocess(self, nb, resources=None, km=None):  # type: ignore[override]
        name = ((resources or {}).get("nbgrader") or {}).get("notebook")
        folder = Path(self.source_folder) if self.source_folder else None
        marks = source_marks(folder / f"{name}.ipynb") if folder and name else SourceMarks()
        self._budgets, self._demos = marks.budgets, marks.demos if self.skip_demos else frozenset()
        self._used = 0.0
        self._stop: lim.CellStop | None = None  # what ended the kernel or the notebook's budget
        self._watchdog = None
        self._output_bytes: dict[int, int] = {}
        for cell in nb.cells:  # only the grader writes these
            cell.get("metadata", {}).pop("tapelab", None)
        nb, resources = super().preprocess(nb, resources, km)
        nb.metadata["tapelab"] = {"cpu_seconds": round(self._used, 2), "peak_memory_mb": round(
            self._watchdog.peak_memory_mb if self._watchdog is not None else 0.0)}
        return nb, resources

    def preprocess_cell(self, cell, resources, index):  # type: ignore[override]
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in getattr(self, "_demos", ()):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=DEMO_NOT_RUN)]
            return cell, self.resources
        if self._stop is None and self._used >= self.cpu_seconds_per_notebook:
            self._stop = lim.notebook_stop(_label(cell, index), self._used, self.cpu_seconds_per_notebook)
            cell.outputs = [_error("NotRun", self._stop.message)]
            self._record(cell, self._stop)
            return cell, self.resources
        if self._stop is not None:
            cell.outputs = [_error("NotRun", lim.NOT_RUN if self._stop.kind != "notebook" else self._stop.message)]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._end_cell()
            sandbox = self.sandbox
            stop = sandbox.stop_for(_label(cell, index)) if sandbox is not None else \
                lim.died(_label(cell, index), lim.DIED)
        except Exception as err:  # noqa: BLE001 - a kernel the student broke can fail in many ways
            self._end_cell()
            sandbox = self.sandbox
            if sandbox is not None and sandbox.killed_for is not None:
                stop = sandbox.stop_for(_label(cell, index))
            else:
                stop = lim.died(_label(cell, index), f"{lim.UNRESPONSIVE} ({type(err).__name__})")
                if sandbox is not None:
                    sandbox.kill_now()
        self._stop = stop
        cell.outputs.append(_error("KernelStopped", stop.message))
        self._record(cell, stop)
        return cell, self.resources

    # ------------------------------------------------------------------------- nbclient's hooks

    def on_cell_execute(self, **kwargs: Any) -> None:
        """Just before the cell runs: hand its budget to the watchdog."""
        cell = kwargs["cell"]
        self._budget = self.budget(cell)
        self._by_notebook = self._budget < self.own_budget(cell)
        sandbox = self.sandbox
        if sandbox is not None:
            self._watchdog = sandbox.watchdog
            sandbox.watch_cell(self._budget)

    def on_cell_executed(self, **kwargs: Any) -> None:
        """Just after the cell ran: what it used, and why it was stopped if it was."""
        cell, index, reply = kwargs["cell"], kwargs["cell_index"], kwargs.get("execute_reply") or {}
        used, interrupted = self._end_cell()
        content = reply.get("content", {})
        stop = None
        if interrupted:
            stop = lim.cpu_stop(_label(cell, index), used, self._budget,
                                notebook_budget=self.cpu_seconds_per_notebook if self._by_notebook else None)
        elif content.get("status") == "error" and content.get("ename") == "CellTimeoutError":
            stop = lim.wall_stop(_label(cell, index), self.wall_limit(cell), used)
            content.update(evalue=stop.message, traceback=[f"CellTimeoutError: {stop.message}"])
        super().on_cell_executed(**kwargs)
        if stop is not None:
            if interrupted:
                cell.outputs.append(_error("CellTimeoutError", stop.message))
            self._record(cell, stop)

    def _end_cell(self) -> tuple[float, bool]:
        sandbox = self.sandbox
        if sandbox is None:
            return 0.0, False
        used, interrupted = sandbox.end_cell()
        self._used += used
        return used, interrupted

    @staticmethod
    def _record(cell: NotebookNode, stop: lim.CellStop) -> None:
        cell.setdefault("metadata", {}).setdefault("tapelab", {})["stop"] = dataclasses.asdict(stop)

    def process_message(self, msg, cell, cell_index):  # type: ignore[override]
        """Keep at most ``max_output_bytes`` of output per cell; a flood of prints stays in the kernel."""
        if msg.get("msg_type") in ("stream", "display_data", "execute_result", "update_display_data"):
            content = msg.get("content", {})
            size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
            used = self._output_bytes.get(cell_index, 0) + size
            self._output_bytes[cell_index] = used
            # room for the line with which the kernel ends a cut output (tapelab.grading.output_cap)
            kept = self.max_output_bytes + len(lim.output_truncated(self.max_output_bytes))
            if used > kept:
                if used - size <= kept:
                    cell.outputs.append(NotebookNode(output_type="stream", name="stderr",
                                                     text=lim.output_truncated(self.max_output_bytes)))
                return None
        return super().process_message(msg, cell, cell_index)
