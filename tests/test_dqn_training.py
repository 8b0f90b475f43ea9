"""Tests of tapelab.dqn_training: the vectorised DQN loop, its greedy checks, and repeatable runs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tapelab.dqn import ReplayBuffer
from tapelab.dqn_learner import DQN
from tapelab.dqn_training import greedy_returns, train_dqn
from tapelab.seeding import seed_everything


def learner(seed: int = 0, **kwargs) -> DQN:
    seed_everything(seed)
    model = DQN(4, 2, replay=ReplayBuffer(20_000, 4), **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.001))
    return model


class Constant:
    """A policy that always pushes the same way."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict_q(self, states):
        q = np.zeros((len(states), 2))
        q[:, self.action] = 1.0
        return q


def test_greedy_returns_plays_one_episode_per_copy():
    """Does greedy_returns give one return per episode, the same for one seed, ~9 for a constant push?"""
    returns = greedy_returns(Constant(1), 20, seed=0)
    assert returns.shape == (20,) and np.all((returns >= 8) & (returns <= 11))
    assert np.array_equal(returns, greedy_returns(Constant(1), 20, seed=0))
    assert not np.array_equal(returns, greedy_returns(Constant(1), 20, seed=1))


def test_a_short_run_records_its_history_and_repeats_exactly():
    """Does a short run store every real transition, record episodes, checks and losses, and repeat with one seed?"""
    runs = []
    for _ in range(2):
        model = learner(1, learning_starts=200)
        history = train_dqn(model, 1200, n_worlds=4, seed=3, check_every=500, eval_episodes=5, progress=False)
        runs.append((history, model))
    (history, model), (again, _) = runs
    assert history.steps == len(model.replay) >= 1200 and history.updates == model.updates > 0
    assert len(history.checks) == 2 and [s for s, _ in history.checks] == sorted(s for s, _ in history.checks)
    assert len(history.returns) == len(history.episode_ends) > 20
    assert history.reached_at is None and "1,2" in str(history)
    assert history.returns == again.returns and history.checks == again.checks and history.losses == again.losses


def test_the_run_stops_at_the_goal():
    """With an easy goal, does the run stop at the first check that reaches it?"""
    model = learner(2, learning_starts=100)
    history = train_dqn(model, 5000, n_worlds=4, seed=0, goal=1.0, check_every=300, eval_episodes=5, progress=False)
    assert history.reached_at == history.checks[0][0] == history.steps and history.seconds_to_goal > 0


@pytest.mark.slow
def test_the_notebook_run_reaches_195():
    """Does the notebook's run (8 carts, 2 updates per joint step, seed 0) reach a greedy mean of 195?"""
    model = learner(0)
    history = train_dqn(model, 60_000, seed=0, goal=195.0, progress=False)
    assert history.reached_at is not None and history.reached_at <= 40_000
    assert greedy_returns(model, 100, seed=2024).mean() >= 195
