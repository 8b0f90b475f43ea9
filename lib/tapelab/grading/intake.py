"""Checks on submitted files before any grading: each broken input gets one clear message.

The grader reads submissions and never changes them: everything here only reads,
and :func:`safe_extract` writes only below the folder it is given. A problem
message says what was expected, what was found and what the student most likely
did, in one or two sentences, and starts with the file's name.
"""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: largest notebook file graded; bigger ones almost always carry saved outputs (images, prints).
MAX_NOTEBOOK_MB = 20
#: limits on an uploaded zip: files in it, and bytes once extracted (zip bombs).
MAX_ZIP_FILES = 10_000
MAX_ZIP_MB = 2_000


def inspect_notebook(path: Path, expected_name: str | None = None) -> str | None:
    """Why the notebook file at `path` cannot be graded, or None when it can."""
    path = Path(path)
    name = path.name
    if expected_name is not None and name != expected_name:
        return (f"{name}: expected {expected_name}; the grader only looks for that name, "
                "so rename the notebook back to it (downloads often add ' (1)' or change the case)")
    size = path.stat().st_size
    if size == 0:
        return f"{name} is empty (0 bytes): the upload failed or the notebook was never saved"
    if size > MAX_NOTEBOOK_MB << 20:
        return (f"{name} is {size / (1 << 20):.0f} MB, above the limit of {MAX_NOTEBOOK_MB} MB: it most likely "
                "holds huge saved outputs; clear them (Kernel > Restart Kernel and Clear Outputs) and save")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return (f"{name} is not UTF-8 text (byte {err.start}): it was saved with another encoding or is not a "
                "notebook; save it from Jupyter again")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        return (f"{name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}): the file was cut "
                "off or edited outside Jupyter; download it again from Jupyter (File > Download)")
    if not isinstance(nb, dict) or "nbformat" not in nb:
        return f"{name} is JSON but not a notebook (no 'nbformat' field)"
    if nb.get("nbformat") != 4:
        return (f"{name} is in notebook format version {nb.get('nbformat')}; expected version 4: open and save it "
                "with a current JupyterLab or Notebook")
    import nbformat

    try:
        nbformat.validate(nbformat.from_dict(nb), relax_add_props=True)
    except nbformat.ValidationError as err:
        return f"{name} is not a valid version-4 notebook: {err.message.splitlines()[0]}"
    if not nb.get("cells"):
        return f"{name} has no cells"
    return None


@dataclass
class Intake:
    """What a student's folder holds: the notebooks that can be graded and a message per problem."""

    gradable: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def inspect_submission(folder: Path, expected: list[str]) -> Intake:
    """Sort the files of one student's assignment folder into gradable notebooks and problems.

    `expected` are the notebook names of the assignment. Extra files are listed (and
    ignored); a notebook under another name is reported, never guessed.
    """
    folder = Path(folder)
    found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    result = Intake()
    for name in expected:
        path = folder / name
        if not path.is_file() or path.is_symlink():
            others = [f for f in found if f.endswith(".ipynb") and f not in expected]
            hint = f"; found {', '.join(others)}: rename it to {name}" if others else ""
            result.problems.append(f"expected {name}, but it is not in the submission{hint}")
            continue
        problem = inspect_notebook(path)
        if problem:
            result.problems.append(problem)
        else:
            result.gradable.append(path)
    result.extra = [f for f in found if f not in expected and not f.startswith(".ipynb_checkpoints/")]
    if result.extra:
        shown = ", ".join(result.extra[:5]) + (f" and {len(result.extra) - 5} more" if len(result.extra) > 5 else "")
        result.problems.append(f"extra files ignored (only {', '.join(expected)} is graded): {shown}")
    return result


def fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every file below `folder` (tests use it to show originals were not modified)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract the zip `archive` below `dest`, skipping every member that could leave it.

    Absolute names, ``..`` components, links and device files are skipped with a message;
    an archive with more than MAX_ZIP_FILES members or MAX_ZIP_MB once extracted is
    refused whole. Returns the messages (empty when everything was extracted).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        return [f"{archive.name} is not a readable zip file ({err})"]
    messages: list[str] = []
    with zf:
        members = zf.infolist()
        total = sum(m.file_size for m in members)
        if len(members) > MAX_ZIP_FILES or total > MAX_ZIP_MB << 20:
            return [f"{archive.name} holds {len(members)} files and {total >> 20} MB once extracted, above the limits "
                    f"of {MAX_ZIP_FILES} files and {MAX_ZIP_MB} MB; nothing was extracted"]
        for member in members:
            name = member.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            mode = member.external_attr >> 16
            if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
                messages.append(f"{archive.name}: skipped {name!r}, a path that leaves the submission folder")
                continue
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                messages.append(f"{archive.name}: skipped {name!r}, a link or special file")
                continue
            target = (root / PurePosixPath(*parts)).resolve() if parts else root
            if target != root and root not in target.parents:
                messages.append(f"{archive.name}: skipped {name!r}, a path that leaves the submission folder")
                continue
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    return messages
