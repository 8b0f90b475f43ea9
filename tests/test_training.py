"""Tests of tapelab.training: the loops, determinism, learning Q*, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from tapelab.qlearner import QLearner, QLearnerBase
from tapelab.qstar import q_star
from tapelab.seeding import seed_everything
from tapelab.training import History, adam_with_decay, evaluate, train, train_batched
from tapelab.worlds import MultiArmedBandit, MultiArmedBandit2

QSTAR = q_star(MultiArmedBandit2, 0.99)


def fresh(seed: int, decay_steps: int = 0, **kwargs) -> QLearner:
    seed_everything(seed)
    model = QLearner(5, 4, exploration_prob=kwargs.pop("exploration_prob", 0.3), discount_rate=0.99, **kwargs)
    model.compile(optimizer=adam_with_decay(0.01, decay_steps) if decay_steps else keras.optimizers.Adam(0.01))
    return model


def weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.network.weights]


def test_train_records_a_history():
    """Does train() play every game to the end and record its return, mean loss and Q snapshots?"""
    model = fresh(0)
    probe = np.array(QSTAR.states_at(1), np.float32)
    history = train(model, MultiArmedBandit2, 10, seed=0, progress=False, snapshot_every=4, probe_states=probe)
    assert isinstance(history, History)
    assert len(history.returns) == len(history.losses) == 10 and history.steps == 120
    assert all(np.isfinite(history.losses))
    assert [g for g, _ in history.snapshots] == [4, 8, 10]
    assert history.snapshots[-1][1].shape == (4, 4)
    np.testing.assert_allclose(history.snapshots[-1][1], model.predict_q(probe), atol=1e-6)
    assert history.steps_per_second > 0


def test_train_returns_are_the_rewards_of_the_game():
    """Is each recorded return the sum of the rewards the world paid in that game?"""
    class Logged(MultiArmedBandit2):
        paid: list[float] = []

        def act(self, action):
            reward, state = super().act(action)
            Logged.paid.append(reward)
            return reward, state

    history = train(fresh(1), Logged, 3, seed=1, progress=False)
    assert history.returns == pytest.approx([sum(Logged.paid[12 * g:12 * g + 12]) for g in range(3)])


def test_train_accepts_any_train_step():
    """Does train() work with a learner whose train_step returns nothing, still recording returns?"""
    class Lazy(QLearnerBase):
        def train_step(self, world):
            world.act(0)

    history = train(Lazy(5, 4), MultiArmedBandit, 4, seed=0, progress=False)
    assert history.steps == 24 and len(history.returns) == 4
    assert np.isnan(history.losses).all()


def test_a_train_step_that_never_acts_is_stopped():
    """Does train() raise, naming world.act, when a train_step returns without acting (instead of looping)?"""
    class Idle(QLearnerBase):
        def train_step(self, world):
            return {"loss": 0.0}

    with pytest.raises(RuntimeError, match=r"^Idle.train_step\(world\) must act in the world once per call, actual: "
                                           r"it returned without calling world.act\(action\), so the game would never end.$"):
        train(Idle(5, 4), MultiArmedBandit2, 2, seed=0, progress=False)


def test_progress_bar_runs(capsys):
    """Does train() with progress=True draw a tqdm bar (to stderr) and still train?"""
    history = train(fresh(2), MultiArmedBandit2, 3, seed=2, progress=True, desc="bandit")
    assert len(history.returns) == 3
    assert "bandit" in capsys.readouterr().err


@pytest.mark.parametrize("loop", [train, train_batched])
def test_same_seed_identical_weights(loop):
    """Do two runs with one seed end with identical weights, and another seed with different ones?"""
    runs = []
    for seed in (3, 3, 4):
        model = fresh(seed)
        loop(model, MultiArmedBandit2, 20, seed=seed, progress=False)
        runs.append(weights(model))
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


@pytest.mark.parametrize("stagger", [True, False])
def test_batched_history_counts_games_and_steps(stagger):
    """Does train_batched play exactly `games` games of 12 steps, staggered or in lockstep?"""
    history = train_batched(fresh(5), MultiArmedBandit2, 37, n_worlds=16, seed=5, progress=False, stagger=stagger)
    assert len(history.returns) == 37 and history.steps == 37 * 12
    assert all(np.isfinite(history.losses))


def test_batched_returns_are_the_rewards_of_each_game():
    """With several worlds interleaved, is each recorded return the sum of one game's rewards?"""
    class Logged(MultiArmedBandit2):
        games: list[list[float]] = []

        def __init__(self, seed=None):
            super().__init__(seed)
            Logged.games.append([])
            self.paid = Logged.games[-1]

        def act(self, action):
            reward, state = super().act(action)
            self.paid.append(reward)
            return reward, state

    history = train_batched(fresh(8), Logged, 20, n_worlds=4, seed=8, progress=False)
    assert sorted(history.returns) == pytest.approx(sorted(sum(g) for g in Logged.games))
    assert all(len(g) == 12 for g in Logged.games)


def test_batched_needs_learn():
    """Is a learner without a batched learn() refused with a message pointing to train()?"""
    with pytest.raises(TypeError, match=r"use train\(model, make_world, games\)"):
        train_batched(QLearnerBase(5, 4), MultiArmedBandit2, 1, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_training_learns_the_q_star_policy(seed):
    """With fixed seeds, does the batched learner end with a greedy policy that is optimal on its path (Q*)?"""
    model = fresh(seed, decay_steps=1500 * 12 // 8)
    train_batched(model, MultiArmedBandit2, 1500, n_worlds=8, seed=seed, progress=False)
    assert QSTAR.disagreements(model.predict_q) == []
    result = evaluate(model, MultiArmedBandit2, 10, seed=0, qstar=QSTAR)
    assert result.regret == pytest.approx(0.0, abs=0.1)


def test_until_stops_early():
    """Does train_batched stop once until(model) is True?"""
    calls = []

    def until(model):
        calls.append(1)
        return True

    history = train_batched(fresh(6), MultiArmedBandit2, 500, n_worlds=16, seed=6, progress=False,
                            until=until, check_every=16)
    assert len(calls) == 1 and 16 <= len(history.returns) < 50


def test_evaluate_the_optimal_policy():
    """Does evaluate() give zero regret and the expected return for a learner that plays Q* exactly?"""
    class Oracle:
        def predict_q(self, state):
            s = np.asarray(state)
            return QSTAR(s) if s.ndim == 1 else np.array([QSTAR(x) for x in s])

        def select_best_move(self, world):
            return QSTAR.policy(world.state)

    result = evaluate(Oracle(), MultiArmedBandit2, 300, seed=0, qstar=QSTAR)
    assert result.regret == pytest.approx(0.0, abs=1e-9)
    assert result.optimal_value == pytest.approx(QSTAR.value())
    # The optimal cycle 0 → 3 → 1 → 2 → 0 pays 4 per step on average: 48 undiscounted per game.
    assert result.mean_return == pytest.approx(48.0, abs=5 * np.sqrt(12) / np.sqrt(300))
    assert result.std_return == pytest.approx(np.sqrt(12), rel=0.15)
    assert str(result).startswith("return 4") and "regret vs Q* 0.000" in str(result)


def test_evaluate_without_q_star_has_no_regret():
    """Without Q*, does evaluate() report only the returns?"""
    result = evaluate(fresh(7), MultiArmedBandit2, 5, seed=0)
    assert result.regret is None and result.episodes == 5
