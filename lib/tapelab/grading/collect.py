"""Finding the submissions of a class: a folder per student, or an LMS zip.

Two layouts are accepted:

- a folder ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's ``submitted/``
  layout; other files next to the notebook travel with it), or a zip of that tree;
- a zip of flat files named by the LMS, read with nbgrader's ``zip_collect``
  conventions: a regular expression with the named groups ``student_id`` and
  ``file_id`` (and optionally ``timestamp``) is matched against each file name.
  The default, :data:`LMS_NAMED_REGEXP`, reads Blackboard-style names such as
  ``Assignment 1_s123_attempt_2026-11-20-10-00-00_gradient_tape.ipynb``; ``file_id``
  names the notebook, hence the assignment. Of several attempts the latest wins:
  timestamps are parsed as ``nbgrader zip_collect`` parses them
  (:func:`nbgrader.utils.parse_utc`, so an offset such as ``+01:00`` counts) and
  compared as times, not as strings.

A submission's time, where one is known, is its latest attempt's timestamp, or
the ``timestamp.txt`` that ``nbgrader collect`` and ``zip_collect`` leave in a
``<student>/<assignment>/`` folder; the gradebook compares it with the
assignment's due date for nbgrader's late-submission penalty.

Nothing here modifies the submission files: they are read into memory.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tapelab.grading import containment

#: nbgrader's documented Blackboard example, with the notebook's extension kept in file_id.
LMS_NAMED_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>[\w\-]+\.ipynb)$"

#: names editors and Python leave behind; never part of a submission.
JUNK = {".ipynb_checkpoints", "__pycache__", ".DS_Store", "__MACOSX"}


@dataclass
class Submission:
    """One student's files for one assignment (paths relative to ``<student>/<assignment>/``).

    ``timestamp``: when it was submitted (naive UTC, as nbgrader stores it), if known.
    """

    student: str
    assignment: str
    files: dict[str, bytes]
    origin: str = ""
    timestamp: datetime | None = None


@dataclass
class Collected:
    """What a submissions folder or zip held, and what could not be used (one line each)."""

    submissions: list[Submission] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def source_files(source: Path, assignment: str) -> dict[str, bytes]:
    """The files of ``source/<assignment>/`` (the instructor notebooks), without editor junk."""
    folder = Path(source) / assignment
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not JUNK.intersection(p.relative_to(folder).parts)}


def assignments(source: Path) -> dict[str, list[str]]:
    """assignment -> its notebook file names, for every folder of `source` that holds a notebook."""
    out = {}
    for folder in sorted(Path(source).iterdir()):
        notebooks = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        if notebooks and folder.name not in JUNK:
            out[folder.name] = notebooks
    return out


def collect(path: Path, known: dict[str, list[str]], *, student: str | None = None,
            named_regexp: str = LMS_NAMED_REGEXP) -> Collected:
    """The submissions under `path` (a folder or a zip) for the `known` assignments.

    `student` keeps only that student's submissions. Folders of unknown assignments
    and files the regular expression does not match are reported, not graded.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no submissions at {path}: expected a folder <student>/<assignment>/ "
                                "or a zip file")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path} is neither a folder nor a zip file")
        with tempfile.TemporaryDirectory(prefix="tapelab-zip-") as tmp:
            problems = containment.extract_zip(path, Path(tmp))
            found = _collect_tree(Path(tmp), known, named_regexp)
            found.problems[:0] = problems
    else:
        found = _collect_tree(path, known, named_regexp)
    if student is not None:
        found.submissions = [s for s in found.submissions if s.student == student]
    found.submissions.sort(key=lambda s: (s.student, s.assignment))
    return found


def _visible(path: Path, root: Path) -> bool:
    return not JUNK.intersection(path.relative_to(root).parts)


