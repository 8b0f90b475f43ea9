"""What a grade depends on besides the submission: the kit's version and its pins.

A grade must not depend on which worker computed it, so the driver and every
worker compare :func:`kit_fingerprint` before any job runs, and each job
records the fingerprint it ran under.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata
from pathlib import Path

#: distributions whose versions can change a grade (the grader, the kernel, the course code).
GRADING_PACKAGES = (
    "nbgrader", "nbclient", "nbconvert", "nbformat", "jupyter_client", "ipykernel", "ipython",
    "tensorflow", "tensorflow-cpu", "keras", "numpy", "sympy", "gymnasium",
)


def _lockfile() -> Path | None:
    """constraints.txt of the checkout tapelab is installed from, if it is an editable checkout."""
    import tapelab

    for parent in Path(tapelab.__file__).resolve().parents[1:4]:
        candidate = parent / "constraints.txt"
        if candidate.is_file():
            return candidate
    return None


def kit_fingerprint() -> dict[str, str]:
    """The tapelab version and a short hash of the pins grading depends on.

    ``pins`` hashes the lock file (constraints.txt) when the kit is installed from a
    checkout, together with the installed versions of :data:`GRADING_PACKAGES` and
    Python's version, so two machines agree exactly when they would grade alike.
    """
    import tapelab

    digest = hashlib.sha256()
    lock = _lockfile()
    if lock is not None:
        digest.update(lock.read_bytes())
    for name in GRADING_PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}=={version}\n".encode())
    digest.update(f"python {sys.version_info[:2]}".encode())
    return {"tapelab": str(tapelab.__version__), "pins": digest.hexdigest()[:12]}


def describe(fingerprint: dict[str, str]) -> str:
    """'tapelab 0.1.0 (pins 1a2b3c4d5e6f)'."""
    return f"tapelab {fingerprint['tapelab']} (pins {fingerprint['pins']})"


class VersionMismatch(RuntimeError):
    """A worker runs a different kit than the driver."""


def check_same_kit(driver: dict[str, str], worker: dict[str, str], where: str) -> None:
    """Raise :class:`VersionMismatch` naming both versions unless the fingerprints agree."""
    if driver != worker:
        raise VersionMismatch(
            f"worker {where} runs {describe(worker)} but the driver runs {describe(driver)}: "
            "grades must not depend on which worker ran them, so install the same kit on every "
            "worker (pip install -c constraints.txt -e 'lib[course]') and start it again."
        )
