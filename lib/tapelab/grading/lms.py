"""Grades an LMS imports: the gradebook as a Canvas and as a Moodle grade-import CSV.

nbgrader's own CSV (``grades.csv``, one row per student and assignment) is for people and
scripts; an LMS wants one row per student and one column per assignment. Both files hold
each student's final points, ``score − late_submission_penalty`` from the gradebook
(see :mod:`tapelab.grading.gradebook`), and leave a cell empty where the student did not
submit, so the import leaves that grade alone (apply the course's policy for missing
work in the LMS rather than overwrite an excused or extended one with 0).

**Canvas** (Grades > Import, a CSV in the layout of Canvas's own gradebook export)::

    Student,ID,SIS User ID,SIS Login ID,Section,01_gradient_tape,02_chain_rule
    Points Possible,,,,,10,11
    "Lovelace, Ada",4711,,ada,,10,9.5

The first five columns identify the student; Canvas matches a row by ``ID`` (Canvas's
user id: nbgrader's ``lms_user_id``, known when students were imported from the LMS or
arrived through LTI) or by ``SIS Login ID`` (here the nbgrader student id, which on a
hub is the student's login). ``Student`` is "Last, First" when the gradebook knows the
names. The optional "Points Possible" row gives each column's maximum. A column whose
header names no existing assignment creates one with that name on import; an existing
assignment is matched by its exported header, "Name (id)", so rename the columns to
those headers to fill assignments that already exist.

**Moodle** (Grades > Import > CSV file): a header row, one row per student; on import
each column is mapped to a user identifier ("Username" → username, "Email address" →
email address) or to a grade item (existing, or "new grade item")::

    Username,Email address,01_gradient_tape,02_chain_rule
    ada,ada@example.org,10,9.5

Moodle has no "points possible" row: a grade item's maximum is set on the item.
Numbers use a decimal point and the comma separator, Moodle's defaults.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tapelab.grading import gradebook

#: the identifying columns of a Canvas gradebook CSV, in Canvas's order.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
#: the identifying columns of the Moodle CSV, mapped on import to username and email address.
MOODLE_COLUMNS = ["Username", "Email address"]


def _points(value: float) -> str:
    """10, 9.5, 7.25: at most two decimals, no trailing zeros."""
    return f"{round(value, 2):g}"


def _table(path: Path) -> tuple[list[dict], list[tuple[str, float]], dict[tuple[str, str], float]]:
    """(students as dicts, [(assignment, max score)], (student, assignment) -> final points)."""
    with gradebook.read(path) as gb:
        students = [{"id": s.id, "first": s.first_name or "", "last": s.last_name or "",
                     "email": s.email or "", "lms": s.lms_user_id or ""}
                    for s in sorted(gb.students, key=lambda s: s.id)]
        assignments = [(a.name, float(a.max_score)) for a in gb.assignments]
        finals = {(student, name): total.final for name, _ in assignments
                  for student, total in gradebook.totals(gb, name).items()}
    return students, assignments, finals


def _name(student: dict) -> str:
    if student["last"] and student["first"]:
        return f"{student['last']}, {student['first']}"
    return student["last"] or student["first"] or student["id"]


def export_canvas(path: Path, dest: Path) -> Path:
    """The gradebook at `path` as a Canvas gradebook-import CSV at `dest`."""
    students, assignments, finals = _table(path)
    with Path(dest).open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(CANVAS_COLUMNS + [name for name, _ in assignments])
        out.writerow(["Points Possible", "", "", "", ""] + [_points(m) for _, m in assignments])
        for s in students:
            row = [_name(s), s["lms"], "", s["id"], ""]
            out.writerow(row + [_points(finals[(s["id"], a)]) if (s["id"], a) in finals else ""
                                for a, _ in assignments])
    return Path(dest)


def export_moodle(path: Path, dest: Path) -> Path:
    """The gradebook at `path` as a Moodle grade-import CSV at `dest`."""
    students, assignments, finals = _table(path)
    with Path(dest).open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(MOODLE_COLUMNS + [name for name, _ in assignments])
        for s in students:
            out.writerow([s["id"], s["email"]] + [_points(finals[(s["id"], a)]) if (s["id"], a) in finals else ""
                                                  for a, _ in assignments])
    return Path(dest)
