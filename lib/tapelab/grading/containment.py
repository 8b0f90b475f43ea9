"""Where a grading job meets the sandbox: limits, the sandbox check, kernel config.

The sandbox itself (bubblewrap around each kernel) lives in :mod:`tapelab.grading.sandbox`,
the limits in :mod:`tapelab.grading.limits`, input checks in :mod:`tapelab.grading.intake`.
This module is the one place the grading pipeline calls them; grading refuses to
run student code unsandboxed unless the instructor opts out (``--allow-unsandboxed``),
and the CLI reports :class:`SandboxUnavailable` as a setup error.
"""

from __future__ import annotations

import json
from pathlib import Path

from tapelab.grading import intake, integrity, sandbox
from tapelab.grading.limits import Limits
from tapelab.grading.sandbox import SandboxCheck, SandboxUnavailable

__all__ = ["Limits", "SandboxCheck", "SandboxUnavailable", "check_sandbox", "kernel_config",
           "inspect_submission", "check_tampering", "extract_zip"]


def check_sandbox(allow_unsandboxed: bool) -> SandboxCheck:
    """Whether kernels run sandboxed here, and the line that says how; raise when they cannot be and no opt-out."""
    return sandbox.check_sandbox(allow_unsandboxed)


def kernel_config(scratch: Path, limits: Limits, *, sandboxed: bool) -> dict:
    """nbgrader config sections for the kernel: sandbox, limits and scratch cwd."""
    sections = _plain(sandbox.nbgrader_config(scratch, limits, sandboxed=sandboxed))
    sections.pop("Autograde", None)  # the grading job chooses its Execute preprocessor itself
    return sections


def _plain(value):
    """Config as JSON-able data: classes become their import path (traitlets accepts both)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, Path):
        return str(value)
    json.dumps(value)  # raise early on anything a job could not carry
    return value


def inspect_submission(folder: Path, expected: list[str]) -> tuple[list[str], list[str]]:
    """(gradable notebook names among `expected`, one message per problem) of a submission folder."""
    found = intake.inspect_submission(folder, expected)
    return [p.name for p in found.gradable], list(found.problems)


def check_tampering(path: Path, source: Path) -> list[str]:
    """Tamper and review messages for the grader's copy at `path`, repaired in place."""
    return list(integrity.check_and_repair(path, source))


def extract_zip(archive: Path, dest: Path) -> list[str]:
    """Extract `archive` into `dest`, refusing members that would land outside it; the refusals."""
    return list(intake.safe_extract(archive, dest))
