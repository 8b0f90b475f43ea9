"""Tamper checks: a submission compared with the instructor's source notebook.

nbgrader already protects the grade: ``autograde`` puts the source version of
every test cell (code, points) back before running, and its checksums flag
edited locked cells for manual grading. What it does not report is the rest:
a deleted test cell (scored 0 without a word), a duplicated one or a new cell
carrying a test's ``grade_id`` (nbgrader keeps the first, wherever it is),
changed points or flags, test cells in another order. :func:`check_integrity`
names each of them in one sentence; :func:`suspicious_code` lists the student
cells that reach into the kernel or the grader (IPython hooks, the call stack,
``builtins``), which no test inside the kernel can guard against, for review.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

#: nbgrader metadata that decides how a cell is graded.
GRADING_KEYS = ("grade", "solution", "locked", "task", "points")

_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def _read(nb: NotebookNode | Path | str) -> NotebookNode:
    if isinstance(nb, NotebookNode):
        return nb
    return nbformat.read(str(nb), as_version=4)


def _meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _protected(cell: NotebookNode) -> bool:
    meta = _meta(cell)
    return bool(meta.get("grade_id")) and bool(meta.get("grade") or meta.get("locked") or meta.get("task"))


def _kind(meta: dict) -> str:
    return "test cell" if meta.get("grade") and not meta.get("solution") else "locked cell"


def _released(source: str) -> str:
    """A test cell's code as students receive it (hidden tests removed), for comparison."""
    return "\n".join(line.rstrip() for line in _HIDDEN.sub("", source).strip().splitlines())


def check_integrity(submitted: NotebookNode | Path | str, source: NotebookNode | Path | str) -> list[str]:
    """One message per way `submitted` tampers with the test and locked cells of `source`."""
    sub, src = _read(submitted), _read(source)
    wanted = [c for c in src.cells if _protected(c)]
    by_id: dict[str, list[NotebookNode]] = {}
    for cell in sub.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id:
            by_id.setdefault(grade_id, []).append(cell)
    messages = []
    for cell in wanted:
        meta = _meta(cell)
        grade_id, kind = meta["grade_id"], _kind(meta)
        copies = by_id.get(grade_id, [])
        if not copies:
            messages.append(f"{kind} {grade_id} is missing from the submission (deleted?); it scores 0: "
                            "start again from the released notebook and keep every locked cell")
            continue
        if len(copies) > 1:
            messages.append(f"{kind} {grade_id} appears {len(copies)} times (a duplicate, or a new cell carrying "
                            "its grade_id); only one copy is graded")
        got = _meta(copies[0])
        changed = [f"{k} {meta.get(k)!r} -> {got.get(k)!r}" for k in GRADING_KEYS if meta.get(k) != got.get(k)]
        if changed:
            messages.append(f"{kind} {grade_id}: its nbgrader metadata changed ({', '.join(changed)}); "
                            "the assignment's values are used")
        if copies[0].cell_type != cell.cell_type:
            messages.append(f"{kind} {grade_id} changed from a {cell.cell_type} cell to a {copies[0].cell_type} cell")
        elif _released(copies[0].source) != _released(cell.source):
            messages.append(f"{kind} {grade_id} was edited; the assignment's version is graded instead")
    order = [_meta(c)["grade_id"] for c in wanted]
    seen = []
    for cell in sub.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in order and grade_id not in seen:
            seen.append(grade_id)
    if seen != [g for g in order if g in seen]:
        messages.append("the graded cells are in a different order than in the assignment "
                        f"(expected {', '.join(g for g in order if g in seen)}; found {', '.join(seen)})")
    return messages


#: (pattern, what it can do) for code that reaches into the kernel, the tests or the grader.
SUSPICIOUS: tuple[tuple[str, str], ...] = (
    (r"input_transformers|ast_transformers|register_magic|set_custom_exc|events\.register|"
     r"showtraceback|run_cell", "changes how IPython runs or reports the following cells"),
    (r"\bbuiltins\b|__builtins__", "replaces Python's builtins"),
    (r"sys\.settrace|sys\.setprofile|sys\.excepthook|sys\.modules|sys\._getframe", "hooks into the interpreter"),
    (r"\binspect\b|\.f_locals|\.f_back|\.f_globals|\bgc\.get_", "reads other code's frames or objects"),
    (r"\bglobals\s*\(|\b__main__\b", "rewrites the notebook's names from inside a function"),
    (r"\b(same_floats?|same_expr|same_int|is_true|real_bool|real_floats?|pristine|call_fresh)\s*=[^=]",
     "rebinds a name of the trusted comparisons"),
    (r"tapelab\.grading|\bnbgrader\b", "refers to the grader"),
    (r"_WITHHELD|\bwithheld\b|\bcontextvars\b", "switches off the course library's guard for graded exercises"),
    (r"\bthreading\b|\b_thread\b|\bconcurrent\b", "runs code in another thread, where the course library's guard "
     "for graded exercises (a context variable) is off"),
    (r"\bctypes\b|\bos\.fork\b|\bos\.kill|\bos\._exit\b|\bsignal\.", "uses processes, signals or raw memory"),
)


def suspicious_code(submitted: NotebookNode | Path | str) -> list[str]:
    """'review: ...' messages for student cells whose code could subvert the tests from inside the kernel."""
    nb = _read(submitted)
    messages = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _protected(cell):
            continue
        code = "\n".join(line.split("#", 1)[0] for line in cell.source.splitlines())
        hits = [(m.group(0), why) for pattern, why in SUSPICIOUS if (m := re.search(pattern, code))]
        if hits:
            where = _meta(cell).get("grade_id") or f"cell {index + 1}"
            what = "; ".join(f"{word} ({why})" for word, why in hits)
            messages.append(f"review: {where} uses {what}")
    return messages


def _best_copy(copies: list[NotebookNode], cell: NotebookNode) -> NotebookNode:
    """The copy to keep of a protected cell: the one with the released code, else the first."""
    return next((c for c in copies if _released(c.source) == _released(cell.source)), copies[0])


def repair(submitted: NotebookNode | Path | str, source: NotebookNode | Path | str) -> NotebookNode:
    """A copy of `submitted` that nbgrader can grade fairly: one copy of each protected cell, its metadata restored.

    Extra copies of a test cell (duplicates, new cells carrying its grade_id) are
    removed, keeping the copy with the released code; nbgrader would otherwise keep
    the first one, or stop on the stripped metadata of the others. Missing cells stay
    missing (they score 0) and the order stays the student's.
    """
    sub, src = nbformat.from_dict(_read(submitted)), _read(source)
    sub = nbformat.from_dict(nbformat.reads(nbformat.writes(sub), as_version=4))
    keep: dict[str, NotebookNode] = {}
    for cell in (c for c in src.cells if _protected(c)):
        grade_id = _meta(cell)["grade_id"]
        copies = [c for c in sub.cells if _meta(c).get("grade_id") == grade_id]
        if copies:
            best = _best_copy(copies, cell)
            best.metadata["nbgrader"] = dict(_meta(cell))
            keep[grade_id] = best
    sub.cells = [c for c in sub.cells
                 if _meta(c).get("grade_id") not in keep or keep[_meta(c)["grade_id"]] is c]
    return sub


def check_and_repair(path: Path, source: Path) -> list[str]:
    """Tamper and review messages for the working copy at `path`, which is then repaired in place.

    Call it on the grader's copy of a submission (never the original) before
    ``nbgrader autograde``; the messages go into the student's summary.
    """
    messages = check_integrity(path, source) + suspicious_code(path)
    nbformat.write(repair(path, source), str(path))
    return messages
