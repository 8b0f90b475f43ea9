"""Tests of the solution notebooks in solutions/: structure, stored outputs, and the hints their tests give.

The structural checks read the notebooks as JSON (cheap). The mistake checks
run a notebook's code once in this process, then swap one solution for a
typical wrong one and check that the exercise's test cell names the mistake
with its `tapelab.feedback` code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tapelab.feedback import MISTAKES, Hint

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(REPO.glob("solutions/*/*.ipynb"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
#: An exercise heading: "### Exercise 2 (3 points): ..." or "### ✏️ Your turn: ... (2 + 4 + 3 points)",
#: the parts in the order of the exercise's test cells.
EXERCISE = re.compile(r"^#+[^\n]*?(?:Exercise\s+(\d+)|Your turn)[^\n]*?\((\d+(?:\s*\+\s*\d+)*) points?\)", re.M)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _ids(path: Path) -> str:
    return path.parent.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_metadata_and_layout(path: Path) -> None:
    """Is the notebook one per assignment folder, with the course kernelspec and a title cell first?"""
    nb = _load(path)
    assert nb["metadata"].get("kernelspec") == KERNELSPEC, f"{path.name}: kernelspec {nb['metadata'].get('kernelspec')}"
    assert list(path.parent.glob("*.ipynb")) == [path], f"{path.parent.name} must hold exactly one notebook"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and _src(first).startswith("# "), f"{path.name} must open with a title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_graded_cells_are_well_formed(path: Path) -> None:
    """Has every graded cell a unique grade_id, points, a one-line docstring, visible then hidden tests?"""
    cells = _load(path)["cells"]
    ids = [_meta(c)["grade_id"] for c in cells if _meta(c)]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate grade_id in {ids}"
    tests = [c for c in cells if _meta(c).get("grade")]
    solutions = [c for c in cells if _meta(c).get("solution")]
    assert tests and solutions, f"{path.name} has no graded exercise"
    for cell in tests:
        meta, src = _meta(cell), _src(cell)
        assert meta.get("locked") and meta.get("points", 0) > 0, f"{meta['grade_id']}: locked test cells need points"
        first = src.splitlines()[0]
        assert re.fullmatch(r'"""[^"]+\?"""', first), f"{meta['grade_id']}: first line must be a '\"\"\"Does ...?\"\"\"'"
        visible, _, hidden = src.partition("### BEGIN HIDDEN TESTS")
        assert hidden and "### END HIDDEN TESTS" in hidden, f"{meta['grade_id']} has no hidden tests"
        assert len(visible.strip().splitlines()) > 1, f"{meta['grade_id']} has no visible test before the hidden ones"
    for cell in solutions:
        src = _src(cell)
        assert cell["cell_type"] == "code" and not _meta(cell).get("grade")
        assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src, f"{_meta(cell)['grade_id']} lacks markers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_prose_comes_before_each_exercise(path: Path) -> None:
    """Is every solution cell introduced by a markdown cell since the previous exercise's test?"""
    last_graded, seen_prose = -1, False
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "markdown":
            seen_prose = True
        elif _meta(cell).get("solution"):
            assert seen_prose, f"{path.name}: solution cell {_meta(cell)['grade_id']} has no explanation before it"
        if _meta(cell).get("grade"):
            last_graded, seen_prose = i, False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_exercise_headings_state_the_points(path: Path) -> None:
    """Do the exercise headings' points ('Exercise k (p points)', 'Your turn: ... (a + b points)') match the test cells', in order?"""
    cells = _load(path)["cells"]
    headings = [(k, parts) for c in cells if c["cell_type"] == "markdown" for k, parts in EXERCISE.findall(_src(c))]
    points = [_meta(c)["points"] for c in cells if _meta(c).get("grade")]
    assert headings, f"{path.name}: no exercise heading states its points"
    numbers = [int(k) for k, _ in headings if k]
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: exercises numbered {numbers}"
    stated = [int(p) for _, parts in headings for p in parts.split("+")]
    assert stated == points, f"{path.name}: headings say {stated}, test cells give {points}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_outputs_are_from_one_clean_run(path: Path) -> None:
    """Were the stored outputs made by one run, top to bottom, without errors?"""
    code = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}; re-run it top to bottom"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: a cell raised {out.get('ename')}"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), \
                f"{path.name}: a cell wrote to stderr: {''.join(out['text'])[:200]}"


# ------------------------------------------------------------------ mistakes -> hints

