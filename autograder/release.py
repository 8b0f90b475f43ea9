"""Regenerate the student notebooks in course/ from the instructor notebooks in solutions/.

Usage (from anywhere; ``make release`` runs the first form)::

    python autograder/release.py              # regenerate course/, report what changed
    python autograder/release.py --check      # exit 1 if course/ differs from a fresh generation
    python autograder/release.py --gradebook  # also record the assignments in autograder/gradebook.db

Every assignment is a folder ``solutions/<assignment>/`` holding one notebook.
``nbgrader generate_assignment`` (configured by autograder/nbgrader_config.py)
replaces each solution region by ``raise NotImplementedError()``, removes the
hidden tests and the outputs, and locks the cells that must not change.

Generation happens in a temporary folder with a throwaway gradebook, so
releasing never touches the course gradebook (which only grading writes) unless
``--gradebook`` is given. The result is normalised (stable JSON: sorted keys,
one-space indent, a final newline) so that regenerating an unchanged course is
byte-identical, then copied over course/; files in course/ that a fresh
generation does not produce are removed.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

AUTOGRADER = Path(__file__).resolve().parent
REPO = AUTOGRADER.parent
SOLUTIONS = REPO / "solutions"
COURSE = REPO / "course"
GRADEBOOK = AUTOGRADER / "gradebook.db"

#: Names that editors and Python leave behind; never part of a release, ignored by --check.
JUNK = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}

README = """\
# tapelab: the course notebooks

Work through the assignments in order; each folder holds one notebook:

{listing}
Each notebook explains an idea, then asks you to write a few cells
(marked `# YOUR CODE HERE`). Run the test cell under each exercise: a failing
test says what is wrong and where to look. Hidden tests run when your
notebook is graded.

These notebooks are generated from the instructor's solutions by
`make release` (`python autograder/release.py`); regenerating overwrites
every file in this folder.
"""


class ReleaseError(RuntimeError):
    """nbgrader could not generate the student notebooks."""


@dataclass
class Diff:
    """How a course folder differs from a fresh generation (paths relative to the folder)."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.unexpected)

    def lines(self) -> list[str]:
        return (
            [f"  changed:    {p}" for p in self.changed]
            + [f"  missing:    {p}" for p in self.missing]
            + [f"  unexpected: {p}" for p in self.unexpected]
        )


def assignments(solutions: Path = SOLUTIONS) -> list[str]:
    """The assignment folders of `solutions`: every sub-folder holding at least one notebook."""
    return sorted(
        d.name
        for d in solutions.iterdir()
        if d.is_dir() and d.name not in JUNK and any(d.glob("*.ipynb"))
    )


def _nbgrader(args: list[str]) -> None:
    """Run an nbgrader command with the course configuration (cwd autograder/); raise on failure."""
    from tapelab import environment

    env = environment.apply(dict(os.environ))  # TensorFlow quiet; nbgrader finds alembic through PATH
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=AUTOGRADER,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        log = (proc.stdout + proc.stderr).strip().splitlines()
        raise ReleaseError(
            f"nbgrader {args[0]} failed (exit {proc.returncode}); its last messages:\n"
            + "\n".join(log[-25:])
        )


def generate(dest: Path, *, db_url: str | None = None, solutions: Path = SOLUTIONS) -> list[str]:
    """Generate the student version of every assignment of `solutions` into `dest`/<assignment>/.

    Uses a throwaway gradebook next to `dest` unless `db_url` is given. Returns the
    assignments generated. The output is normalised (see :func:`normalise`) and
    carries a README.md saying where it comes from.
    """
    names = assignments(solutions)
    if not names:
        raise ReleaseError(f"no assignment found: expected folders with a notebook in {solutions}")
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tapelab-release-") as scratch:
        url = db_url or "sqlite:///" + str(Path(scratch) / "gradebook.db")
        # One nbgrader process for all assignments ("*" globs the assignment folders).
        _nbgrader([
            "generate_assignment", "*", "--force",
            f"--CourseDirectory.source_directory={solutions.resolve()}",
            f"--CourseDirectory.release_directory={dest}",
            f"--CourseDirectory.db_url={url}",
        ])
    listing = "".join(
        f"- `{name}/{nb.name}`\n" for name in names for nb in sorted((dest / name).glob("*.ipynb"))
    )
    (dest / "README.md").write_text(README.format(listing=listing), encoding="utf-8")
    normalise(dest)
    return names


def normalise(tree: Path) -> None:
    """Rewrite every notebook under `tree` as stable JSON and drop editor and Python junk.

    Stable JSON: keys sorted, one-space indent, non-ASCII kept, one final newline
    (nbformat's own layout), so the same notebook always has the same bytes.
    """
    for path in sorted(Path(tree).rglob("*")):
        if path.name in JUNK and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in sorted(Path(tree).rglob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")


def _files(tree: Path) -> set[str]:
    return {
        p.relative_to(tree).as_posix()
        for p in tree.rglob("*")
        if p.is_file() and not JUNK.intersection(p.relative_to(tree).parts)
    }


def compare(fresh: Path, course: Path) -> Diff:
    """How `course` differs from the freshly generated `fresh` (byte for byte, junk ignored)."""
    want, have = _files(fresh), _files(course) if course.exists() else set()
    return Diff(
        changed=sorted(p for p in want & have if not filecmp.cmp(fresh / p, course / p, shallow=False)),
        missing=sorted(want - have),
        unexpected=sorted(have - want),
    )


def _sync(fresh: Path, course: Path, diff: Diff) -> None:
    for rel in diff.changed + diff.missing:
        (course / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fresh / rel, course / rel)
    for rel in diff.unexpected:
        (course / rel).unlink()
    for path in sorted(course.rglob("*"), reverse=True):
        if path.name in JUNK and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def record_in_gradebook(db_url: str = "sqlite:///" + str(GRADEBOOK)) -> list[str]:
    """Record every assignment, its notebooks and graded cells in the course gradebook.

    ``nbgrader autograde`` run from autograder/ needs these records. Only
    assignment records are created or updated; students and grades are left alone.
    """
    with tempfile.TemporaryDirectory(prefix="tapelab-gradebook-") as scratch:
        return generate(Path(scratch) / "course", db_url=db_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare course/ with a fresh generation; exit 1 if they differ")
    parser.add_argument("--gradebook", action="store_true",
                        help="also record the assignments in autograder/gradebook.db")
    parser.add_argument("--course", type=Path, default=COURSE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    course = args.course.resolve()
    try:
        with tempfile.TemporaryDirectory(prefix="tapelab-fresh-") as scratch:
            fresh = Path(scratch) / "course"
            names = generate(fresh)
            diff = compare(fresh, course)
            if args.check:
                if diff:
                    print(
                        f"{course.name}/ differs from a fresh generation from solutions/:\n"
                        + "\n".join(diff.lines())
                        + "\nThe student notebooks are generated, never edited by hand: run `make release` "
                        "(python autograder/release.py) and commit course/.",
                        file=sys.stderr,
                    )
                    return 1
                print(f"{course.name}/ is up to date ({len(names)} assignments: {', '.join(names)})")
                return 0
            _sync(fresh, course, diff)
        print(f"generated {len(names)} assignments into {course.name}/: {', '.join(names)}")
        print("\n".join(diff.lines()) if diff else "  no change")
        if args.gradebook:
            record_in_gradebook()
            print(f"recorded {', '.join(names)} in {GRADEBOOK.relative_to(REPO)}")
    except ReleaseError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
