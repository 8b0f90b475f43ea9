"""Tests for tapelab.grading.budget: CPU budgets and the memory watch on real kernels, and through a grading job.

Thresholds are CPU seconds and MB, so they hold however busy the machine is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from tapelab.grading import sandbox
from tapelab.grading.budget import BudgetedExecute
from tapelab.grading.driver import Course
from tapelab.grading.limits import NOT_RUN, Limits

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(240)

#: a cell that burns `n` CPU seconds of the kernel.
BURN = "import time\n_t = time.process_time()\nwhile time.process_time() - _t < {n}:\n    pass"


def course_limits() -> Limits:
    return Limits.from_config(Course.from_config(REPO / "autograder" / "nbgrader_config.py").config)


def _run(sources: list[str], limits: Limits, scratch: Path, sandboxed: bool = True) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    config = Config(sandbox.nbgrader_config(scratch, limits, sandboxed=sandboxed))
    return BudgetedExecute(config=config).preprocess(nb, {})[0]


def _errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _stop(cell) -> dict | None:
    return cell.metadata.get("tapelab", {}).get("stop")


@pytest.mark.slow
def test_cell_within_budget_passes_on_an_oversubscribed_machine(tmp_path):
    """With five busy loops per core beside it, does a cell of 2 s of CPU pass under a budget of 3 s?

    Its wall-clock time is several times its CPU time here; only the CPU counts. The loops start
    when the kernel runs its first cell (it writes a file they wait for), so the load meets the cell.
    """
    cores = len(os.sched_getaffinity(0))
    loaded = tmp_path / "scratch" / "loaded"
    wait_then_spin = f"import os, time\nwhile not os.path.exists({str(loaded)!r}):\n    time.sleep(0.02)\nwhile True:\n    pass"
    # each in a session of its own: Linux shares CPU among sessions (autogroups) before processes
    busy = [subprocess.Popen([sys.executable, "-c", wait_then_spin], start_new_session=True)
            for _ in range(5 * cores)]
    try:
        nb = _run(["open('loaded', 'w').close()", BURN.format(n=2) + "\nprint('done')"],
                  Limits(cpu_seconds_per_cell=3, wall_factor=40), tmp_path / "scratch")
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()
    assert loaded.exists(), "the busy loops never started"
    assert [_errors(c) for c in nb.cells] == [[], []]
    assert _stdout(nb.cells[1]) == "done\n" and _stop(nb.cells[1]) is None
    assert 2 <= nb.metadata["tapelab"]["cpu_seconds"] < 3


@pytest.mark.slow
def test_long_loop_is_stopped_at_its_cpu_budget(tmp_path):
    """Is a 20 s CPU loop interrupted once it used its 5 s, told so in CPU seconds, and the next cell run?"""
    nb = _run(["x = 41", BURN.format(n=20), "print(x + 1)"], Limits(cpu_seconds_per_cell=5), tmp_path / "scratch")
    errors = _errors(nb.cells[1])
    assert errors[0].startswith("KeyboardInterrupt")
    assert errors[1].startswith("CellTimeoutError: this cell used ") and "s of CPU of its 5 s" in errors[1]
    stop = _stop(nb.cells[1])
    assert stop["kind"] == "cpu" and stop["limit"] == 5 and 5 <= stop["used"] < 8
    assert _stdout(nb.cells[2]) == "42\n"


@pytest.mark.slow
def test_notebook_budget_is_shared_by_its_cells(tmp_path):
    """Does a cell get only what is left of the notebook's CPU budget, and are the cells after it not run?"""
    nb = _run([BURN.format(n=1.5), BURN.format(n=20), "print('never')"],
              Limits(cpu_seconds_per_cell=2, cpu_seconds_per_notebook=3), tmp_path / "scratch")
    assert _errors(nb.cells[0]) == []
    assert "(what was left of the notebook's 3 s) and was interrupted" in _errors(nb.cells[1])[1]
    assert _errors(nb.cells[2]) == ["NotRun: not run: the notebook used up its 3 s of CPU"]
    assert _stop(nb.cells[2])["kind"] == "notebook" and nb.metadata["tapelab"]["cpu_seconds"] >= 3


