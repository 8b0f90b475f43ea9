"""Q-learning speed on MultiArmedBandit2: the original eager loop against tapelab, in one process.

Figures (``run()``):

* ``train_steps_per_s_seed`` -- the original notebook's QLearner and loop (``bench/seed_qlearner.py``,
  eager TensorFlow), time-boxed to 1500 steps or 20 s;
* ``train_steps_per_s_tapelab`` -- :func:`tapelab.training.train_batched` (32 worlds per
  compiled update, the same online target);
* ``train_steps_per_s_tapelab_online`` -- the reference ``QLearner.train_step`` called once per
  step by :func:`tapelab.training.train` (one world, compiled update);
* ``train_speedup_vs_seed`` -- batched tapelab over the original (goal ≥ 30);
* ``seconds_to_optimal_policy`` / ``games_to_optimal_policy`` -- batched training (8 worlds,
  ε = 0.3, Adam 0.01 with cosine decay) until the greedy policy is optimal on its whole
  path (:meth:`tapelab.qstar.QStar.is_greedy_optimal`), checked every 25 games (goal ≤ 10 s);
* ``online_games_to_optimal_policy`` -- the same question for the plain online loop
  ``train(model, MultiArmedBandit2, ...)`` with the reference ``train_step``, checked every 25 games;
* ``student_steps_per_s`` / ``student_steps_per_s_plain_keras`` / ``student_step_speedup`` -- the
  solution's own eager ``train_step`` (a tape, ``self(state)``, ``apply_gradients``) with
  QLearnerBase's compiled network call and optimizer step, and with both run op by op;
* ``learning_test_cpu_seconds`` -- process CPU seconds of the notebook's learning test cell
  (``test_whole_games``, hidden part included) for the solution's ``MyQLearner`` (``correct``) and
  for one that bootstraps past the end of a game (``wrong``).

The online loop, how many games (reference ``train_step`` called by ``train``, ε = 0.3,
γ = 0.99, fixed seeds, greedy policy checked on its whole path after the last game):

* Adam with a constant step 0.01: first optimal after 250-500 games, but the policy keeps
  flipping between the optimum and the 0 → 2 → 0 cycle (regret 5.7), so no fixed game count
  is reliable;
* Adam with cosine decay (``tapelab.training.adam_with_decay``) from 0.01 to 0.0005 over the
  run: 400 games → optimal for 6 of 6 seeds; 300 games → 2 of 8; 200 games → 0 of 8;
* decay from 0.03: 150 games → 4 of 8 seeds, 200 games → 5 of 8; from 0.05: 150 games → 5 of 8;
  from 0.05 with 64 hidden units: 100 games → 5 of 8.

A student's ``train_step`` runs eagerly. Op by op, one step costs about as much as one step of
the original loop (~50-70 steps/s on 2 cores, against ~750 for the compiled reference), so 400
games (4,800 steps) would take over a minute. ``QLearnerBase`` runs its network call and the
optimizer step as compiled functions (same numbers), about 3x faster; half of what is left is
the student's own tensor code (a ``tf.gather`` with ``batch_dims`` has a slow eager gradient,
the reason ``chosen_q``'s solution uses a one-hot mask).

The notebook's graded learning test used to train a student's learner for up to 300 games and
check the greedy policy against Q*: a correct learner settled on a wrong arm in about one run of
ten, and a wrong one paid two runs (37-43 s of grading on 2 cores). It now takes the exploration
over (its own ``choose_action`` on the learner follows a fixed plan of actions) and compares three
whole games, step by step, with Q-learning computed in float64 NumPy from the same hand-set
weights, under plain SGD: the action, the loss and every weight after every step. A correct
learner matches to ~5e-7 (the test allows 1e-4, and no ReLU pre-activation on the path is within
1e-3 of zero), so it passes on every run; the cell costs well under a second of CPU either way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Sequence


HERE = Path(__file__).resolve().parent
SOLUTION_04 = HERE.parent / "solutions" / "04_qlearner" / "qlearner.ipynb"


def _cells() -> dict[str, str]:
    """The code of the 04 solution notebook's nbgrader cells, by grade_id (magics dropped)."""
    cells = json.loads(SOLUTION_04.read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"]: "\n".join(
                line for line in "".join(c["source"]).splitlines() if not line.startswith("%"))
            for c in cells if c["cell_type"] == "code" and c["metadata"].get("nbgrader")}


def _solution_namespace(edits: Sequence[tuple[str, str]] = ()) -> dict:
    """The 04 notebook's setup, ``chosen_q`` and ``my_qlearner`` cells run in a fresh namespace,
    ``my_qlearner`` with each (old, new) of `edits` applied."""
    cells = _cells()
    sys.modules.pop("tapelab.grading.trusted", None)  # the setup cell's import must snapshot NumPy, TF, tapelab
    answer = cells["my_qlearner"]
    for old, new in edits:
        assert answer.count(old) == 1, old
        answer = answer.replace(old, new)
    namespace: dict = {"__name__": "__bench__"}
    for source in (cells["q_setup"], cells["chosen_q"], answer):
        exec(source, namespace)
    return namespace


