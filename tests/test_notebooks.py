"""Tests of the solution notebooks in solutions/: structure, stored outputs, and the hints their tests give.

The structural checks read the notebooks as JSON (cheap). The mistake checks
run a notebook's code once in this process, then swap one solution for a
typical wrong one and check that the exercise's test cell names the mistake
with its `tapelab.feedback` code.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tapelab.feedback import MISTAKES, Hint

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "autograder"))

import mistakes  # noqa: E402  (the course's catalogue of mistakes, autograder/mistakes.toml)
from notebook_runs import NotebookRun  # noqa: E402
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

#: the catalogue's mistakes in every notebook but 04 (whose mistakes tests/test_feedback_hints.py grades).
MISTAKE_CASES = [m for m in mistakes.load() if m.assignment != "04_qlearner"]


@pytest.mark.parametrize("mistake", MISTAKE_CASES, ids=[f"{m.assignment[:2]}-{m.name}" for m in MISTAKE_CASES])
def test_a_typical_mistake_gets_its_hint(notebook_runs, mistake) -> None:
    """Does the test cell name the mistake (its tapelab.feedback code) when the solution has it?"""
    assert mistake.code in MISTAKES
    run = notebook_runs(mistake.assignment)
    source = run.cells[mistake.cell]
    try:
        run.run(mistakes.make(source, mistake))
        with pytest.raises(Hint) as caught:
            run.run(run.cells[mistake.hint_cell])
        assert caught.value.code == mistake.code, f"{mistake.hint_cell} gave {caught.value.code!r}: {caught.value}"
        assert MISTAKES[mistake.code][1] in str(caught.value)
    finally:
        run.run(source)  # the notebook ran (and passed every test cell) with this source


def test_every_notebook_mistake_code_is_exercised() -> None:
    """Do the cases above cover the mistakes the first three notebooks teach, and the three of 05's TD loss?"""
    assert {m.code for m in MISTAKE_CASES if m.assignment < "04"} == {
        "no-watch", "variable-rebound", "numpy-in-tape", "int-dtype", "all-variables", "adjoint-missing-path"}
    assert {m.code for m in MISTAKE_CASES if m.assignment == "05_cartpole"} == {
        "terminal-not-masked", "no-stop-gradient", "shape-broadcast"}


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


# ------------------------------------------------------------------ 02: backward must be the student's own reverse pass

PULL = """
def backward(graph, x):
    values = chainrule.forward(graph, x)
    wbar = {}
    for node in reversed(graph.nodes):
        terms = [wbar[c] * float(graph.node(c).local_derivative(node.name).subs(values)) for c in graph.children(node.name)]
        wbar[node.name] = sum(terms) if terms else 1.0
    return wbar
"""
#: (name, the student's backward cell, None when test_backward must pass, else a text of its message)
BACKWARD_CASES = [
    ("pull-from-the-children", PULL, None),
    ("calls-adjoints", "def backward(graph, x):\n    return chainrule.adjoints(graph, x)",
     "backward must compute the adjoints itself, actual: it called chainrule.adjoints"),
    ("calls-an-imported-alias", "from tapelab.chainrule import adjoints as reverse\n\n"
     "def backward(graph, x):\n    return reverse(graph, x)", "it called chainrule.adjoints"),
    ("library-in-a-default", "def backward(graph, x, f=chainrule.gradient):\n"
     "    return dict(zip(graph.names, [*f(graph, x), 1.0, 1.0, 1.0]))", "it called chainrule.gradient"),
    ("through-the-picture", "def backward(graph, x):\n    graphs.draw_graph(graph, x)\n    return {}",
     "it called chainrule.adjoints"),
    ("a-partial", "import functools\nbackward = functools.partial(chainrule.adjoints)", "it called chainrule.adjoints"),
    ("a-pristine-copy", "from tapelab.grading.trusted import pristine as saved\n\n"
     "def backward(graph, x):\n    return saved('tapelab.chainrule').adjoints(graph, x)", "it called chainrule.adjoints"),
    ("the-checkers-errors", "def backward(graph, x):\n"
     "    return {n: chainrule.check_adjoints({n: 0.0}, graph, at=x).errors[n] for n in graph.names}",
     "it called chainrule._symbolic"),
    ("sympy-numbers", PULL.replace("float(graph.node(c)", "(graph.node(c)").replace("1.0", "sp.Integer(1)"),
     "must be a float, found a"),
    ("inputs-only", PULL.replace("    return wbar", "    return {n.name: wbar[n.name] for n in graph.input_nodes()}"),
     "the dict has no entry for w3, w4, w5"),
]