def test_reserved_but_untouched_memory_is_not_counted(tmp_path):
    """Does a cell that reserves 4 GB of address space and touches 200 MB of it pass under the course's limits?"""
    limits = course_limits()
    nb = _run(["import mmap\nm = mmap.mmap(-1, 4 << 30)\nfor i in range(0, 200 << 20, 4096):\n    m[i] = 1\n"
               "print('touched')"], limits, tmp_path / "scratch")
    assert _errors(nb.cells[0]) == [] and _stdout(nb.cells[0]) == "touched\n"
    assert 200 <= nb.metadata["tapelab"]["peak_memory_mb"] < limits.memory_mb


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
def test_touching_more_than_the_limit_stops_the_kernel(tmp_path, sandboxed):
    """Is a kernel that touches 900 MB under a 600 MB limit stopped, with the memory message, later cells not run?"""
    # The cell holds the memory a while: on a busy machine the loop may end before the watchdog's next look.
    nb = _run(["import mmap, time\nm = mmap.mmap(-1, 900 << 20)\nfor i in range(0, 900 << 20, 4096):\n    m[i] = 1\n"
               "time.sleep(30)", "print('after')"], Limits(memory_mb=600), tmp_path / "scratch", sandboxed=sandboxed)
    [error] = _errors(nb.cells[0])
    assert error.startswith("KernelStopped: the kernel used ")
    assert error.endswith(" MB of memory, over its limit of 600 MB, and was stopped; later cells did not run")
    # at most the 900 MB touched and the kernel's own (a Python kernel alone holds well under 200 MB)
    assert _stop(nb.cells[0])["kind"] == "memory" and 600 < _stop(nb.cells[0])["used"] < 900 + 200
    assert _errors(nb.cells[1]) == [f"NotRun: {NOT_RUN}"]


@pytest.mark.slow
def test_tensorflow_and_matplotlib_stay_far_below_the_limit(tmp_path, monkeypatch):
    """Does a kernel that imports TensorFlow, Keras and matplotlib, trains a little and plots stay under half
    the course's memory limit (resident memory, as the watchdog saw it at its peak)?"""
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, "1")  # as every graded kernel has it
    limits = course_limits()
    nb = _run([
        "import numpy as np, tensorflow as tf, keras, matplotlib\nmatplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt",
        "x = np.random.default_rng(0).random((256, 4), dtype='float32')\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation='relu'),\n"
        "                          keras.layers.Dense(1)])\n"
        "model.compile('adam', 'mse')\nhistory = model.fit(x, x.sum(1), epochs=3, verbose=0)",
        "fig, ax = plt.subplots()\nax.plot(history.history['loss'])\nfig.savefig('loss.png')\nprint('plotted')",
    ], limits, tmp_path / "scratch")
    assert [_errors(c) for c in nb.cells] == [[], [], []]
    assert _stdout(nb.cells[2]) == "plotted\n"
    assert 300 < nb.metadata["tapelab"]["peak_memory_mb"] < limits.memory_mb / 2


def _meta(**nbgrader) -> dict:
    return {"nbgrader": {"schema_version": 3, "solution": False, "grade": False, "locked": False, "task": False,
                         **nbgrader}}


