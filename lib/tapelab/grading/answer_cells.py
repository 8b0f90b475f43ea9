"""The answer cells of a submission, tokenized once, for comparing students with one another.

An answer cell is an nbgrader solution code cell, named by its ``grade_id``. Comparing
code (:mod:`tapelab.grading.similarity`) starts from copydetect's tokenized text: its
``filter_code`` replaces names by ``V``/``F``/``O`` and strings by ``S`` and drops spaces and
comments, and records how many characters it removed where (``offsets``), so a match in
the tokenized text maps back to the student's code. Tokenizing is most of the cost of a
comparison, so the driver does it as each result is merged, while the cluster grades,
and keeps ``autograder/.jobs/answers/<student>/<assignment>.json`` with the digest of the
notebooks it came from; :func:`load` returns it, and :func:`of_files` tokenizes
submitted notebooks that have none.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    """One answer cell: the student's code, its tokenized text and copydetect's offsets into the code."""

    code: str
    filtered: str
    offsets: tuple[tuple[int, int], ...] = ()


@dataclass
class Answers:
    """The answer cells of one submission, by (notebook file, grade_id), and the digest of its notebooks."""

    digest: str
    cells: dict[tuple[str, str], Answer] = field(default_factory=dict)


def tokenize(code: str) -> Answer:
    """copydetect's tokenized text of Python `code`."""
    from copydetect.utils import filter_code

    filtered, offsets = filter_code(code, "cell.py", "python")
    return Answer(code, filtered, tuple((int(i), int(n)) for i, n in offsets))


def code_cells(notebook: bytes) -> dict[str, str] | None:
    """grade_id -> source of the answer code cells of a notebook; None when it is no readable notebook."""
    try:
        cells = json.loads(notebook).get("cells", [])
    except (ValueError, AttributeError):
        return None
    out = {}
    for cell in cells if isinstance(cells, list) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            source = cell.get("source", "")
            out[meta["grade_id"]] = "".join(source) if isinstance(source, list) else str(source)
    return out


def digest(files: dict[str, bytes]) -> str:
    """sha256 of the notebooks of a submission (names and bytes)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def of_files(files: dict[str, bytes]) -> Answers:
    """The tokenized answer cells of the notebooks `files` (file name -> bytes)."""
    out = Answers(digest(files))
    memo: dict[str, Answer] = {}
    for name, data in sorted(files.items()):
        for grade_id, code in (code_cells(data) or {}).items():
            out.cells[(name, grade_id)] = memo.get(code) or memo.setdefault(code, tokenize(code))
    return out


def path_of(folder: Path, student: str, assignment: str) -> Path:
    return Path(folder) / student / f"{assignment}.json"


def save(folder: Path, student: str, assignment: str, files: dict[str, bytes]) -> bool:
    """Keep the tokenized answers of `files` unless those of the same notebooks are kept already."""
    path = path_of(folder, student, assignment)
    kept = load(folder, student, assignment)
    if kept is not None and kept.digest == digest(files):
        return False
    found = of_files(files)
    data = {"digest": found.digest, "cells": [{"notebook": nb, "grade_id": gid, "code": a.code, "filtered": a.filtered,
                                               "offsets": a.offsets} for (nb, gid), a in found.cells.items()]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False))
    tmp.replace(path)
    return True


def load(folder: Path, student: str, assignment: str) -> Answers | None:
    """The kept answers of (student, assignment), or None."""
    try:
        data = json.loads(path_of(folder, student, assignment).read_text())
        return Answers(data["digest"], {(c["notebook"], c["grade_id"]): Answer(
            c["code"], c["filtered"], tuple(tuple(o) for o in c["offsets"])) for c in data["cells"]})
    except (OSError, ValueError, KeyError, TypeError):
        return None