def _collect_tree(root: Path, known: dict[str, list[str]], named_regexp: str) -> Collected:
    """Folder layout when some <student>/<known assignment>/ exists (maybe under one top folder), else LMS."""
    tops = [p for p in root.iterdir() if _visible(p, root)]
    if len(tops) == 1 and tops[0].is_dir() and not any((tops[0] / a).is_dir() for a in known):
        inner = tops[0]
        if any((s / a).is_dir() for s in inner.iterdir() if s.is_dir() for a in known):
            root = inner
    students = [p for p in sorted(root.iterdir()) if p.is_dir() and _visible(p, root)]
    if any((s / a).is_dir() for s in students for a in known):
        return _collect_folders(root, students, known)
    return _collect_lms(root, known, named_regexp)


def _collect_folders(root: Path, students: list[Path], known: dict[str, list[str]]) -> Collected:
    found = Collected()
    for folder in students:
        for sub in sorted(p for p in folder.iterdir() if _visible(p, root)):
            if not sub.is_dir():
                found.problems.append(f"{sub.relative_to(root)}: a file where an assignment folder was expected")
            elif sub.name not in known:
                found.problems.append(f"{sub.relative_to(root)}: unknown assignment {sub.name!r} "
                                      f"(known: {', '.join(known)})")
            else:
                files = {p.relative_to(sub).as_posix(): p.read_bytes() for p in sorted(sub.rglob("*"))
                         if p.is_file() and _visible(p, root)}
                stamp = files.get("timestamp.txt", b"").decode(errors="replace").strip()
                when = _parse_time(stamp, f"{sub.relative_to(root)}/timestamp.txt", found.problems)
                found.submissions.append(Submission(folder.name, sub.name, files, str(sub), when))
    return found


def _parse_time(stamp: str, where: str, problems: list[str]) -> datetime | None:
    """`stamp` as naive UTC with nbgrader's parser; None (and a problem) when it cannot be read."""
    from nbgrader.utils import parse_utc

    if not stamp:
        return None
    try:
        return parse_utc(stamp)
    except (ValueError, OverflowError):
        problems.append(f"{where}: timestamp {stamp!r} not understood (expected e.g. 2026-11-20-10-00-00 "
                        "or 2026-11-20 10:00:00+01:00); taken as older than any readable one")
        return None


def _later(a: datetime | None, b: datetime | None) -> bool:
    """Is `a` at least as late as `b`? A missing time is older than any known one."""
    if a is None or b is None:
        return b is None
    return a >= b


def _collect_lms(root: Path, known: dict[str, list[str]], named_regexp: str) -> Collected:
    from nbgrader.plugins import FileNameCollectorPlugin

    plugin = FileNameCollectorPlugin(named_regexp=named_regexp)
    owner = {nb: assignment for assignment, notebooks in known.items() for nb in notebooks}
    found = Collected()
    latest: dict[tuple[str, str, str], tuple[datetime | None, Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and _visible(p, root)):
        match = plugin.collect(path.name)
        if not match:
            found.problems.append(f"{path.name}: file name not understood (expected the LMS pattern "
                                  f"<...>_<student>_attempt_<timestamp>_<notebook>.ipynb)")
            continue
        notebook = Path(match["file_id"]).name
        if notebook not in owner:
            found.problems.append(f"{path.name}: {notebook} is no notebook of the course "
                                  f"(expected one of {', '.join(sorted(owner))})")
            continue
        key = (match["student_id"], owner[notebook], notebook)
        when = _parse_time(match.get("timestamp") or "", path.name, found.problems)
        if key not in latest or _later(when, latest[key][0]):
            latest[key] = (when, path)
    grouped: dict[tuple[str, str], dict[str, bytes]] = {}
    times: dict[tuple[str, str], datetime | None] = {}
    for (student, assignment, notebook), (when, path) in sorted(latest.items()):
        grouped.setdefault((student, assignment), {})[notebook] = path.read_bytes()
        if _later(when, times.get((student, assignment))):
            times[(student, assignment)] = when
    found.submissions = [Submission(s, a, files, "zip", times.get((s, a))) for (s, a), files in grouped.items()]
    return found
