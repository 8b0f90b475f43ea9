"""Tests of tapelab.qstar: the exact Q* against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tapelab.qstar import q_star
from tapelab.worlds import MultiArmedBandit, MultiArmedBandit2

MEANS2 = np.array([[1, 3, 2, 4], [0, 1, 4, 3], [5, 0, 0, 0], [1, 3, 1, 3]], dtype=float)


def matrix_value_iteration(gamma: float, steps: int = 12) -> list[np.ndarray]:
    """Q*_k[i, a] for MultiArmedBandit2 written with the mean matrix only (k = actions taken before)."""
    q_by_step = [None] * steps
    v_next = np.zeros(4)
    for k in reversed(range(steps)):
        q = MEANS2 + (gamma * v_next[None, :] if k < steps - 1 else 0.0)
        q_by_step[k] = q
        v_next = q.max(axis=1)
    return q_by_step


@pytest.mark.parametrize("gamma", [0.0, 0.9, 0.99, 1.0])
def test_bandit2_q_star_matches_matrix_recursion(gamma):
    """Does Q* of MultiArmedBandit2 equal an independent value iteration on the mean matrix at every step?"""
    qs = q_star(MultiArmedBandit2, gamma)
    expected = matrix_value_iteration(gamma)
    assert len(qs.states) == 1 + 4 * 11
    for s in qs.states:
        k, i = qs.step[s], list(s[:4]).index(1.0)
        np.testing.assert_allclose(qs(s), expected[k][i], rtol=0, atol=1e-9)
    assert qs.states_at(0) == [qs.initial]


def test_bandit2_last_step_is_the_mean_matrix():
    """In the last step of an episode, is Q*(s, a) just the reward mean (the target has no future)?"""
    qs = q_star(MultiArmedBandit2, 0.99)
    for s in qs.states_at(11):
        np.testing.assert_array_equal(qs(s), MEANS2[list(s[:4]).index(1.0)])


def test_bandit1_value_by_brute_force():
    """Does V*(s0) of MultiArmedBandit equal the best of all 4^6 action sequences, and the policy pick arm 3 then arm 1?"""
    gamma = 0.9
    means = [0.9, 1.2, 0.7, 1.0]
    best = -np.inf
    for actions in itertools.product(range(4), repeat=6):
        scale, total = 1, 0.0
        for t, a in enumerate(actions):
            total += gamma**t * means[a] * scale
            scale = a + 1
        best = max(best, total)
    qs = q_star(MultiArmedBandit, gamma)
    assert qs.value() == pytest.approx(best, abs=1e-9)
    for s in qs.states:
        assert qs.policy(s) == (1 if qs.step[s] == 5 else 3)


def test_policy_value_of_the_optimal_policy_is_v_star():
    """Is the exact value of the Q* policy V*(s0), and that of a worse policy lower?"""
    qs = q_star(MultiArmedBandit2, 0.99)
    assert qs.policy_value(qs.policy) == pytest.approx(qs.value(), abs=1e-9)
    assert qs.policy_value(lambda s: 0) < qs.value() - 10


def test_monte_carlo_return_of_the_optimal_policy():
    """Does playing the Q* policy on seeded worlds earn V*(s0) on average (discounted)?"""
    qs = q_star(MultiArmedBandit2, 0.99)
    returns = []
    for seed in range(2000):
        world, total, factor = MultiArmedBandit2(seed), 0.0, 1.0
        while not world.terminal():
            reward, _ = world.act(qs.policy(world.state))
            total += factor * reward
            factor *= 0.99
        returns.append(total)
    # std of one return ≈ sqrt(Σ γ^2t) ≈ 3.4; 5 standard errors.
    assert np.mean(returns) == pytest.approx(qs.value(), abs=5 * 3.5 / np.sqrt(2000))


def test_optimal_actions_lists_ties():
    """Are both arms listed where Q* ties (state 3 in the last step pays 3 for arms 1 and 3)?"""
    qs = q_star(MultiArmedBandit2, 0.99)
    last3 = next(s for s in qs.states_at(11) if s[3] == 1.0)
    assert qs.optimal_actions(last3) == [1, 3]
    assert qs.policy(last3) == 1


def test_greedy_checks():
    """Does is_greedy_optimal accept Q* itself and name the states where a constant policy goes wrong?"""
    qs = q_star(MultiArmedBandit2, 0.99)

    def exact(states):
        return np.array([qs(s) for s in states])

    def always_zero(states):
        return np.tile([1.0, 0.0, 0.0, 0.0], (len(states), 1))

    assert qs.is_greedy_optimal(exact) and qs.is_greedy_optimal(exact, where="all")
    assert qs.greedy_path(exact)[0] == qs.initial and len(qs.greedy_path(exact)) == 12
    wrong = qs.disagreements(always_zero)
    assert wrong and all(qs.policy(s) != 0 for s in wrong)
    assert len(qs.disagreements(always_zero, where="all")) > len(wrong)
    with pytest.raises(ValueError, match="where must be 'greedy-path' or 'all'"):
        qs.disagreements(exact, where="some")


def test_q_star_refuses_worlds_it_cannot_solve():
    """Are worlds without known dynamics, or with repeating states, refused with a message?"""
    class Unknown:
        action_dim = 2
        state = [0.0]

    class Loop:
        action_dim = 2

        def initial_state(self):
            return [0.0]

        def transition(self, s, a):
            return [float(a)]

        def mean_reward(self, s, a):
            return 1.0

        def is_terminal(self, s):
            return False

    with pytest.raises(TypeError, match="Unknown has no method initial_state"):
        q_star(Unknown(), 0.9)
    with pytest.raises(ValueError, match="state \\[0.0\\] comes back"):
        q_star(Loop(), 0.9)
