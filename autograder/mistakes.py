"""The course's typical mistakes, read from the one catalogue next to this file (mistakes.toml).

A :class:`Mistake` is one way a student gets one exercise wrong: which solution cell, the edit
that turns the instructor's code into the student's, the test cell whose message must name the
mistake's code (one of ``tapelab.feedback.MISTAKES``), and the graded cells it costs.
:func:`make` makes it in a cell's code. The sample class, the hint-grading tests and the
notebook tests all read :func:`load`, so a mistake is written down once.

Usage: ``python autograder/mistakes.py`` lists the catalogue.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "mistakes.toml"


class StaleMistake(ValueError):
    """A mistake's description no longer fits the notebook it is made in."""


@dataclass(frozen=True)
class Edit:
    """Replace `old` (found exactly once in the cell) by `new`."""

    old: str
    new: str


@dataclass(frozen=True)
class Mistake:
    """One entry of the catalogue (see the comment at the top of mistakes.toml)."""

    name: str
    code: str
    notebook: str
    cell: str
    story: str
    hint_cell: str
    loses: tuple[str, ...]
    may_lose: tuple[str, ...] = ()
    edits: tuple[Edit, ...] = ()
    replacement: str | None = None

    @property
    def assignment(self) -> str:
        return self.notebook.split("/")[0]

    @property
    def filename(self) -> str:
        return self.notebook.split("/")[1]

    @property
    def graded(self) -> bool:
        """Whether this is its code's graded submission: the entry named after the code."""
        return self.name == self.code


def load(path: Path = CATALOGUE) -> list[Mistake]:
    """Every mistake of the catalogue, in file order; names are unique."""
    with open(path, "rb") as fh:
        entries = tomllib.load(fh)["mistake"]
    out = [Mistake(name=e["name"], code=e["code"], notebook=e["notebook"], cell=e["cell"], story=e["story"],
                   hint_cell=e["hint_cell"], loses=tuple(e["loses"]), may_lose=tuple(e.get("may_lose", ())),
                   edits=tuple(Edit(x["old"], x["new"]) for x in e.get("edit", [])), replacement=e.get("code_text"))
           for e in entries]
    names = [m.name for m in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path.name}: each mistake needs a name of its own; used twice: {', '.join(twice)}")
    return out


def named(name: str, path: Path = CATALOGUE) -> Mistake:
    """The mistake called `name`."""
    found = {m.name: m for m in load(path)}
    if name not in found:
        raise KeyError(f"no mistake {name!r} in {path.name}; its mistakes: {', '.join(found)}")
    return found[name]


def make(code: str, mistake: Mistake) -> str:
    """`code` (the solution cell's code) as the student who makes `mistake` writes it."""
    if mistake.replacement is not None:
        return mistake.replacement.strip("\n")
    for edit in mistake.edits:
        found = code.count(edit.old)
        if found != 1:
            raise StaleMistake(f"mistake {mistake.name!r}: the solution of {mistake.cell!r} in {mistake.notebook} "
                               f"contains {edit.old!r} {found} times (expected once); update {CATALOGUE.name}")
        code = code.replace(edit.old, edit.new)
    return code


if __name__ == "__main__":
    for m in load():
        print(f"{m.name:26} {m.code:22} {m.notebook}:{m.cell}{'  (graded)' if m.graded else ''}\n    {m.story}")
    sys.exit(0)
