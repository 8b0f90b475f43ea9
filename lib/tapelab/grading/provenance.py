"""What a grade depends on besides the submission: the kit's version and its pins.

A grade must not depend on which worker computed it, so the driver and every
worker compare :func:`kit_fingerprint` before any job runs, and each job
records the fingerprint it ran under. The fingerprint covers the kit's own code,
so a worker whose tapelab differs by one line is refused.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata, resources

#: distributions whose versions can change a grade (the grader, the kernel, the course code).
GRADING_PACKAGES = (
    "nbgrader", "nbclient", "nbconvert", "nbformat", "jupyter_client", "ipykernel", "ipython",
    "tensorflow", "tensorflow-cpu", "keras", "numpy", "sympy", "gymnasium",
)


def _package_sources() -> list[tuple[str, bytes]]:
    """(path inside the package, bytes) of every Python file of the tapelab package, sorted.

    Read through importlib.resources, so the same from a checkout, a wheel or a zip.
    """
    out: list[tuple[str, bytes]] = []
    pending = [("", resources.files("tapelab"))]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir() and entry.name != "__pycache__":
                pending.append((name + "/", entry))
            elif entry.name.endswith(".py"):
                out.append((name, entry.read_bytes()))
    return sorted(out)


def kit_fingerprint() -> dict[str, str]:
    """The tapelab version and a short hash of what grading depends on.

    ``pins`` hashes the kit's own code (every Python file of the package), the installed
    versions of :data:`GRADING_PACKAGES` and Python's version, so two machines agree exactly
    when they would grade alike.
    """
    import tapelab

    digest = hashlib.sha256()
    for name, data in _package_sources():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
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
