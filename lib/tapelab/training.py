"""Training loops for Q-learners, with a progress bar and a history (and their evaluation, re-exported).

* :func:`train` plays ``games`` episodes one after the other and calls
  ``model.train_step(world)`` once per step -- any learner with a ``train_step(world)``
  works, including one a student wrote.
* :func:`train_batched` is the fast path for :class:`tapelab.qlearner.QLearner`: it steps
  ``n_worlds`` worlds side by side and applies the same online target
  y = r + γ·max_a' Q(s', a') (y = r at the end of an episode) to the whole batch of their
  transitions in one compiled update, so TensorFlow is called once per ``n_worlds`` steps.
* :func:`evaluate` (from :mod:`tapelab.evaluation`) plays the greedy policy argmax_a Q(s, a)
  on seeded worlds and, given the exact Q*, reports the regret V*(s₀) − V^greedy(s₀).

Worlds are made by ``make_world``; when it accepts a ``seed`` argument every game gets its
own seed derived from ``seed`` (:func:`tapelab.worldmakers.seeded_worlds`), so a run repeats exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Evaluation lives in its own module; these names stay importable from here, as the notebooks import them.
from tapelab.evaluation import Evaluation, evaluate
from tapelab.seeding import seed_everything
from tapelab.worldmakers import seeded_worlds

__all__ = ["adam_with_decay", "History", "train", "train_batched", "Evaluation", "evaluate"]


def adam_with_decay(learning_rate: float = 0.01, decay_steps: int = 1000, alpha: float = 0.05) -> Any:
    """Adam whose step size η falls from ``learning_rate`` to ``alpha·learning_rate`` over ``decay_steps`` updates.

    A constant η keeps the Q estimates jumping with every noisy reward; letting η shrink
    (cosine decay) lets them settle, so the greedy policy stops flipping near the end.
    """
    import keras

    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=alpha))


@dataclass
class History:
    """What happened during training: one entry per game in ``returns`` and ``losses``.

    ``returns[g]`` is the undiscounted sum of rewards of game g, ``losses[g]`` its mean loss;
    ``snapshots`` holds ``(game, Q)`` pairs, Q = the model's Q values of ``probe_states``.
    """

    returns: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    probe_states: np.ndarray | None = None
    steps: int = 0
    seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")


class _Recorder:
    """Wraps a world, adds up its rewards and counts its actions, whatever the learner's train_step returns."""

    def __init__(self, world: Any) -> None:
        self.__dict__["_world"] = world
        self.__dict__["total"] = 0.0
        self.__dict__["acts"] = 0

    def act(self, action: Any) -> Any:
        out = self._world.act(action)
        self.__dict__["total"] += float(out[0])
        self.__dict__["acts"] += 1
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._world, name, value)


def _progress(games: int, progress: bool, desc: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=games, desc=desc, unit="game")


def _probe(model: Any, probe_states: np.ndarray | None) -> np.ndarray | None:
    return None if probe_states is None else np.asarray(model.predict_q(probe_states))


def _start(model: Any, seed: int | None) -> None:
    if seed is not None:
        seed_everything(seed)
        if hasattr(model, "reseed"):
            model.reseed(seed)


def train(
    model: Any,
    make_world: Callable[..., Any],
    games: int,
    *,
    seed: int | None = None,
    progress: bool = True,
    snapshot_every: int = 0,
    probe_states: np.ndarray | None = None,
    desc: str = "training",
) -> History:
    """Play ``games`` episodes, calling ``model.train_step(world)`` until ``world.terminal()``.

    Each call must act in the world (``world.act``); one that does not raises RuntimeError,
    since the game would never end.

    ``seed`` seeds Python, NumPy and Keras (:func:`tapelab.seeding.seed_everything`), the
    model's exploration (``model.reseed``) and the worlds. Every ``snapshot_every`` games
    (and at the end) the Q values of ``probe_states`` are stored in the history.
    """
    _start(model, seed)
    make = seeded_worlds(make_world, seed)
    history = History(probe_states=None if probe_states is None else np.asarray(probe_states, np.float32))
    bar = _progress(games, progress, desc)
    start = time.perf_counter()
    for game in range(games):
        world = _Recorder(make())
        losses = []
        while not world.terminal():
            before = world.acts
            out = model.train_step(world)
            if world.acts == before:
                raise RuntimeError(
                    f"{type(model).__name__}.train_step(world) must act in the world once per call, actual: it "
                    "returned without calling world.act(action), so the game would never end."
                )
            history.steps += 1
            if isinstance(out, dict) and "loss" in out:
                losses.append(float(out["loss"]))
        history.returns.append(world.total)
        history.losses.append(float(np.mean(losses)) if losses else float("nan"))
        if snapshot_every and (game + 1) % snapshot_every == 0 and probe_states is not None:
            history.snapshots.append((game + 1, _probe(model, history.probe_states)))
        if bar is not None:
            bar.update(1)
            if game % 25 == 0 or game == games - 1:
                bar.set_postfix(ret=f"{np.mean(history.returns[-50:]):.1f}")
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    if probe_states is not None and (not history.snapshots or history.snapshots[-1][0] != games):
        history.snapshots.append((games, _probe(model, history.probe_states)))
    return history


