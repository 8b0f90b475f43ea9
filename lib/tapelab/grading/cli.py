"""``make grade``: grade a class of any nbgrader course in parallel and print the grade table.

    python -m tapelab.grading [--course DIR] SUBMISSIONS [--scheduler tcp://host:8786] [--workers N]
                              [--student ID] [--regrade] [--allow-unsandboxed]

The course is a folder with its own ``nbgrader_config.py`` (its source folder, points, hidden
tests and kernels), as nbgrader lays one out; ``--course`` names it, the current folder is the
default, and a folder whose config lives in ``autograder/`` (this kit's own course) works too.
SUBMISSIONS is a folder ``<student>/<assignment>/<notebook>.ipynb`` or an LMS zip (see
:mod:`tapelab.grading.collect`). Results go where the course's config puts nbgrader's
(autograded, feedback, gradebook.db) plus, next to the gradebook, the grades CSVs (grades.csv,
nbgrader's; grades_canvas.csv and grades_moodle.csv for an LMS import) and the class report
report/index.html (:mod:`tapelab.grading.report`). What a kernel may use (CPU seconds per
cell, memory) is the ``Limits`` section of the course's config (the kit's defaults where it has
none). Exit status: 0 when every submission was graded, 1 when some could not be (listed in the
table), 2 on a setup error (no course config, unreachable scheduler, a worker with another kit,
no sandbox).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tapelab.grading.containment import SandboxUnavailable
from tapelab.grading.provenance import VersionMismatch

#: where a course folder may keep its nbgrader config: nbgrader's place, then this kit's layout.
CONFIG_PLACES = ("nbgrader_config.py", "autograder/nbgrader_config.py")


def course_config(course: Path | None = None) -> Path:
    """The nbgrader_config.py of the course folder `course` (default: the current folder)."""
    folder = Path(course) if course is not None else Path.cwd()
    for place in CONFIG_PLACES:
        if (folder / place).is_file():
            return (folder / place).resolve()
    raise FileNotFoundError(f"no nbgrader course at {folder.resolve()}: expected {' or '.join(CONFIG_PLACES)} "
                            "there; name the course folder with --course DIR (make grade COURSE=DIR)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tapelab.grading",
                                description="Grade a class of an nbgrader course on a Dask cluster, sandboxed.")
    p.add_argument("submissions", type=Path, help="folder <student>/<assignment>/<notebook>.ipynb, or an LMS zip")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster workers (default: number of cores)")
    p.add_argument("--student", help="grade only this student")
    p.add_argument("--regrade", action="store_true", help="grade again even submissions graded before")
    p.add_argument("--replace-changed", action="store_true",
                   help="an assignment whose cells changed since it was graded: remove its old grades and record it anew")
    p.add_argument("--course", type=Path, help="the course folder, with its nbgrader_config.py (default: here)")
    p.add_argument("--config", type=Path, help="the course's nbgrader_config.py itself (instead of --course)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="run student code without the sandbox when it is unavailable (trusted submissions only)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-report", action="store_true", help="do not write the class report")
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    from tapelab.grading.cluster import SchedulerUnreachable
    from tapelab.grading.driver import grade_class

    args = parser().parse_args(argv)
    bar = None

    def on_start(jobs: int, workers: int, dashboard: str | None) -> None:
        nonlocal bar
        where = args.scheduler or "a local cluster"
        print(f"grading {jobs} submission(s) on {workers} worker(s) of {where}", flush=True)
        if dashboard:
            print(f"Dask dashboard: {dashboard}", flush=True)
        bar = tqdm(total=jobs, unit="job", disable=args.no_progress, file=sys.stderr)

    def on_result(result, reused: bool) -> None:
        if bar is not None and not reused:
            bar.set_postfix_str(f"{result.student}/{result.assignment}", refresh=False)
            bar.update()

    try:
        config = args.config or course_config(args.course)
        report = grade_class(args.submissions, config=config, scheduler=args.scheduler, workers=args.workers,
                             student=args.student, regrade=args.regrade, replace_changed=args.replace_changed,
                             allow_unsandboxed=args.allow_unsandboxed, on_start=on_start, on_result=on_result)
    except (SchedulerUnreachable, VersionMismatch, SandboxUnavailable, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    print(render(report))
    if report.results and not args.no_report:
        from tapelab.grading import report as class_report

        try:
            page = class_report.write(report.course)
            print(f"class report:   {_rel(page)}")
        except Exception as err:  # noqa: BLE001 - the grades are written; the report can be made again
            print(f"the class report could not be written ({type(err).__name__}: {err}); "
                  "try again with `make report`", file=sys.stderr)
    return 1 if report.failed else 0


def _rel(path: Path) -> str:
    """`path` relative to the current folder where it lies below it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def demo(workers: int | None = None, *, regrade: bool = False, progress: bool = True) -> int:
    """``make demo``'s grading step: grade the sample class in parallel and print the table.

    The course is the current folder's (the kit's checkout: autograder/nbgrader_config.py), its
    sample class the ``samples/submissions`` folder next to that config; results go where
    ``make grade`` puts them (autograder/autograded, feedback, grades.csv).
    """
    try:
        config = course_config()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # the sample class's records are the demo's own: a notebook changed since the last demo replaces them
    argv = [str(config.parent / "samples" / "submissions"), "--config", str(config), "--replace-changed"]
    argv += ["--workers", str(workers)] if workers else []
    argv += ["--regrade"] if regrade else []
    argv += [] if progress else ["--no-progress"]
    return main(argv)


def render(report) -> str:
    """The table and where the results are, as the CLI and the demo print them."""
    from tapelab.grading import summary

    course = report.course
    rel = _rel
    lines = [summary.table(report.results) if report.results else "no submission found"]
    lines += [f"  ! {p}" for p in report.problems]
    lines += [f"  ! {r.student}/{r.assignment}: {r.reason}" for r in report.failed]
    lines += ["",
              f"graded {report.graded}, reused {report.reused} unchanged result(s) in {report.seconds:.0f} s",
              f"grades CSV:     {rel(course.csv)} (for an LMS: {course.canvas_csv.name}, {course.moodle_csv.name})",
              f"feedback HTML:  {rel(course.feedback)}/<student>/<assignment>/",
              f"gradebook:      {rel(course.gradebook)}"]
    if report.containment:
        lines.append(f"kernels:        {report.containment}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