@pytest.mark.parametrize("name, code, message", BACKWARD_CASES, ids=[c[0] for c in BACKWARD_CASES])
def test_02_backward_is_checked_as_the_students_own(notebook_runs, name, code, message) -> None:
    """Does test_backward pass a reverse pass written another way, and fail one that calls the library's?"""
    import tapelab.chainrule

    run = notebook_runs("02_chain_rule")
    try:
        run.run(code)
        if message is None:
            run.run(run.cells["test_backward"])
        else:
            with pytest.raises(AssertionError, match=re.escape(message)):
                run.run(run.cells["test_backward"])
    finally:
        run.run(run.cells["backward"])
    assert tapelab.chainrule.adjoints(tapelab.chainrule.seed_graph(), (0.0, 1.0))["w2"] == 0.0  # put back


# ------------------------------------------------------------------ 04: the Q-learning tests tell right from wrong


@pytest.fixture(scope="module")
def run04(notebook_runs) -> NotebookRun:
    """The 04 solution notebook run once in this process (every test cell passed)."""
    return notebook_runs("04_qlearner")


def _edited(run: NotebookRun, cell: str, edits) -> str:
    source = run.cells[cell]
    for old, new in edits:
        assert source.count(old) == 1, f"the solution of {cell} no longer contains {old!r} once; update this case"
        source = source.replace(old, new)
    return source


APPLY = "        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))\n"
#: (name, edits of the solution's MyQLearner, whether test_whole_games must pass)
WHOLE_GAMES_CASES = [
    ("self.network", [("self(state, training=True)", "self.network(state, training=True)"),
                      ("self(tf.constant([next_state]))", "self.network(tf.constant([next_state]))")], True),
    ("tf.gather", [("chosen_q(q[None, :], tf.constant([action]))", "tf.gather(q, [action])")], True),
    ("plain-square", [("loss = self.loss_fn(target, chosen_q(q[None, :], tf.constant([action])))",
                       "loss = tf.square(q[action] - target[0])")], True),
    ("float64-target", [("tf.cast(reward + self.discount_rate * best_next, tf.float32)",
                         "tf.cast(tf.cast(reward, tf.float64) + self.discount_rate * tf.cast(best_next, tf.float64), "
                         "tf.float32)")], True),
    ("no-terminal-mask", [("if world.terminal():", "if False:")], False),
    ("no-stop-gradient", [("tf.stop_gradient(self(tf.constant([next_state]))[0])", "self(tf.constant([next_state]))[0]")],
     False),
    ("no-optimizer-step", [(APPLY, "")], False),
    ("wrong-discount", [("reward + self.discount_rate * best_next", "reward + 0.99 * best_next")], False),
    ("max-on-the-wrong-axis", [("q_next = tf.stop_gradient(self(tf.constant([next_state]))[0])",
                                "q_next = tf.stop_gradient(self(tf.constant([next_state])))"),
                               ("best_next = tf.reduce_max(q_next)", "best_next = tf.reduce_max(q_next, axis=0)"),
                               ("tf.float32), [1])", "tf.float32), [-1])")], False),
    ("update-twice", [(APPLY, APPLY + APPLY)], False),
    ("own-epsilon-greedy", [("action = self.choose_action(q)",
                             "action = int(tf.argmax(q)) if self.rng.random() > self.exploration_prob "
                             "else int(self.rng.integers(4))")], False),
    ("reference-subclass", [("class MyQLearner(QLearnerBase):", "class MyQLearner(QLearner):")], False),
]


