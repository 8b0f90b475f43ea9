"""Tests of tapelab.worlds: the bandits, the scripted world and the Gymnasium adapter."""

from __future__ import annotations

import numpy as np
import pytest

from tapelab.worlds import (
    GymWorld,
    MultiArmedBandit,
    MultiArmedBandit2,
    ScriptedWorld,
    World,
    check_world,
    gym_world,
)

MEANS2 = [[1, 3, 2, 4], [0, 1, 4, 3], [5, 0, 0, 0], [1, 3, 1, 3]]


def one_hot(k: int, progress: float = 0.0) -> list[float]:
    return [1.0 if i == k else 0.0 for i in range(4)] + [progress]


def play(world, actions):
    return [world.act(a) for a in actions]


# -- the bandits ---------------------------------------------------------------------------

def test_bandits_follow_the_world_protocol():
    """Do both bandits satisfy the World protocol and start in the original states?"""
    assert isinstance(MultiArmedBandit(0), World)
    assert isinstance(MultiArmedBandit2(0), World)
    assert MultiArmedBandit(0).state == [0.0] * 5
    assert MultiArmedBandit2(0).state == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert MultiArmedBandit(0).action_dim == MultiArmedBandit2(0).action_dim == 4


@pytest.mark.parametrize("cls, length, step", [(MultiArmedBandit, 6, 1 / 6 + 1 / 1000),
                                               (MultiArmedBandit2, 12, 1 / 12 + 1 / 1000)])
def test_episode_length_and_state_update(cls, length, step):
    """Does an episode last 6 (resp. 12) actions, with the one-hot of the action plus progress as the state?"""
    world = cls(1)
    progress = 0.0
    for t in range(length):
        assert not world.terminal()
        action = t % 4
        _, state = world.act(action)
        progress += step
        assert state[:4] == one_hot(action)[:4]
        assert state[4] == pytest.approx(progress, abs=1e-12)
    assert world.terminal()


def test_act_after_the_end_is_refused():
    """Does acting in a finished episode raise instead of running on?"""
    world = MultiArmedBandit(0)
    play(world, [0] * 6)
    with pytest.raises(RuntimeError, match="the episode is over"):
        world.act(0)


@pytest.mark.parametrize("bad, error, message", [
    (4, ValueError, r"action must be in range\(4\), actual: 4\."),
    (-1, ValueError, r"action must be in range\(4\), actual: -1\."),
    (1.5, TypeError, r"action must be an int in range\(4\), actual: 1\.5 of type float; convert an argmax"),
])
def test_invalid_actions_raise(bad, error, message):
    """Are actions outside range(action_dim), and non-integers, refused with a clear message?"""
    with pytest.raises(error, match=message):
        MultiArmedBandit2(0).act(bad)


def test_integer_like_actions_are_accepted():
    """Are NumPy and TensorFlow integer scalars accepted as actions?"""
    import tensorflow as tf

    world = MultiArmedBandit2(0)
    world.act(np.int64(2))
    world.act(tf.constant(1))
    assert world.state[:4] == [0.0, 1.0, 0.0, 0.0]


def test_act_returns_a_fresh_list():
    """Does act() return a new list each time, so callers that keep it never see it change?"""
    world = MultiArmedBandit2(0)
    _, first = world.act(1)
    kept = list(first)
    assert first is not world.state
    first.append(99.0)
    assert len(world.state) == 5
    _, second = world.act(2)
    assert first[:5] == kept and second is not first


def test_same_seed_same_episode_and_generator_accepted():
    """Do two worlds with one seed (an int or a Generator) give the same rewards, and other seeds different ones?"""
    actions = [0, 3, 1, 2, 0, 3, 1, 2, 0, 3, 1, 2]
    a = play(MultiArmedBandit2(7), actions)
    b = play(MultiArmedBandit2(7), actions)
    c = play(MultiArmedBandit2(8), actions)
    d = play(MultiArmedBandit2(np.random.default_rng(7)), actions)
    assert a == b == d
    assert [r for r, _ in a] != [r for r, _ in c]
    assert all(isinstance(r, float) for r, _ in a)


def test_bandit2_reward_means():
    """Does MultiArmedBandit2 pay N(meanmatrix[k][a], 1) in one-hot state k, for every k and a?"""
    n = 4000
    world = MultiArmedBandit2(123)
    for k in range(4):
        for a in range(4):
            rewards = []
            for _ in range(n):
                world.state = one_hot(k)
                rewards.append(world.act(a)[0])
            # 5 standard errors: a correct bandit fails this about once in 3 million pairs.
            assert np.mean(rewards) == pytest.approx(MEANS2[k][a], abs=5 / np.sqrt(n))
            assert np.std(rewards) == pytest.approx(1.0, abs=0.05)


def test_bandit1_reward_means_and_scaling():
    """Does MultiArmedBandit pay N(bandits[a], 1)·(k + 1) after arm k, and unscaled at the start?"""
    n = 4000
    means = [0.9, 1.2, 0.7, 1.0]
    world = MultiArmedBandit(321)
    for k in [None, 0, 1, 2, 3]:
        scale = 1 if k is None else k + 1
        for a in range(4):
            rewards = []
            for _ in range(n):
                world.state = [0.0] * 5 if k is None else one_hot(k)
                rewards.append(world.act(a)[0])
            assert np.mean(rewards) == pytest.approx(means[a] * scale, abs=5 * scale / np.sqrt(n))
            assert np.std(rewards) == pytest.approx(scale, rel=0.05)


def test_scripted_world_plays_its_script():
    """Does ScriptedWorld pay the scripted rewards and states, record the actions and end after the script?"""
    world = ScriptedWorld([1, 0], [(1.5, [0, 1]), (-2, [1, 1])], action_dim=2)
    assert world.act(1) == (1.5, [0.0, 1.0]) and not world.terminal()
    assert world.act(0) == (-2.0, [1.0, 1.0]) and world.terminal()
    assert world.actions == [1, 0]
    with pytest.raises(RuntimeError, match="the episode is over"):
        world.act(0)
    with pytest.raises(ValueError):
        ScriptedWorld([0], [(0, [0])], action_dim=2).act(2)


# -- Gymnasium -------------------------------------------------------------------------------

def test_gym_discrete_observations_become_one_hot():
    """Does a FrozenLake environment become a world with one-hot states that check_world accepts?"""
    world = gym_world("FrozenLake-v1", seed=0)
    assert isinstance(world, GymWorld) and world.action_dim == 4
    assert world.state == [1.0] + [0.0] * 15
    reward, state = world.act(1)
    assert isinstance(reward, float) and len(state) == 16 and sum(state) == 1.0
    check_world(lambda seed: gym_world("FrozenLake-v1", seed=seed))


def test_gym_box_observations_become_float_lists():
    """Does CartPole become a world with 4 float states that ends and passes check_world?"""
    world = gym_world("CartPole-v1", seed=0)
    assert world.action_dim == 2 and len(world.state) == 4
    assert all(isinstance(x, float) for x in world.state)
    check_world(lambda seed: gym_world("CartPole-v1", seed=seed))


def test_gym_continuous_actions_are_refused():
    """Is an environment without a Discrete action space refused with a message?"""
    with pytest.raises(TypeError, match="the action space must be gymnasium.spaces.Discrete"):
        gym_world("Pendulum-v1")
