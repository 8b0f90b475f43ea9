"""Regenerate the sample class in autograder/samples/submissions/ from course/ and solutions/.

Usage: ``python autograder/samples/make_samples.py [--check]``

Each sample student starts from the released notebook (course/<assignment>/<notebook>.ipynb)
and fills its solution cells the way :data:`STUDENTS` says: by default with the
instructor's solution (markers removed); ``STUB`` leaves the released stub;
:func:`made` makes mistakes of the course's catalogue (autograder/mistakes.toml) in
their cells; a :class:`Replace` edits the solution text for what is no typical
mistake (both fail loudly when the text is no longer there, so the samples
follow the notebooks); ``RELEASE`` submits the
released notebook untouched; ``INVALID_JSON`` a cut-off file. The expected
grade of every sample is written down by hand in expected.json next to this
file, with the message the student must read. ``--check`` exits 1 when the
submissions on disk differ from a fresh generation (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = HERE / "submissions"
sys.path.insert(0, str(REPO / "autograder"))

import mistakes  # noqa: E402  (the course's catalogue of typical mistakes)

STUB = "stub"
RELEASE = "release"
INVALID_JSON = "invalid-json"


@dataclass(frozen=True)
class Replace:
    """Replace `old` by `new` in the solution code of one cell (the student's mistake)."""

    old: str
    new: str


def made(*names: str) -> dict[str, mistakes.Mistake]:
    """grade_id -> the catalogue's mistake, for the mistakes called `names` (one cell each)."""
    found = [mistakes.named(name) for name in names]
    return {m.cell: m for m in found}


#: student -> assignment -> RELEASE | INVALID_JSON | {grade_id of a solution cell: STUB | Replace | Mistake}
STUDENTS: dict[str, dict[str, object]] = {
    # every exercise of every assignment right (see students())
    "ada_all_correct": {},
    # two of four exercises done, two left as released
    "ben_partial": {"01_gradient_tape": {"minimise": STUB, "loss_gradients": STUB}},
    # typical mistakes: a constant not watched; model.variables for the gradients
    "cho_no_watch": {"01_gradient_tape": made("no-watch", "all-variables")},
    # an adjoint that misses one of its paths (w1 feeds w3 and w4)
    "dev_missing_path": {"02_chain_rule": made("adjoint-missing-path")},
    # the released notebook, untouched
    "eli_untouched": {"01_gradient_tape": RELEASE},
    # a notebook cut off in transfer
    "fay_invalid_json": {"02_chain_rule": INVALID_JSON},
    # the last exercise loops forever: the cell limit stops it, the rest is scored
    "gus_endless_loop": {"03_jacobians": {"hessian": Replace("    with tf.GradientTape() as outer:",
                                                             "    while True:\n        pass\n    with tf.GradientTape() as outer:")}},
    # the Q-learning mistakes: bootstrapping past the end of an episode, and a world handing out its own state
    "hal_terminal_alias": {"04_qlearner": made("terminal-not-masked", "state-aliasing")},
    # the gradient flows through the target r + γ·max Q(s')
    "ivy_no_stop_gradient": {"04_qlearner": made("no-stop-gradient")},
    # the greedy action as the argmax tensor instead of a Python int
    "jon_argmax_axis": {"04_qlearner": made("argmax-axis")},
    # DQN's TD loss on a replay minibatch that bootstraps from max Q(s') also where the pole fell
    "kai_td_unmasked": {"05_cartpole": made("td-terminal-not-masked")},
    # the same notebook as ada's: graded twice in one run, it must get identical scores and outputs
    "zed_same_as_ada": {"04_qlearner": {}},
}


def assignments() -> list[str]:
    """The assignments released in course/, in order."""
    return sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def students() -> dict[str, dict[str, object]]:
    """:data:`STUDENTS`, with ada_all_correct handing in every released assignment, done right."""
    out = {name: dict(work) for name, work in STUDENTS.items()}
    out["ada_all_correct"] = {a: {} for a in assignments()}
    return out


def _solution_code(source: str) -> str:
    """The solution cell's source as a perfect student would leave it: markers removed."""
    lines = [line for line in source.splitlines(keepends=True)
             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    return "".join(lines).rstrip("\n")


def _notebook_name(assignment: str) -> str:
    return next((REPO / "course" / assignment).glob("*.ipynb")).name


def student_notebook(assignment: str, edits: dict) -> dict:
    """The released notebook of `assignment` with its solution cells filled according to `edits`."""
    name = _notebook_name(assignment)
    released = json.loads((REPO / "course" / assignment / name).read_text(encoding="utf-8"))
    solution = json.loads((REPO / "solutions" / assignment / name).read_text(encoding="utf-8"))
    answers = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in solution["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    unknown = set(edits) - set(answers)
    if unknown:
        raise KeyError(f"{assignment}: no solution cell {sorted(unknown)}; solution cells: {sorted(answers)}")
    for cell in released["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("solution"):
            continue
        edit = edits.get(meta["grade_id"])
        if edit == STUB:
            continue
        code = _solution_code(answers[meta["grade_id"]])
        if isinstance(edit, mistakes.Mistake):
            code = mistakes.make(code, edit)
        elif isinstance(edit, Replace):
            if edit.old not in code:
                raise ValueError(f"{assignment}/{meta['grade_id']}: {edit.old!r} is not in the solution any more; "
                                 "update the sample in make_samples.py")
            code = code.replace(edit.old, edit.new)
        cell["source"] = code
    return released


def generate(dest: Path) -> None:
    """Write every sample submission under `dest`/<student>/<assignment>/<notebook>.ipynb."""
    for student, work in students().items():
        for assignment, edits in work.items():
            path = dest / student / assignment / _notebook_name(assignment)
            path.parent.mkdir(parents=True, exist_ok=True)
            if edits == RELEASE:
                shutil.copyfile(REPO / "course" / assignment / path.name, path)
            elif edits == INVALID_JSON:
                text = (REPO / "course" / assignment / path.name).read_text(encoding="utf-8")
                path.write_text(text[: len(text) // 2], encoding="utf-8")
            else:
                nb = student_notebook(assignment, edits)
                path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                encoding="utf-8")


def differences(fresh: Path, current: Path) -> list[str]:
    """Files that differ between a fresh generation and the samples on disk."""
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()} \
            if root.exists() else {}
    a, b = files(fresh), files(current)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the samples differ from a fresh generation")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tapelab-samples-") as tmp:
        fresh = Path(tmp) / "submissions"
        generate(fresh)
        diff = differences(fresh, OUT)
        if args.check:
            if diff:
                print("autograder/samples/submissions differs from a fresh generation: " + ", ".join(diff)
                      + "\nrun: python autograder/samples/make_samples.py", file=sys.stderr)
                return 1
            print("autograder/samples/submissions is up to date")
            return 0
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
    print(f"wrote {sum(len(w) for w in students().values())} sample submissions of {len(students())} students "
          f"to {OUT.relative_to(REPO)} ({len(diff)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