@pytest.mark.parametrize("name, edits, passes", WHOLE_GAMES_CASES, ids=[c[0] for c in WHOLE_GAMES_CASES])
def test_04_whole_games_tell_a_right_update_from_a_wrong_one(run04, name, edits, passes) -> None:
    """Does test_whole_games pass a train_step written differently but right, and fail each wrong one?"""
    failed = run04.failing({"my_qlearner": _edited(run04, "my_qlearner", edits)}, ("test_whole_games",))
    assert ("test_whole_games" not in failed) == passes, failed or "test_whole_games passed"


def test_04_base_methods_earn_nothing(run04) -> None:
    """Does a MyQLearner that leaves choose_action to QLearnerBase (no method, or super()) fail test_choose_action?"""
    train_step = run04.cells["my_qlearner"].split("    def train_step")[1]
    for body in ("", "    def choose_action(self, q):\n        return super().choose_action(q)\n\n"):
        code = "class MyQLearner(QLearnerBase):\n" + body + "    def train_step" + train_step
        failed = run04.failing({"my_qlearner": code}, ("test_choose_action", "test_train_step"))
        assert list(failed) == ["test_choose_action"], failed
        assert failed["test_choose_action"].startswith("NotImplementedError: MyQLearner.choose_action(q) is not written")


#: (name, code that replaces one solution cell, the test cell that must fail anyway)
TAMPER_04 = [
    ("eq-always-true-state", "corridor", '''
import tapelab.worlds
tapelab.worlds.check_world = lambda *a, **k: None
tapelab.worlds.find_world_problems = lambda *a, **k: []
check_world, find_world_problems = tapelab.worlds.check_world, tapelab.worlds.find_world_problems

class Yes(list):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False

class Corridor:
    action_dim = 2
    def __init__(self, length=4, slip=0.1, seed=None):
        self.state = Yes([0.0])
    def terminal(self):
        return True
    def act(self, action):
        return -1.0, Yes([0.0])
''', "test_corridor"),
    ("shadowed-trusted-names", "corridor", '''
same_float = same_floats = is_true = lambda *a, **k: True
np.allclose = lambda *a, **k: True

class Corridor:
    action_dim = 2
    def __init__(self, length=4, slip=0.1, seed=None):
        self.length, self.position = length, 0
        self.state = [1.0] + [0.0] * (length - 1)
    def terminal(self):
        return self.position == self.length - 1
    def act(self, action):
        if action not in (0, 1):
            raise ValueError(action)
        self.position = (self.position + (1 if action else -1)) % self.length   # no walls: wraps around
        self.state = [float(i == self.position) for i in range(self.length)]
        return -1.0, list(self.state)
''', "test_corridor"),
    ("patched-numpy", "chosen_q", '''
np.allclose = np.isclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None

def chosen_q(q_values, actions):
    return tf.zeros([tf.shape(q_values)[0]])
''', "test_chosen_q"),
    ("silenced-hints-and-loops", "my_qlearner", '''
import tapelab.feedback
tapelab.feedback.expect = expect = fail = lambda *a, **k: None
range = lambda *a: ()
isinstance = lambda *a: True
abs = lambda x: 0.0

class MyQLearner(QLearnerBase):
    def choose_action(self, q):
        return 0
    def train_step(self, world):
        return {"loss": 0.0, "action": 0, "reward": 0.0}
''', "test_whole_games"),
]


@pytest.mark.parametrize("name, cell, code, test", TAMPER_04, ids=[c[0] for c in TAMPER_04])
def test_04_tampering_earns_nothing(run04, monkeypatch, name, cell, code, test) -> None:
    """Do patched modules, shadowed names and objects that agree with everything still fail the test cell?"""
    import numpy as np

    import tapelab.feedback
    import tapelab.worlds

    for module, names in ((np, ("allclose", "isclose")), (np.testing, ("assert_allclose",)),
                          (tapelab.worlds, ("check_world", "find_world_problems")), (tapelab.feedback, ("expect",))):
        for attribute in names:
            monkeypatch.setattr(module, attribute, getattr(module, attribute))  # put back after the test
    failed = run04.failing({cell: code}, (test,))  # puts the notebook's names back, shadows and all
    assert test in failed, f"{test} passed for {name}"
