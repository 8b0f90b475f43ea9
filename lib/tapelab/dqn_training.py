"""The fast path for DQN: many copies of an environment stepped as one batch, greedy checks on the way.

:func:`train_dqn` runs a compiled :class:`tapelab.dqn_learner.DQN` on ``n_worlds`` copies of an
environment (:class:`tapelab.gym_worlds.VectorWorlds`). Each joint step:

1. Q(s, ·) of the n states in one forward pass, and n ε-greedy actions;
2. one NumPy step of all n copies;
3. the n transitions (s, a, r, s', done = terminated), less the copies that were only reset, go to
   the replay buffer;
4. ``updates_per_step`` updates, each on a minibatch the buffer samples (one compiled call each).

Python touches each transition once; TensorFlow runs once for the n actions and once per update.
Every ``check_every`` transitions :func:`greedy_returns` plays the greedy policy argmax_a Q(s, a)
for ``eval_episodes`` episodes (all at once, one copy each) and the mean return is recorded; the run
stops at the first check that reaches ``goal`` (CartPole's classic "solved": a mean of 195 over 100
episodes), or after ``steps`` transitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tapelab.gym_worlds import VectorWorlds

__all__ = ["DQNHistory", "train_dqn", "greedy_returns"]


@dataclass
class DQNHistory:
    """What happened during :func:`train_dqn`; steps count transitions stored (all copies together).

    ``returns[k]`` is the return of the k-th training episode (ε-greedy) and ``episode_ends[k]`` the
    step it ended at; ``checks`` holds (step, mean greedy return); ``losses`` (step, mean TD loss of
    the updates of that joint step). ``reached_at`` is the step of the first check that reached ``goal``.
    """

    returns: list[float] = field(default_factory=list)
    episode_ends: list[int] = field(default_factory=list)
    checks: list[tuple[int, float]] = field(default_factory=list)
    losses: list[tuple[int, float]] = field(default_factory=list)
    goal: float | None = None
    reached_at: int | None = None
    steps: int = 0
    updates: int = 0
    seconds: float = 0.0
    check_seconds: float = 0.0
    seconds_to_goal: float | None = None

    def __str__(self) -> str:
        text = f"{self.steps:,} steps ({len(self.returns):,} training episodes, {self.updates:,} updates)"
        if self.checks:
            step, mean = self.checks[-1]
            text += f"; last greedy check at step {step:,}: mean return {mean:.1f}"
        if self.goal is not None:
            text += (f"; reached {self.goal:g} at step {self.reached_at:,}" if self.reached_at is not None
                     else f"; did not reach {self.goal:g}")
        return text


def greedy_returns(model: Any, episodes: int = 100, *, seed: int | None = 0, env_id: str = "CartPole-v1",
                   max_steps: int = 100_000) -> np.ndarray:
    """The returns of ``episodes`` greedy episodes, a = argmax_a Q(s, a), one per copy, all stepped together."""
    worlds = VectorWorlds(env_id, episodes, seed=seed)
    returns = np.full(episodes, np.nan)
    try:
        for _ in range(max_steps):
            out = worlds.step(np.argmax(model.predict_q(worlds.states), axis=1))
            first = np.isnan(returns) & ~np.isnan(out.episode_returns)
            returns[first] = out.episode_returns[first]
            if not np.isnan(returns).any():
                return returns
    finally:
        worlds.close()
    raise RuntimeError(f"{int(np.isnan(returns).sum())} of {episodes} greedy episodes were still running after "
                       f"{max_steps} steps; give the environment a time limit (max_episode_steps).")


def _check_seed(seed: int | None, check: int) -> int:
    return int(np.random.SeedSequence([seed or 0, check]).generate_state(1)[0])


def train_dqn(model: Any, steps: int, *, env_id: str = "CartPole-v1", n_worlds: int = 8, updates_per_step: int = 2,
              seed: int | None = 0, goal: float | None = None, check_every: int = 2000, eval_episodes: int = 100,
              stop_at_goal: bool = True, progress: bool = True, desc: str = "training") -> DQNHistory:
    """Train ``model`` (a compiled DQN) for up to ``steps`` transitions of ``n_worlds`` copies of ``env_id``.

    ``seed`` seeds the copies and the model's generator (exploration and sampling); the greedy checks
    play episodes of their own seeds. With ``goal`` and ``stop_at_goal`` the run stops at the first
    check whose mean greedy return reaches ``goal``.
    """
    if seed is not None:
        model.reseed(seed)
    worlds = VectorWorlds(env_id, n_worlds, seed=seed)
    history = DQNHistory(goal=goal)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, unit="step")
    start = time.perf_counter()
    next_check = check_every
    try:
        while history.steps < steps:
            states = worlds.states
            actions = model.choose_actions(model.predict_q(states))
            out = worlds.step(actions)
            real = ~out.fresh
            model.remember(states[real], actions[real], out.rewards[real], out.next_states[real],
                           out.terminated[real].astype(np.float32))
            stored = int(real.sum())
            history.steps += stored
            losses = [loss for loss in (model.learn() for _ in range(updates_per_step)) if loss is not None]
            if losses:
                history.losses.append((history.steps, float(np.mean(losses))))
            ended = ~np.isnan(out.episode_returns)
            history.returns.extend(out.episode_returns[ended].tolist())
            history.episode_ends.extend([history.steps] * int(ended.sum()))
            if bar is not None:
                bar.update(stored)
            if history.steps >= next_check:
                next_check += check_every
                began = time.perf_counter()
                mean = float(np.mean(greedy_returns(model, eval_episodes, seed=_check_seed(seed, len(history.checks)),
                                                    env_id=env_id)))
                history.check_seconds += time.perf_counter() - began
                history.checks.append((history.steps, mean))
                if bar is not None:
                    bar.set_postfix(greedy=f"{mean:.1f}")
                if goal is not None and mean >= goal and history.reached_at is None:
                    history.reached_at = history.steps
                    history.seconds_to_goal = time.perf_counter() - start
                    if stop_at_goal:
                        break
    finally:
        history.updates = model.updates
        history.seconds = time.perf_counter() - start
        worlds.close()
        if bar is not None:
            bar.close()
    return history
