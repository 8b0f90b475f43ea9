"""One grading job: one student's submission of one assignment, graded in private.

A job carries everything it needs (a :class:`~tapelab.grading.results.JobSpec`: the
submitted files and the assignment's source notebooks, as bytes), so any worker with the
kit installed at the same pins can run it. :func:`grade_job` builds a temporary nbgrader
course directory with its own gradebook, runs ``nbgrader autograde`` and
``generate_feedback`` there in a separate process (its own session and process group, a
wall-clock limit; forked from the worker's :mod:`~tapelab.grading.zygote`, which has
imported nbgrader already) and returns a picklable :class:`~tapelab.grading.results.JobResult`.
Jobs share no files; only the driver writes the course gradebook.

Determinism: every graded kernel starts from the same environment: PYTHONHASHSEED
and TAPELAB_SEED set to the job's seed, TensorFlow's deterministic ops and one
thread, so grading the same submission twice gives the same scores.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from tapelab import environment
from tapelab.grading import containment, processes
from tapelab.grading.limits import CellStop
from tapelab.grading.provenance import check_same_kit, kit_fingerprint
# The result types live in tapelab.grading.results; their names stay importable from here.
from tapelab.grading.results import (FAILED, GRADED, NOT_GRADABLE, CellScore, JobResult, JobSpec,  # noqa: F401
                                     stop_message)
from tapelab.grading.zygote import Zygote

#: seconds a job gets on top of its notebooks' budgets (interpreter, nbgrader, feedback HTML).
STARTUP_SLACK_S = 120


def grading_env(seed: int, threads: int, job_dir: Path) -> dict[str, str]:
    """The environment of the grading process and hence of every graded kernel."""
    env = dict(os.environ)
    env.update(environment.TENSORFLOW)
    env.update({
        "PYTHONHASHSEED": str(seed),
        "TAPELAB_SEED": str(seed),
        "TF_DETERMINISTIC_OPS": "1",
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_RUNTIME_DIR": str(job_dir / "runtime"),
        "IPYTHONDIR": str(job_dir / "ipython"),
        "PATH": environment.scripts_first(os.environ.get("PATH")),
    })
    return env


def max_points(source: dict[str, bytes]) -> float:
    """Sum of the points of the graded cells of the source notebooks."""
    total = 0.0
    for name, data in source.items():
        if not name.endswith(".ipynb"):
            continue
        for cell in json.loads(data).get("cells", []):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") or meta.get("task"):
                total += float(meta.get("points", 0))
    return total


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = (root / rel).resolve()
        if root.resolve() not in path.parents:
            raise ValueError(f"file name {rel!r} leaves its folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _check_input(spec: JobSpec, course: Path) -> tuple[list[str], list[str]]:
    """(gradable notebooks, messages): unreadable notebooks are removed from the grader's copy
    (nbgrader scores a missing notebook 0), tampered ones repaired against the source."""
    submitted = course / "submitted" / spec.student / spec.assignment
    source = course / "source" / spec.assignment
    expected = sorted(n for n in spec.source if n.endswith(".ipynb") and "/" not in n)
    gradable, messages = containment.inspect_submission(submitted, expected)
    for name in expected:
        if name not in gradable and (submitted / name).exists():
            (submitted / name).unlink()
    for name in gradable:
        try:
            messages += containment.check_tampering(submitted / name, source / name)
        except Exception as err:  # noqa: BLE001 - a notebook nbgrader can still grade
            messages.append(f"{name}: the tamper check could not run ({type(err).__name__}: {err})")
    return gradable, messages


def grade_job(spec: JobSpec) -> JobResult:
    """Grade one (student, assignment) with nbgrader in a private course directory.

    Never raises for anything a student can cause: an unreadable notebook, a timeout,
    a dead kernel or a crash of the grading process become messages of the result.
    It raises :class:`~tapelab.grading.provenance.VersionMismatch` when this worker's
    kit differs from the driver's, and :class:`~tapelab.grading.containment.SandboxUnavailable`
    when student code would run unsandboxed without the instructor's opt-out.
    """
    started = time.monotonic()
    kit = kit_fingerprint()
    if spec.kit is not None:
        check_same_kit(spec.kit, kit, f"{socket.gethostname()} (pid {os.getpid()})")
    sandbox = containment.check_sandbox(spec.allow_unsandboxed)
    result = JobResult(student=spec.student, assignment=spec.assignment, status=FAILED, score=0.0,
                       max_score=max_points(spec.source), submission_hash=spec.submission_hash, key=spec.key,
                       kit=kit, worker=f"{socket.gethostname()}:{os.getpid()}", containment=sandbox.note)
    job_dir = Path(tempfile.mkdtemp(prefix="tapelab-job-"))
    try:
        course = job_dir / "course"
        submitted = course / "submitted" / spec.student / spec.assignment
        _write(course / "source" / spec.assignment, spec.source)
        _write(submitted, spec.submission)
        gradable, messages = _check_input(spec, course)
        result.messages.extend(messages)
        if not gradable:
            result.status = NOT_GRADABLE
            return result
        config = _job_config(spec.config)
        scratch = job_dir / "scratch"
        scratch.mkdir()
        for section, values in containment.kernel_config(scratch, spec.limits, sandboxed=sandbox.sandboxed).items():
            config.setdefault(section, {}).update(values)
        steps = ["autograde", "generate_feedback"]
        if spec.gradebook:
            (course / "gradebook.db").write_bytes(spec.gradebook)
        else:
            steps.insert(0, "generate_assignment")
        notebooks = max(1, sum(n.endswith(".ipynb") for n in spec.source))
        wall = round(spec.limits.notebook_wall_s * notebooks + STARTUP_SLACK_S)
        returncode = _run(job_dir, {
            "student": spec.student, "assignment": spec.assignment, "config": config, "steps": steps,
        }, grading_env(spec.seed, spec.threads, job_dir), wall)
        if returncode is None:
            result.messages.append(f"grading stopped after the wall-clock limit of {wall} s; no score recorded")
            return result
        _collect(result, job_dir, returncode)
        return result
    finally:
        result.seconds = time.monotonic() - started
        shutil.rmtree(job_dir, ignore_errors=True)


def _job_config(course_config: dict) -> dict:
    """The course's nbgrader config without its folder layout (a job has its own)."""
    config = {k: dict(v) for k, v in course_config.items() if k != "CourseDirectory"}
    layout = course_config.get("CourseDirectory", {})
    config["CourseDirectory"] = {k: v for k, v in layout.items() if k in ("course_id", "ignore")}
    return config


