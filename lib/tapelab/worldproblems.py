"""What a world's values may be, and how a defect of a world is reported.

A state is a flat, non-empty Python ``list`` (no subclass) whose elements are each of
:data:`NUMBER_TYPES` and finite; so is a reward, a single number. :func:`state_problem`
says why a value is not such a state. Each defect :mod:`tapelab.worldcheck` finds is a
:class:`WorldProblem`: a stable code and a message saying what was expected, what was
found and the most likely cause; :class:`WorldCheckError` raises them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the number types a state or a reward may hold: Python's and NumPy's own (the tests compare exactly these).
NUMBER_TYPES = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                np.uint64, np.uint32, np.uint16, np.uint8)


@dataclass(frozen=True)
class WorldProblem:
    """One defect found by :func:`tapelab.worldcheck.check_world`: a stable code and a plain-language message."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class WorldCheckError(AssertionError):
    """Raised by :func:`tapelab.worldcheck.check_world`; ``problems`` lists every defect found."""

    def __init__(self, problems: list[WorldProblem]) -> None:
        self.problems = problems
        lines = [f"the world has {len(problems)} problem(s):"] + [f"- {p.message}" for p in problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


def describe_value(value: Any) -> str:
    """`value` as a message shows it: its repr (cut at 60 characters) and its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def state_problem(state: Any, where: str) -> WorldProblem | None:
    """Why `state` (named `where` in the message) is not a flat, non-empty list of finite numbers, or None."""
    if type(state) is not list:
        return WorldProblem(
            "state-not-list",
            f"{where} must be a flat Python list of floats, actual: {describe_value(state)}; "
            "build it with [...] or convert it with list(...).",
        )
    if not state:
        return WorldProblem("state-not-list", f"{where} must be a non-empty list of floats, actual: [].")
    for i, x in enumerate(state):
        if type(x) not in NUMBER_TYPES:
            return WorldProblem(
                "state-not-list",
                f"{where} must be a flat list of floats, actual: element {i} is {describe_value(x)}; "
                "nested lists, tensors and strings cannot be fed to the network.",
            )
        if not math.isfinite(float(x)):
            return WorldProblem("state-not-list", f"{where} must contain finite floats, actual: element {i} is {x}.")
    return None
