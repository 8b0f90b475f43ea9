"""What grading found beyond the grades: one small JSON per (student, assignment), for the class report.

The gradebook holds the points; it does not hold why a test failed, which cells the
grader stopped, or how long grading took. The driver keeps those facts of every job
result it merges in ``autograder/.jobs/findings/<student>/<assignment>.json``
(overwritten when the submission is graded again, so the file is always the latest
result), and :mod:`tapelab.grading.report` reads them next to the gradebook:

- ``status``: ``graded``, ``not-gradable`` or ``failed``, and ``messages``, the reasons;
- ``failures``: the graded cells that lost points, with the first line of their error
  (where a named mistake of :data:`tapelab.feedback.MISTAKES` shows as ``[code]``);
- ``stops``: the :class:`~tapelab.grading.limits.CellStop` records of stopped cells;
- ``seconds``: the job's grading time on one worker core.

No score is kept here: grades come from the gradebook only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tapelab.grading.jobs import JobResult
from tapelab.grading.limits import CellStop


@dataclass(frozen=True)
class Failure:
    """A graded cell that lost points, and the first line of its error."""

    notebook: str
    grade_id: str
    message: str


@dataclass
class Findings:
    """The facts of one job result that the gradebook does not hold."""

    student: str
    assignment: str
    status: str
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    stops: list[CellStop] = field(default_factory=list)
    submission_hash: str = ""

    @classmethod
    def of(cls, result: JobResult) -> Findings:
        """The findings of `result`."""
        failures = [Failure(c.notebook, c.grade_id, c.message) for c in result.cells if c.score < c.max_score]
        return cls(result.student, result.assignment, result.status, round(result.seconds, 3),
                   list(result.messages), failures, list(result.stops), result.submission_hash)

    @classmethod
    def from_dict(cls, data: dict) -> Findings:
        return cls(data["student"], data["assignment"], data["status"], float(data.get("seconds", 0.0)),
                   list(data.get("messages", [])), [Failure(**f) for f in data.get("failures", [])],
                   [CellStop(**s) for s in data.get("stops", [])], data.get("submission_hash", ""))


def path_of(folder: Path, student: str, assignment: str) -> Path:
    return Path(folder) / student / f"{assignment}.json"


def save(folder: Path, result: JobResult) -> Path:
    """Write the findings of `result` (atomically), replacing those of an earlier grading."""
    path = path_of(folder, result.student, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(Findings.of(result)), indent=1, ensure_ascii=False))
    tmp.replace(path)
    return path


def load_all(folder: Path) -> dict[tuple[str, str], Findings]:
    """(student, assignment) -> findings, for every readable file under `folder`."""
    out = {}
    for path in sorted(Path(folder).glob("*/*.json")):
        try:
            found = Findings.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out[(found.student, found.assignment)] = found
    return out