def train_batched(
    model: Any,
    make_world: Callable[..., Any],
    games: int,
    *,
    n_worlds: int = 16,
    seed: int | None = None,
    progress: bool = True,
    snapshot_every: int = 0,
    probe_states: np.ndarray | None = None,
    until: Callable[[Any], bool] | None = None,
    check_every: int = 50,
    stagger: bool = True,
    desc: str = "training",
) -> History:
    """Play ``games`` episodes, ``n_worlds`` at a time, with one compiled update per joint step.

    With ``stagger`` (default) the worlds start one joint step apart, so each batch holds
    transitions from different steps of an episode.

    Each step: Q(s, ·) of all running worlds → ε-greedy actions → each world acts →
    ``model.learn`` on the batch of transitions (same target as ``train_step``). A finished
    world is replaced by a new one until ``games`` have started. ``until(model)``, checked every
    ``check_every`` finished games, stops early when it returns True (e.g. the greedy policy
    is optimal). Needs ``model.learn`` (:class:`tapelab.qlearner.QLearner`).
    """
    if not hasattr(model, "learn"):
        raise TypeError(
            f"train_batched needs a learner with a batched learn() such as tapelab.qlearner.QLearner, "
            f"actual: {type(model).__name__}; use train(model, make_world, games) for a train_step-only learner."
        )
    _start(model, seed)
    make = seeded_worlds(make_world, seed)
    history = History(probe_states=None if probe_states is None else np.asarray(probe_states, np.float32))
    bar = _progress(games, progress, desc)
    start = time.perf_counter()

    # Staggered start: one new world joins per joint step, so the batch mixes early and late
    # steps of an episode instead of moving through the episode in lockstep.
    n = min(n_worlds, games) if not stagger else 1
    worlds = [make() for _ in range(n)]
    started = n
    totals = [0.0] * n
    game_losses: list[list[float]] = [[] for _ in range(n)]
    states = np.array([w.state for w in worlds], np.float32)
    q = model.predict_q(states)
    finished = 0
    while worlds:
        if len(worlds) < n_worlds and started < games and stagger:
            worlds.append(make())
            started += 1
            totals.append(0.0)
            game_losses.append([])
            states = np.concatenate([states, np.array([worlds[-1].state], np.float32)])
            q = np.concatenate([q, model.predict_q(worlds[-1].state)[None, :]])
        actions = model.choose_actions(q)
        rewards = np.empty(len(worlds), np.float32)
        next_states = np.empty_like(states)
        dones = np.empty(len(worlds), np.float32)
        for i, world in enumerate(worlds):
            r, s2 = world.act(int(actions[i]))
            rewards[i] = r
            next_states[i] = s2
            dones[i] = world.terminal()
            totals[i] += float(r)
        # Finished worlds are replaced (or dropped) before the update, so that the update
        # also returns Q of the states the next joint step starts from.
        keep: list[int] = []
        upcoming = next_states.copy()
        done_now = []
        for i, world in enumerate(worlds):
            if dones[i]:
                done_now.append(i)
                if started < games:
                    worlds[i] = make()
                    started += 1
                    upcoming[i] = worlds[i].state
                    keep.append(i)
            else:
                keep.append(i)
        loss, q_upcoming = model.learn(states, actions, rewards, next_states, dones, upcoming)
        history.steps += len(actions)
        for i in range(len(worlds)):
            game_losses[i].append(loss)
        for i in done_now:
            history.returns.append(totals[i])
            history.losses.append(float(np.mean(game_losses[i])))
            totals[i] = 0.0
            game_losses[i] = []
            finished += 1
            if bar is not None:
                bar.update(1)
                if finished % 25 == 0:
                    bar.set_postfix(ret=f"{np.mean(history.returns[-50:]):.1f}")
            if snapshot_every and finished % snapshot_every == 0 and probe_states is not None:
                history.snapshots.append((finished, _probe(model, history.probe_states)))
        if len(keep) != len(worlds):
            worlds = [worlds[i] for i in keep]
            totals = [totals[i] for i in keep]
            game_losses = [game_losses[i] for i in keep]
            upcoming = upcoming[keep]
            q_upcoming = q_upcoming[keep]
        states = upcoming
        q = q_upcoming
        if until is not None and done_now and finished % check_every < len(done_now) and until(model):
            break
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    if probe_states is not None and (not history.snapshots or history.snapshots[-1][0] != finished):
        history.snapshots.append((finished, _probe(model, history.probe_states)))
    return history
