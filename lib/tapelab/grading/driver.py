"""Grading a class: collect, grade every (student, assignment) on the cluster, merge, export.

:func:`grade_class` is what ``make grade`` and ``make demo`` run. It reads the
course layout from the kit's nbgrader config (autograder/nbgrader_config.py),
collects the submissions, reuses cached results of unchanged submissions,
sends the other jobs to Dask (:mod:`tapelab.grading.cluster`), and as each
result arrives caches it, merges it into the course gradebook (the only writer),
keeps what the gradebook does not hold (failure messages, stopped cells, grading
time: :mod:`tapelab.grading.findings`) and the tokenized answer cells
(:mod:`tapelab.grading.answer_cells`) for the class report, and writes the
autograded notebook and feedback HTML in nbgrader's layout. Finally it exports
the grades: nbgrader's CSV and the Canvas and Moodle import files
(:mod:`tapelab.grading.lms`). Nothing is written before the cluster is reachable
and every worker runs the driver's kit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tapelab.grading import answer_cells, cache, cluster, findings, gradebook, lms, revisions
from tapelab.grading.budget import graded_code
from tapelab.grading.collect import Submission, assignments, collect, source_files
from tapelab.grading.containment import Limits, check_sandbox
from tapelab.grading.jobs import FAILED, NOT_GRADABLE, JobResult, JobSpec, max_points
from tapelab.grading.provenance import kit_fingerprint


@dataclass
class Course:
    """Where a course keeps its sources and grading folders (from its nbgrader config)."""

    root: Path
    source: Path
    submitted: Path
    autograded: Path
    feedback: Path
    gradebook: Path
    config: dict = field(default_factory=dict)
    release: Path | None = None

    @property
    def jobs(self) -> Path:
        """The cache of graded jobs."""
        return self.gradebook.parent / ".jobs"

    @property
    def findings(self) -> Path:
        """What grading found beyond the grades, per (student, assignment)."""
        return self.jobs / "findings"

    @property
    def answers(self) -> Path:
        """The tokenized answer cells of every submission, for comparing students."""
        return self.jobs / "answers"

    @property
    def csv(self) -> Path:
        return self.gradebook.parent / "grades.csv"

    @property
    def canvas_csv(self) -> Path:
        return self.gradebook.parent / "grades_canvas.csv"

    @property
    def moodle_csv(self) -> Path:
        return self.gradebook.parent / "grades_moodle.csv"

    @property
    def report(self) -> Path:
        """The folder of the class report (index.html)."""
        return self.gradebook.parent / "report"

    @classmethod
    def from_config(cls, path: Path) -> Course:
        """Read the layout and the grading config sections from an nbgrader_config.py."""
        from traitlets.config.loader import PyFileConfigLoader

        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no nbgrader config at {path}: expected the kit's autograder/nbgrader_config.py")
        config = _plain(PyFileConfigLoader(path.name, path=str(path.parent)).load_config(), path)
        layout = config.get("CourseDirectory", {})
        root = Path(layout.get("root") or path.parent)
        url = layout.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
        return cls(root=root, source=root / layout.get("source_directory", "source"),
                   submitted=root / layout.get("submitted_directory", "submitted"),
                   autograded=root / layout.get("autograded_directory", "autograded"),
                   feedback=root / layout.get("feedback_directory", "feedback"),
                   gradebook=Path(url.removeprefix("sqlite:///")), config=config,
                   release=root / layout.get("release_directory", "release"))


def _plain(config, path: Path) -> dict:
    """Config sections as JSON-able data, which is what reaches the grading workers.

    A value that JSON cannot carry (a class object, a function, ``c.X.y.append(...)``) is
    refused with its name: left out, the workers would grade under another config than
    ``nbgrader autograde`` reading the same file.
    """
    out: dict = {}
    for section, values in config.items():
        if not hasattr(values, "items"):
            continue
        for key, value in values.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path} sets {section}.{key} to {value!r} ({type(value).__name__}), which the grading "
                    "workers cannot receive: write it as plain strings, numbers, lists and dicts (a class by "
                    "its import name, e.g. 'nbgrader.preprocessors.GetGrades', and a list whole, not with "
                    ".append)") from None
        out[section] = dict(values)
    return out


@dataclass
class ClassReport:
    """The outcome of grading a class."""

    results: dict[tuple[str, str], JobResult]
    problems: list[str]
    graded: int
    reused: int
    course: Course
    workers: int = 0
    dashboard: str | None = None
    containment: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results.values() if r.status == FAILED]


def failure(spec: JobSpec, err: BaseException) -> JobResult:
    """The result of a job that failed on every try."""
    name = type(err).__name__
    if name == "KilledWorker":
        reason = "the workers running it died on every try (killed, or out of memory)"
    else:
        reason = f"{name}: {str(err).strip().splitlines()[0] if str(err).strip() else 'no message'}"
    return JobResult(student=spec.student, assignment=spec.assignment, status=FAILED, score=0.0,
                     max_score=max_points(spec.source), messages=[f"grading failed on every try: {reason}"],
                     submission_hash=spec.submission_hash, key=spec.key)


def _write_outputs(course: Course, submission: Submission, result: JobResult) -> None:
    """Submitted copy, autograded notebooks and feedback HTML in nbgrader's layout."""
    where = (submission.student, submission.assignment)
    submitted = course.submitted.joinpath(*where)
    if submission.origin and Path(submission.origin).resolve() != submitted.resolve():
        for rel, data in submission.files.items():
            (submitted / rel).parent.mkdir(parents=True, exist_ok=True)
            (submitted / rel).write_bytes(data)
    for folder, files in ((course.autograded, result.autograded), (course.feedback, result.feedback)):
        for name, data in files.items():
            target = folder.joinpath(*where, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def grade_class(submissions: Path, *, config: Path, scheduler: str | None = None, workers: int | None = None,
                student: str | None = None, regrade: bool = False, limits: Limits | None = None,
                allow_unsandboxed: bool = False, seed: int = 0, replace_changed: bool = False,
                on_start: Callable[[int, int, str | None], None] | None = None,
                on_result: Callable[[JobResult, bool], None] | None = None) -> ClassReport:
    """Grade every submission under `submissions` (folder or zip) of the course configured by `config`.

    `limits` default to the ``Limits`` section of the course config. An assignment whose source
    has other cells than the gradebook records with submissions (:mod:`tapelab.grading.revisions`)
    is refused with a ValueError, or, with `replace_changed`, removed from the gradebook and recorded
    anew.
    `on_start(jobs_to_grade, workers, dashboard)` is called once the cluster is up;
    `on_result(result, reused)` once per (student, assignment). Raises
    :class:`~tapelab.grading.cluster.SchedulerUnreachable`,
    :class:`~tapelab.grading.provenance.VersionMismatch` or
    :class:`~tapelab.grading.containment.SandboxUnavailable` before writing anything.
    """
    started = time.monotonic()
    course = Course.from_config(config)
    known = assignments(course.source)
    found = collect(submissions, known, student=student)
    limits = limits or Limits.from_config(course.config)
    kit = kit_fingerprint()
    sources = {a: source_files(course.source, a) for a in {s.assignment for s in found.submissions}}
    changed = revisions.changed_assignments(course.gradebook, sources)
    if changed and not replace_changed:
        raise ValueError(revisions.refusal(changed))
    specs = {(s.student, s.assignment): JobSpec(s.student, s.assignment, s.files, sources[s.assignment],
                                                config=course.config, limits=limits,
                                                allow_unsandboxed=allow_unsandboxed, seed=seed, kit=kit)
             for s in found.submissions}
    by_key = {(s.student, s.assignment): s for s in found.submissions}
    results: dict[tuple[str, str], JobResult] = {}
    todo = []
    for where, spec in specs.items():
        hit = None if regrade else cache.load(course.jobs, spec.key)
        if hit is None:
            todo.append(spec)
        else:
            results[where] = hit
    # The biggest notebooks first, so that no worker idles while another grades the last long one.
    size = {a: graded_code(files) for a, files in sources.items()}
    todo.sort(key=lambda spec: -size[spec.assignment])
    report = ClassReport(results=results, problems=found.problems, graded=len(todo),
                         reused=len(results), course=course)
    if todo:
        if scheduler is None:
            report.containment = check_sandbox(allow_unsandboxed).note
        with cluster.connect(scheduler, workers=workers) as client:
            report.workers = cluster.check_workers(client, kit)
            report.dashboard = cluster.dashboard(client)
            if on_start:
                on_start(len(todo), report.workers, report.dashboard)
            templates = cluster.record_assignments(client, {a: sources[a] for a in {s.assignment for s in todo}},
                                                   course.config)
            for spec in todo:
                spec.gradebook = templates[spec.assignment]
            revisions.replace_assignments(course.gradebook, [c.assignment for c in changed])
            for where, result in list(results.items()):
                _merge(course, by_key[where], result, on_result, reused=True)
            for spec, outcome in cluster.run_jobs(client, todo):
                result = outcome if isinstance(outcome, JobResult) else failure(spec, outcome)
                results[(spec.student, spec.assignment)] = result
                cache.save(course.jobs, result)
                _merge(course, by_key[(spec.student, spec.assignment)], result, on_result, reused=False)
    else:
        revisions.replace_assignments(course.gradebook, [c.assignment for c in changed])
        for where, result in results.items():
            _merge(course, by_key[where], result, on_result, reused=True)
    for result in results.values():  # zeros need the assignment's record, which another job may bring
        if result.status == NOT_GRADABLE:
            gradebook.merge(course.gradebook, result,
                            course_id=course.config.get("CourseDirectory", {}).get("course_id"))
    if results:
        gradebook.export_csv(course.gradebook, course.csv)
        lms.export_canvas(course.gradebook, course.canvas_csv)
        lms.export_moodle(course.gradebook, course.moodle_csv)
    report.containment = report.containment or next((r.containment for r in results.values() if r.containment), "")
    report.seconds = time.monotonic() - started
    return report


def _merge(course: Course, submission: Submission, result: JobResult,
           on_result: Callable[[JobResult, bool], None] | None, *, reused: bool) -> None:
    course.gradebook.parent.mkdir(parents=True, exist_ok=True)
    gradebook.merge(course.gradebook, result, timestamp=submission.timestamp,
                    late=gradebook.late_plugin(course.config), reused=reused,
                    course_id=course.config.get("CourseDirectory", {}).get("course_id"))
    findings.save(course.findings, result)
    answer_cells.save(course.answers, submission.student, submission.assignment,
                 {n: b for n, b in submission.files.items() if n.endswith(".ipynb") and "/" not in n})
    _write_outputs(course, submission, result)
    if on_result:
        on_result(result, reused)