def _heavy_source() -> nbformat.NotebookNode:
    """A source notebook whose test_heavy gets 4 s of CPU from its metadata; the others keep the default 1 s."""
    heavy = new_code_cell('"""Does the heavy check finish?"""\n' + BURN.format(n=1.5),
                          metadata=_meta(grade=True, locked=True, grade_id="test_heavy", points=1))
    heavy.metadata["tapelab"] = {"cpu_seconds": 4}
    nb = new_notebook(cells=[
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata=_meta(solution=True,
                                                                                          grade_id="spin")),
        heavy,
        new_code_cell('"""Does the light check finish?"""\n' + BURN.format(n=1.5),
                      metadata=_meta(grade=True, locked=True, grade_id="test_light", points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    return nb


@pytest.mark.slow
def test_heavy_cell_budget_comes_from_the_source_only():
    """Graded as a job, does a test cell get the budget its source notebook gives it, while budgets a student
    writes into their own copy's metadata change nothing?"""
    from tapelab.grading.jobs import GRADED, JobSpec, grade_job

    source = _heavy_source()
    student = nbformat.from_dict(json.loads(nbformat.writes(source)))
    student.cells[0].source = BURN.format(n=1.5)  # the student's answer spins
    for cell in student.cells:  # and asks for more time everywhere
        cell.metadata["tapelab"] = {"cpu_seconds": 1000, "stop": {"kind": "cpu"}}
    spec = JobSpec("sam", "heavy", {"heavy.ipynb": nbformat.writes(student).encode()},
                   {"heavy.ipynb": nbformat.writes(source).encode()},
                   limits=Limits(cpu_seconds_per_cell=1, wall_factor=30), allow_unsandboxed=True)
    result = grade_job(spec)
    assert result.status == GRADED, result.messages
    assert result.scores == {"test_heavy": 1.0, "test_light": 0.0}
    assert [(s.cell, s.kind, s.limit, s.notebook) for s in result.stops] == [
        ("spin", "cpu", 1.0, "heavy"), ("test_light", "cpu", 1.0, "heavy")]
    assert re.fullmatch(r"heavy: spin used 1(\.\d)? s of CPU of its 1 s", result.reason), result.reason
    light = next(c for c in result.cells if c.grade_id == "test_light")
    assert re.match(r"CellTimeoutError: this cell used 1(\.\d)? s of CPU of its 1 s and was interrupted",
                    light.message), light.message


@pytest.mark.slow
def test_a_flood_of_prints_costs_its_cell_only(tmp_path):
    """Does a cell printing 1 MB lines forever stop at its CPU budget, its output cut at the cap, with
    the kernel's memory nowhere near its limit and the next cell run?

    Without the cut in the kernel, ipykernel buffers what the grader has not read yet and the
    kernel passes 600 MB within a second of such a loop, sooner the slower the grader reads.
    """
    flood = "line = 'x' * (1 << 20)\nwhile True:\n    print(line)"
    nb = _run([flood, "print('next')"], Limits(cpu_seconds_per_cell=3, memory_mb=600), tmp_path / "scratch")
    flooded, after = nb.cells
    assert _stop(flooded)["kind"] == "cpu" and not _stop(flooded)["kernel_stopped"]
    printed = _stdout(flooded)
    assert printed.count("output truncated") == 1 and len(printed) <= Limits().output_chars + 100
    assert _stdout(after) == "next\n" and _errors(after) == []


def _source_cell(source: str, grade_id: str, **marks) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": marks.pop("locked", True),
                                 "schema_version": 3, "solution": False, "task": False}
    cell.metadata["tapelab"] = marks
    return cell


def test_source_marks_read_the_instructors_notebook(tmp_path):
    """Are the budgets and the demonstrations read from the source notebook, a demonstration counting only
    when it is read-only (nbgrader restores such a cell, so no student code is in it)?"""
    from tapelab.grading.budget import SourceMarks, source_marks

    nb = new_notebook(cells=[_source_cell("train()", "demo_train", demo=True),
                             _source_cell("x = 1", "unlocked_demo", demo=True, locked=False),
                             _source_cell("heavy()", "heavy_test", cpu_seconds=90)])
    nbformat.write(nb, tmp_path / "toy.ipynb")
    assert source_marks(tmp_path / "toy.ipynb") == SourceMarks({"heavy_test": 90.0}, frozenset({"demo_train"}))
    assert source_marks(tmp_path / "missing.ipynb") == SourceMarks()


@pytest.mark.slow
def test_demonstrations_are_not_run_when_graded(tmp_path):
    """Does a cell the source marks as a demonstration stay unrun, with a note, while the cells around it run
    (and run it when skip_demos is off)?"""
    from tapelab.grading.budget import DEMO_NOT_RUN

    source = tmp_path / "source"
    source.mkdir()
    cells = [new_code_cell("x = 1"), _source_cell("print('training'); x = 2", "demo_train", demo=True),
             new_code_cell("print(x)")]
    nbformat.write(new_notebook(cells=cells), source / "toy.ipynb")
    student = new_notebook(cells=[nbformat.from_dict(c) for c in cells])
    student.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for skip, printed in ((True, ["", DEMO_NOT_RUN, "1\n"]), (False, ["", "training\n", "2\n"])):
        config = Config(sandbox.nbgrader_config(tmp_path / "scratch", Limits()))
        config.BudgetedExecute.source_folder = str(source)
        config.BudgetedExecute.skip_demos = skip
        nb = BudgetedExecute(config=config).preprocess(nbformat.from_dict(student), {"nbgrader": {"notebook": "toy"}})[0]
        assert [_stdout(c) for c in nb.cells] == printed