#: (notebook, grade_id of the solution cell, grade_id of its test cell, (old, new) edits, expected code)
MISTAKE_CASES = [
    ("01_gradient_tape", "derivative", "test_derivative",
     [("        tape.watch(x)\n", "")], "no-watch"),
    ("01_gradient_tape", "huber", "test_huber",
     [("abs_e = tf.abs(e)", "abs_e = np.abs(e)"), ("return tf.where", "return np.where")], "numpy-in-tape"),
    ("01_gradient_tape", "huber", "test_huber",
     [("abs_e = tf.abs(e)", "abs_e = tf.abs(e.numpy())"), ("tf.square(e)", "tf.square(e.numpy())")],
     "numpy-in-tape"),
    ("01_gradient_tape", "minimise", "test_minimise",
     [("tf.Variable(tf.cast(start, tf.float32))", "tf.Variable(start)")], "int-dtype"),
    ("01_gradient_tape", "minimise", "test_minimise",
     [("x.assign_sub(learning_rate * tape.gradient(y, x))", "x = x - learning_rate * tape.gradient(y, x)")],
     "no-watch"),
    ("01_gradient_tape", "loss_gradients", "test_loss_gradients",
     [("model.trainable_variables", "model.variables")], "all-variables"),
    ("02_chain_rule", "seed_adjoints", "test_seed_adjoints",
     [('wbar["w1"] = sp.cos(w1) + w2', 'wbar["w1"] = sp.cos(w1)')], "adjoint-missing-path"),
    ("02_chain_rule", "graph2_adjoints", "test_graph2_adjoints",
     [('"w1": sp.exp(w3) * w2 + w2 * sp.cos(w1),', '"w1": sp.exp(w3) * w2,')], "adjoint-missing-path"),
    ("03_jacobians", "jacobian", "test_jacobian",
     [("        tape.watch(x)\n", "")], "no-watch"),
    ("03_jacobians", "jacobian", "test_jacobian",
     [("tf.constant(point, dtype=tf.float64)", "tf.constant(point)")], "int-dtype"),
    ("03_jacobians", "input_jacobians", "test_input_jacobians",
     [("        tape.watch(xb)\n", "")], "no-watch"),
    ("03_jacobians", "hessian", "test_hessian",
     [("            inner.watch(x)\n", "")], "no-watch"),
]


class _Run:
    """A solution notebook's code run once in a namespace, with its cells by grade_id."""

    def __init__(self, path: Path) -> None:
        self.cells = {_meta(c)["grade_id"]: _src(c) for c in _load(path)["cells"] if _meta(c)}
        self.ns: dict = {"__name__": "__notebook__"}
        import matplotlib

        matplotlib.use("Agg")
        for cell in _load(path)["cells"]:
            if cell["cell_type"] == "code":
                self.run(_src(cell))

    def run(self, source: str) -> None:
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
        exec(compile(code, "<cell>", "exec"), self.ns)


@pytest.fixture(scope="module")
def runs() -> dict[str, _Run]:
    """The notebooks run so far; afterwards, the process-wide settings they changed are restored."""
    import matplotlib
    import matplotlib.pyplot as plt
    import tensorflow as tf

    backend, tf_level = matplotlib.get_backend(), tf.get_logger().level
    cache: dict[str, _Run] = {}
    yield cache
    plt.close("all")
    tf.get_logger().setLevel(tf_level)
    matplotlib.use(backend)


def _run(runs: dict[str, _Run], assignment: str) -> _Run:
    if assignment not in runs:
        path = next((REPO / "solutions" / assignment).glob("*.ipynb"))
        runs[assignment] = _Run(path)
    return runs[assignment]


@pytest.mark.parametrize(
    "assignment, solution, test, edits, code", MISTAKE_CASES,
    ids=[f"{c[0][:2]}-{c[1]}-{c[4]}" for c in MISTAKE_CASES],
)
def test_a_typical_mistake_gets_its_hint(runs, assignment, solution, test, edits, code) -> None:
    """Does the test cell name the mistake (its tapelab.feedback code) when the solution has it?"""
    assert code in MISTAKES
    run = _run(runs, assignment)
    source = run.cells[solution]
    wrong = source
    for old, new in edits:
        assert old in wrong, f"the solution of {solution} no longer contains {old!r}; update this case"
        wrong = wrong.replace(old, new)
    try:
        run.run(wrong)
        with pytest.raises(Hint) as caught:
            run.run(run.cells[test])
        assert caught.value.code == code, f"{test} gave {caught.value.code!r}: {caught.value}"
        assert MISTAKES[code][1] in str(caught.value)
    finally:
        run.run(source)  # the notebook ran (and passed every test cell) with this source


def test_every_notebook_mistake_code_is_exercised() -> None:
    """Do the cases above cover mistakes 1-4 and 12, the ones the first three notebooks teach?"""
    assert {c[4] for c in MISTAKE_CASES} == {"no-watch", "numpy-in-tape", "int-dtype", "all-variables",
                                            "adjoint-missing-path"}


def test_sanitizers_touch_only_what_varies() -> None:
    """Do the nbval sanitizers replace timings, addresses and tqdm rates, and leave the course's numbers alone?"""
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((REPO / "solutions" / "nbval_sanitize.cfg").read_text(encoding="utf-8"))
    assert len(patterns) >= 4

    def clean(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    assert clean("[<matplotlib.lines.Line2D at 0x7f3a2c1b4d90>]") == "[<matplotlib.lines.Line2D at 0xADDRESS>]"
    assert clean("Wall time: 1.23 s") == clean("Wall time: 870 ms")
    assert clean("CPU times: user 1.1 s, sys: 20 ms, total: 1.12 s") == clean("CPU times: user 2 s, sys: 0 ns, total: 2 s")
    assert clean("1.23 ms ± 45.6 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)") == "TIMEIT"
    assert clean("100%|██████████| 200/200 [00:03<00:00, 58.21it/s]") == clean("100%|██████████| 200/200 [00:05<00:00, 38.90it/s]")
    kept = "[3.7071 0.7854] tf.Tensor(6.0, shape=(), dtype=float32) step 3 took 12 games, 0.5 s-1 "
    assert clean(kept) == kept
