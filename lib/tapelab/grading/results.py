"""What a grading job is given and what it gives back: plain data, safe to pickle, send and cache.

A :class:`JobSpec` carries everything a worker needs to grade one student's submission of
one assignment (the submitted files and the assignment's source notebooks, as bytes); its
:attr:`~JobSpec.key` hashes everything that can change the grade. A :class:`JobResult` holds
the scores (one :class:`CellScore` per graded cell), the messages, the autograded notebooks
and the feedback HTML, and the cells the grader stopped (:class:`~tapelab.grading.limits.CellStop`).
:mod:`tapelab.grading.jobs` turns the one into the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from tapelab.grading.limits import CellStop, Limits

#: a job's status: scored by nbgrader, nothing to score (no readable notebook), or the grading itself failed.
GRADED, NOT_GRADABLE, FAILED = "graded", "not-gradable", "failed"


@dataclass
class JobSpec:
    """What a worker needs to grade `student`'s `assignment`.

    ``submission`` maps paths inside ``<student>/<assignment>/`` to bytes, ``source``
    paths inside ``solutions/<assignment>/`` to bytes; ``config`` holds nbgrader config
    sections of the course (without CourseDirectory paths, which belong to the job).
    ``gradebook`` is a gradebook that already records the assignment (from
    :func:`tapelab.grading.jobs.record_assignment`, made once per assignment by the driver), which saves
    each job nbgrader's ``generate_assignment`` and the creation of a database.
    ``limits`` are what the kernel may use, normally the course config's (``Limits.from_config``).
    """

    student: str
    assignment: str
    submission: dict[str, bytes]
    source: dict[str, bytes]
    config: dict = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    allow_unsandboxed: bool = False
    seed: int = 0
    threads: int = 1
    kit: dict[str, str] | None = None
    gradebook: bytes | None = None

    @property
    def submission_hash(self) -> str:
        """sha256 of the submitted files (names and bytes)."""
        return _hash_files(self.submission)

    @property
    def key(self) -> str:
        """Cache key: changes whenever anything that can change the grade changes."""
        digest = hashlib.sha256()
        for part in (self.student, self.assignment, self.submission_hash, _hash_files(self.source),
                     json.dumps(self.config, sort_keys=True, default=str), repr(self.limits),
                     str(self.seed), str(self.threads), json.dumps(self.kit, sort_keys=True)):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class CellScore:
    """The autograder's score of one graded cell and the first line of its error, if any."""

    notebook: str
    grade_id: str
    score: float
    max_score: float
    message: str = ""


@dataclass
class JobResult:
    """What grading one (student, assignment) produced; plain data, safe to pickle and cache."""

    student: str
    assignment: str
    status: str
    score: float
    max_score: float
    cells: list[CellScore] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    autograded: dict[str, bytes] = field(default_factory=dict)
    feedback: dict[str, bytes] = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    submission_hash: str = ""
    key: str = ""
    kit: dict[str, str] = field(default_factory=dict)
    worker: str = ""
    seconds: float = 0.0
    containment: str = ""
    steps: dict[str, float] = field(default_factory=dict)
    stops: list[CellStop] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """Short reason for the summary table: why not graded, or what stopped the first stopped cell."""
        if self.status == GRADED and self.stops:
            return stop_message(self.stops[0])
        return self.messages[0] if self.messages else ""

    @property
    def scores(self) -> dict[str, float]:
        """grade_id -> points."""
        return {c.grade_id: c.score for c in self.cells}


def stop_message(stop: CellStop) -> str:
    """The summary line of a stopped cell: '<notebook>: <what happened>'."""
    return f"{stop.notebook}: {stop.summary}" if stop.notebook else stop.summary


def _hash_files(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()