def _solution_learner() -> type:
    """``MyQLearner`` as the solution notebook of 04 writes it."""
    return _solution_namespace()["MyQLearner"]


def learning_test_cpu_seconds() -> dict[str, float]:
    """Process CPU seconds of running the learning test cell, for a correct and for a wrong MyQLearner."""
    test = _cells()["test_whole_games"]
    seconds = {}
    for name, edits in (("correct", ()), ("wrong", (("if world.terminal():", "if False:"),))):
        namespace = _solution_namespace(edits)
        start = time.process_time()
        try:
            exec(test, namespace)
            passed = True
        except AssertionError:
            passed = False
        seconds[name] = time.process_time() - start
        assert passed == (name == "correct"), f"the learning test {'failed' if name == 'correct' else 'passed'} the {name} learner"
    return seconds


def student_steps_per_s(compiled: bool, steps: int = 600) -> float:
    """Steps per second of the solution's eager ``train_step`` on MultiArmedBandit2, through
    QLearnerBase's compiled network and optimizer step (``compiled``) or op by op as plain Keras runs it."""
    from tapelab.seeding import seed_everything
    from tapelab.training import adam_with_decay, train
    from tapelab.worlds import MultiArmedBandit2

    seed_everything(0)
    model = _solution_learner()(5, 4, hidden_units=64, exploration_prob=0.3, discount_rate=0.99, fast_path=compiled)
    model.compile(optimizer=adam_with_decay(0.05, 1200))
    train(model, MultiArmedBandit2, 2, seed=0, progress=False)  # warm-up: traces
    history = train(model, MultiArmedBandit2, steps // 12, seed=1, progress=False)
    return history.steps_per_second


def _seed_module():
    spec = importlib.util.spec_from_file_location("seed_qlearner", HERE / "seed_qlearner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run() -> dict:
    from tapelab.qlearner import QLearner
    from tapelab.qstar import q_star
    from tapelab.seeding import seed_everything
    from tapelab.training import adam_with_decay, train, train_batched
    from tapelab.worlds import MultiArmedBandit2

    qstar = q_star(MultiArmedBandit2, 0.99)
    results: dict[str, float | int] = {}

    # The original eager loop, time-boxed.
    seed = _seed_module()
    seed.train(max_steps=24)  # warm-up: first calls build the model
    steps, seconds = seed.train(max_steps=1500, max_seconds=20)
    results["train_steps_per_s_seed"] = steps / seconds

    # tapelab, batched fast path.
    seed_everything(0)
    model = QLearner(5, 4, exploration_prob=0.1, discount_rate=0.99)
    model.compile(optimizer="adam")
    train_batched(model, MultiArmedBandit2, 64, n_worlds=32, seed=0, progress=False)  # warm-up
    history = train_batched(model, MultiArmedBandit2, 2000, n_worlds=32, seed=1, progress=False)
    results["train_steps_per_s_tapelab"] = history.steps_per_second
    results["train_speedup_vs_seed"] = history.steps_per_second / results["train_steps_per_s_seed"]

    # tapelab, one train_step per step.
    history = train(model, MultiArmedBandit2, 100, seed=2, progress=False)
    results["train_steps_per_s_tapelab_online"] = history.steps_per_second

    # A student's eager train_step (the solution of 04), as the grader's learning test runs it.
    results["student_steps_per_s_plain_keras"] = student_steps_per_s(compiled=False)
    results["student_steps_per_s"] = student_steps_per_s(compiled=True)
    results["student_step_speedup"] = results["student_steps_per_s"] / results["student_steps_per_s_plain_keras"]
    results["learning_test_cpu_seconds"] = learning_test_cpu_seconds()

    # Time to the optimal policy, batched.
    seed_everything(0)
    model = QLearner(5, 4, exploration_prob=0.3, discount_rate=0.99)
    model.compile(optimizer=adam_with_decay(0.01, 1500 * 12 // 8))
    start = time.perf_counter()
    history = train_batched(model, MultiArmedBandit2, 3000, n_worlds=8, seed=0, progress=False,
                            until=lambda m: qstar.is_greedy_optimal(m.predict_q), check_every=25)
    optimal = qstar.is_greedy_optimal(model.predict_q)
    results["seconds_to_optimal_policy"] = time.perf_counter() - start if optimal else float("inf")
    results["games_to_optimal_policy"] = len(history.returns) if optimal else -1

    # Games to the optimal policy, online with the reference train_step (time-boxed to 45 s).
    seed_everything(0)
    model = QLearner(5, 4, exploration_prob=0.3, discount_rate=0.99)
    model.compile(optimizer=adam_with_decay(0.01, 400 * 12))
    games, start = 0, time.perf_counter()
    results["online_games_to_optimal_policy"] = -1
    while games < 600 and time.perf_counter() - start < 45:
        train(model, MultiArmedBandit2, 25, seed=1000 + games, progress=False)
        games += 25
        if qstar.is_greedy_optimal(model.predict_q):
            results["online_games_to_optimal_policy"] = games
            break
    return {key: (float(value) if isinstance(value, float) else value) for key, value in results.items()}
