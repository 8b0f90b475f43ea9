"""Where a grading job meets the sandbox: limits, the sandbox check, kernel config.

The sandbox itself (bubblewrap around each kernel, resource limits) lives in
:mod:`tapelab.grading.sandbox`, input checks in :mod:`tapelab.grading.intake`.
This module is the one place the grading pipeline calls them, and says plainly
what happens when they are not installed: grading refuses to run student code
unsandboxed unless the instructor opts out (``--allow-unsandboxed``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

try:  # the sandbox, when this installation has it
    from tapelab.grading import sandbox as _sandbox
except ImportError:  # pragma: no cover - depends on the installation
    _sandbox = None

try:
    from tapelab.grading import intake as _intake
except ImportError:  # pragma: no cover - depends on the installation
    _intake = None

try:
    from tapelab.grading import integrity as _integrity
except ImportError:  # pragma: no cover - depends on the installation
    _integrity = None


if _sandbox is not None:
    Limits = _sandbox.Limits
else:

    @dataclasses.dataclass(frozen=True)
    class Limits:  # type: ignore[no-redef]
        """Limits of one graded kernel (the sandbox enforces memory, CPU, processes, file size)."""

        cell_timeout_s: int = 120
        notebook_timeout_s: int = 600
        memory_mb: int = 2048
        cpu_s: int = 900
        nproc: int = 256
        fsize_mb: int = 200


class SandboxUnavailable(RuntimeError):
    """Student code would run with the grader's rights and the instructor did not opt out."""


UNSANDBOXED = "unsandboxed: student code ran with the grader's rights (--allow-unsandboxed)"


def check_sandbox(allow_unsandboxed: bool) -> str:
    """A one-line description of how kernels are contained; raise when they cannot be and no opt-out."""
    if _sandbox is not None:
        return _sandbox.check_sandbox(allow_unsandboxed)
    if not allow_unsandboxed:
        raise SandboxUnavailable(
            "grading needs the sandbox (tapelab.grading.sandbox with bubblewrap) but this installation "
            "has none: install it, or pass --allow-unsandboxed to run student code with your own rights."
        )
    return UNSANDBOXED


def is_sandboxed(note: str) -> bool:
    """Whether the line :func:`check_sandbox` returned says kernels run sandboxed."""
    return not note.upper().startswith("UNSANDBOXED")


def kernel_config(scratch: Path, limits: Limits, *, sandboxed: bool) -> dict:
    """nbgrader config sections for the kernel: sandbox, limits and scratch cwd (empty without a sandbox)."""
    if _sandbox is None:
        return {}
    sections = _plain(_sandbox.nbgrader_config(scratch, limits, sandboxed=sandboxed))
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
    if _intake is not None:
        found = _intake.inspect_submission(folder, expected)
        return [p.name for p in found.gradable], list(found.problems)
    gradable, problems = [], []
    for name in expected:
        path = Path(folder) / name
        problem = inspect_notebook(path) if path.is_file() else f"expected {name}, but it is not in the submission"
        (problems.append(problem) if problem else gradable.append(name))
    return gradable, problems


def check_tampering(path: Path, source: Path) -> list[str]:
    """Tamper and review messages for the grader's copy at `path`, repaired in place (none without the checks)."""
    if _integrity is None:
        return []
    return list(_integrity.check_and_repair(path, source))


def inspect_notebook(path: Path) -> str | None:
    """Why the notebook at `path` cannot be graded, or None when it can."""
    if _intake is not None:
        return _intake.inspect_notebook(path)
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several kinds for broken files
        return f"{path.name} is not a readable notebook (invalid JSON or format): {type(err).__name__}"
    if not nb.cells:
        return f"{path.name} has no cells"
    return None


def extract_zip(archive: Path, dest: Path) -> list[str]:
    """Extract `archive` into `dest`, refusing members that would land outside it; the refusals."""
    if _intake is not None:
        return list(_intake.safe_extract(archive, dest))
    import zipfile

    problems = []
    dest = Path(dest).resolve()
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (dest / member.filename).resolve()
            if member.filename.startswith("/") or (target != dest and dest not in target.parents):
                problems.append(f"{archive.name}: skipped {member.filename!r}, a path outside the archive's folder")
                continue
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, target.open("wb") as out:
                out.write(src.read())
    return problems