@functools.cache
def worker_zygote() -> Zygote:
    """This worker process's zygote (started on its first fork).

    One per process, shared by its jobs; ``worker_zygote().close()`` ends it and the grading
    processes it forked, and ``worker_zygote.cache_clear()`` makes the next call start a new one.
    """
    return Zygote(grading_env(0, 1, Path(tempfile.gettempdir())))


def _run(job_dir: Path, job: dict, env: dict[str, str], wall: float) -> int | None:
    """Run the grading process on `job_dir`; its exit status, or None when it hit the wall-clock limit."""
    (job_dir / "job.json").write_text(json.dumps(job))
    forked = worker_zygote().fork(job_dir, env)
    try:
        if not forked.wait(wall):
            processes.kill_tree(forked.pid, group=True)
            return None
    finally:
        forked.close()
    try:
        return int((job_dir / "exit").read_text())
    except (OSError, ValueError):
        return -1


def record_assignment(assignment: str, source: dict[str, bytes], config: dict | None = None) -> bytes:
    """A gradebook recording `assignment` from its source files (``nbgrader generate_assignment``).

    Raises RuntimeError with nbgrader's last message when the source cannot be recorded.
    """
    job_dir = Path(tempfile.mkdtemp(prefix="tapelab-record-"))
    try:
        _write(job_dir / "course" / "source" / assignment, source)
        config = _job_config(config or {})
        returncode = _run(job_dir, {"student": "", "assignment": assignment, "config": config,
                                    "steps": ["generate_assignment"]},
                          grading_env(0, 1, job_dir), STARTUP_SLACK_S)
        found = json.loads((job_dir / "result.json").read_text()) if (job_dir / "result.json").exists() else {}
        step = found.get("steps", {}).get("generate_assignment", {})
        if returncode != 0 or not step.get("success"):
            lines = (step.get("error") or step.get("log") or f"exit status {returncode}").strip().splitlines()
            raise RuntimeError(f"nbgrader generate_assignment failed for {assignment}: {lines[-1] if lines else ''}")
        return (job_dir / "course" / "gradebook.db").read_bytes()
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _cause(text: str) -> str:
    """The most specific exception line of an nbgrader traceback (it ends with a generic one)."""
    lines = [line.strip() for line in text.splitlines()
             if re.match(r"^\s*[\w.]+(Error|Exception|Kernel\w*): ", line) and "Please see the" not in line]
    return lines[-1] if lines else (text.strip().splitlines() or ["no message"])[-1]


def _collect(result: JobResult, job_dir: Path, returncode: int) -> None:
    """Fill `result` from what the grading process left in `job_dir`."""
    path = job_dir / "result.json"
    if not path.exists():
        tail = (job_dir / "runner.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        result.messages.append(f"the grading process ended (exit {returncode}) without a result: {tail[0]}")
        return
    found = json.loads(path.read_text())
    result.steps = {step: round(outcome["seconds"], 2) for step, outcome in found["steps"].items()}
    for step, outcome in found["steps"].items():
        if not outcome["success"]:
            result.messages.append(f"nbgrader {step} failed: {_cause(outcome['error'] + chr(10) + outcome['log'])}")
            if step != "generate_feedback":
                return
    course = job_dir / "course"
    result.records = {"notebooks": found["notebooks"]}
    submitted_any = False
    for nb in found["notebooks"]:
        submitted_any |= nb["submitted"]
        max_scores = {c["name"]: c["max_score"] for c in nb["grade_cells"] + nb["task_cells"]}
        for grade in nb["grades"]:
            result.cells.append(CellScore(nb["name"], grade["name"], float(grade["auto_score"] or 0.0),
                                          float(max_scores.get(grade["name"], 0.0)), grade["error"]))
        stops = [CellStop(**stop) for stop in nb["stops"]]
        result.stops += stops
        result.messages.extend(stop_message(stop) for stop in stops)
        for kind, folder in (("autograded", "autograded"), ("feedback", "feedback")):
            ext = ".ipynb" if kind == "autograded" else ".html"
            file = course / folder / result.student / result.assignment / f"{nb['name']}{ext}"
            if file.exists():
                getattr(result, kind)[f"{nb['name']}{ext}"] = file.read_bytes()
    result.score = sum(c.score for c in result.cells)
    result.max_score = sum(c.max_score for c in result.cells) or result.max_score
    if not submitted_any:
        result.status = NOT_GRADABLE
        if not result.messages:
            result.messages.append("no notebook submitted")
    else:
        result.status = GRADED
