"""Grading the sample class: the kit's parallel grader against plain sequential `nbgrader autograde`.

Both grade autograder/samples/submissions in fresh copies of the course, in this
process's run, on this machine:

- baseline: ``nbgrader autograde <assignment>`` for each assignment, one after the
  other (nbgrader grades one notebook at a time), given as many wall-clock seconds per cell
  as the course gives a cell CPU seconds (on an idle machine the two agree);
- the kit: :func:`tapelab.grading.driver.grade_class` on a LocalCluster of 2 workers
  (one per core here), which also writes the feedback HTML and the CSV.

The floor of any notebook with TensorFlow is starting a kernel and importing
TensorFlow in it (``kernel_tf_import_seconds``). ``grade_overhead_vs_floor`` is
what grading one notebook costs beyond the work its own cells ask for (the
cells after the imports that the grader runs, demonstrations left out: the student's code and the tests,
``own_compute_seconds_per_notebook``), over that floor; ``import_cell_seconds_per_notebook``
is the part of it the notebooks' first cell takes (TensorFlow and whatever else it imports).
The kit grades with every core busy, which slows importing TensorFlow too:
``kernel_tf_import_seconds_at_once`` is the floor with one kernel per worker starting at
once, and ``grade_overhead_vs_floor_at_once`` the overhead over that. From the kit's seconds
per notebook the benchmark says how many worker cores grade 1,400 students × 4
notebooks in one hour.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "autograder" / "samples"
WORKERS = 2


def _course(root: Path) -> Path:
    shutil.copytree(REPO / "solutions", root / "solutions")
    (root / "autograder").mkdir()
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", root / "autograder")
    return root / "autograder" / "nbgrader_config.py"


def _env() -> dict[str, str]:
    from tapelab import environment

    return dict(environment.apply(dict(os.environ)))


def _kernel_tf_import(folder: Path) -> float:
    """Seconds to start a Python kernel (IPC sockets in `folder`, as the graded kernels use) and import TensorFlow."""
    from jupyter_client.manager import KernelManager

    started = time.perf_counter()
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(folder / "kernel"))
    km.start_kernel(env=_env())
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive("import tensorflow as tf", timeout=300)
        assert reply["content"]["status"] == "ok", reply["content"]
        return time.perf_counter() - started
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def kernel_tf_import_seconds() -> float:
    """Seconds to start a Python kernel and import TensorFlow in it, on an idle machine (best of 2)."""
    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as tmp:
        return min(_kernel_tf_import(Path(tempfile.mkdtemp(dir=tmp))) for _ in range(2))


def kernel_tf_import_seconds_at_once(n: int = WORKERS) -> float:
    """The same floor with `n` kernels started and importing TensorFlow at once, one per worker (their mean).

    That is the floor under the load the local cluster grades with: every core busy.
    """
    procs = [subprocess.Popen([sys.executable, __file__, "--floor-once"], stdout=subprocess.PIPE, text=True,
                              env=_env()) for _ in range(n)]
    seconds = [float(p.communicate()[0].split()[-1]) for p in procs]
    return sum(seconds) / len(seconds)


def plain_nbgrader_seconds(cell_timeout: int) -> float:
    """Sequential `nbgrader autograde` of the sample class, one assignment after the other."""
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        root = Path(tmp)
        _course(root)
        shutil.copytree(SAMPLES / "submissions", root / "autograder" / "submitted")
        assignments = sorted({p.name for p in (root / "autograder" / "submitted").glob("*/*")})
        started = time.perf_counter()
        for assignment in assignments:
            for args in (["generate_assignment", assignment, "--force"],
                         ["autograde", assignment, "--force", f"--Execute.timeout={cell_timeout}"]):
                subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root / "autograder", env=_env(),
                               capture_output=True, check=False)
        return time.perf_counter() - started


def kit_report():
    """The kit's ClassReport for the sample class on a LocalCluster of WORKERS workers, with the course's limits."""
    from tapelab.grading.driver import grade_class

    with tempfile.TemporaryDirectory(prefix="bench-kit-") as tmp:
        config = _course(Path(tmp))
        return grade_class(SAMPLES / "submissions", config=config, workers=WORKERS, regrade=True,
                           allow_unsandboxed=True)


def _seconds(execution: dict) -> float:
    """A cell's run time from the timing nbclient records in its metadata (0 when it did not run)."""
    from datetime import datetime

    try:
        start, end = execution["iopub.execute_input"], execution["shell.execute_reply"]
    except KeyError:
        return 0.0
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def cell_seconds(result) -> tuple[float, float]:
    """Seconds the graded notebooks spent in their first code cell (the imports) and in the others.

    The others are the work the student's code and the tests ask for; what is left of the
    job's time is the cost of grading: the kernel, the imports, nbgrader, the sandbox, the feedback.
    Demonstrations are left out: the grader does not run them, and the timing they keep is the
    one nbgrader restored from the source notebook with the rest of a read-only cell.
    """
    from tapelab.grading.budget import source_marks

    imports = own = 0.0
    for name, data in result.autograded.items():
        if name.endswith(".ipynb"):
            demos = source_marks(REPO / "solutions" / result.assignment / name).demos
            code = [c for c in json.loads(data)["cells"] if c["cell_type"] == "code"
                    and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in demos]
            times = [_seconds(c.get("metadata", {}).get("execution", {})) for c in code]
            imports += sum(times[:1])
            own += sum(times[1:])
    return imports, own


def run() -> dict:
    from tapelab.grading.driver import Course
    from tapelab.grading.limits import Limits

    course = Course.from_config(REPO / "autograder" / "nbgrader_config.py")
    cell_timeout = math.ceil(Limits.from_config(course.config).cpu_seconds_per_cell)
    floor = kernel_tf_import_seconds()
    floor_at_once = kernel_tf_import_seconds_at_once()
    report = kit_report()
    kit = report.seconds
    baseline = plain_nbgrader_seconds(cell_timeout)
    # per notebook on one worker core: graded notebooks that ran to the end (no cell stopped)
    normal = [r for r in report.results.values() if r.status == "graded" and not r.stops]
    per_notebook = sum(r.seconds for r in normal) / len(normal)
    imports, own_compute = (sum(part) / len(normal) for part in zip(*(cell_seconds(r) for r in normal)))
    cores = math.ceil(1400 * 4 * per_notebook / 3600)
    return {
        "grade_speedup_vs_nbgrader": baseline / kit,
        "grade_seconds_local_cluster": kit,
        "grade_seconds_plain_nbgrader": baseline,
        "seconds_per_notebook_graded": per_notebook,
        "kernel_tf_import_seconds": floor,
        "import_cell_seconds_per_notebook": imports,
        "own_compute_seconds_per_notebook": own_compute,
        "grade_overhead_vs_floor": (per_notebook - own_compute) / floor,
        "kernel_tf_import_seconds_at_once": floor_at_once,
        "grade_overhead_vs_floor_at_once": (per_notebook - own_compute) / floor_at_once,
        "worker_cores_for_1400x4_in_1h": cores,
        "grading_capacity": (f"1,400 students x 4 notebooks in one hour need {cores} worker cores "
                             f"at {per_notebook:.1f} s per notebook ({report.containment.split(':')[0]} kernels, "
                             f"{len(report.results)} sample notebooks, {WORKERS} local workers)"),
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--floor-once"]:
        with tempfile.TemporaryDirectory(prefix="bench-kernel-") as folder:
            print(_kernel_tf_import(Path(folder)))
        sys.exit(0)
    for key, value in run().items():
        print(f"{key:<34} {value}")
