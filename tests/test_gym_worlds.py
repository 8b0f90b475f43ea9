"""Tests of tapelab.gym_worlds: CartPole as a world (termination vs truncation) and many copies as one batch."""

from __future__ import annotations

import numpy as np
import pytest

from tapelab.gym_worlds import CartPoleWorld, GymnasiumWorld, VectorWorlds
from tapelab.worlds import World, check_world


def play(world, actions):
    return [world.act(a) for a in actions]


def test_cartpole_world_keeps_the_world_protocol():
    """Does CartPoleWorld pass check_world, with a list of four Python floats as its state and two actions?"""
    check_world(CartPoleWorld)
    world = CartPoleWorld(seed=0)
    assert isinstance(world, World) and world.action_dim == 2
    assert type(world.state) is list and len(world.state) == 4 and all(type(x) is float for x in world.state)
    assert all(abs(x) <= 0.05 for x in world.state)
    reward, state = world.act(1)
    assert reward == 1.0 and state == world.state and state is not world.state


def test_same_seed_same_episode():
    """Do two worlds with one seed start alike and give the same states for the same actions?"""
    a, b = CartPoleWorld(seed=3), CartPoleWorld(seed=3)
    assert a.state == b.state and CartPoleWorld(seed=4).state != a.state
    assert play(a, [0, 1, 1, 0]) == play(b, [0, 1, 1, 0])


def test_a_fall_terminates():
    """Does pushing one way until the pole falls end the episode as terminated, not truncated?"""
    world = CartPoleWorld(seed=0)
    steps = 0
    while not world.terminal():
        world.act(1)
        steps += 1
    assert world.terminated and not world.truncated and steps < 20
    assert abs(world.state[2]) > 12 * 2 * np.pi / 360
    with pytest.raises(RuntimeError, match="the episode is over"):
        world.act(0)


def test_the_time_limit_truncates():
    """Does the time limit end the episode as truncated, not terminated, after exactly max_episode_steps?"""
    world = CartPoleWorld(seed=0, max_episode_steps=5)
    for step in range(5):
        assert not world.terminal() and not world.truncated
        world.act(step % 2)
    assert world.terminal() and world.truncated and not world.terminated


def test_invalid_actions_and_spaces_are_refused():
    """Are actions outside range(2) refused, and environments without Discrete actions rejected?"""
    with pytest.raises(ValueError):
        CartPoleWorld(seed=0).act(2)
    with pytest.raises(TypeError):
        CartPoleWorld(seed=0).act(0.5)
    with pytest.raises(TypeError, match="Discrete"):
        GymnasiumWorld("Pendulum-v1", seed=0)


def test_vector_worlds_mark_the_reset_after_an_episode():
    """After a copy's episode ends, is its next step a reset (fresh, reward 0, a start state), its return reported?"""
    worlds = VectorWorlds("CartPole-v1", 3, seed=0)
    assert worlds.states.shape == (3, 4) and worlds.states.dtype == np.float32
    lengths = np.zeros(3, int)
    ended_at = {}
    for step in range(40):
        out = worlds.step(np.ones(3, np.int64))        # always push right: every pole falls within ~10 steps
        lengths += ~out.fresh
        for i in np.flatnonzero(out.fresh):
            assert out.rewards[i] == 0.0 and np.all(np.abs(out.next_states[i]) <= 0.05)
            assert not out.terminated[i] and not out.truncated[i]
            assert ended_at.pop(i) == step - 1           # a reset comes right after the end
            lengths[i] = 0
        for i in np.flatnonzero(out.terminated):
            assert out.episode_returns[i] == lengths[i]  # one point per step of that episode
            ended_at[i] = step
        assert np.all(np.isnan(out.episode_returns[~(out.terminated | out.truncated)]))
        assert not out.truncated.any()
    worlds.close()


def test_vector_worlds_truncate_at_the_time_limit():
    """With a time limit of 5 steps, does every copy end truncated at step 5 and report a return of 5?"""
    worlds = VectorWorlds("CartPole-v1", 4, seed=1, max_episode_steps=5)
    for step in range(5):
        out = worlds.step(np.full(4, step % 2))
    assert out.truncated.all() and not out.terminated.any() and np.all(out.episode_returns == 5.0)
    assert worlds.step(np.zeros(4, np.int64)).fresh.all()
    with pytest.raises(ValueError, match="4 integers"):
        worlds.step(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="range"):
        worlds.step(np.full(4, 2))


def test_vector_worlds_repeat_with_a_seed():
    """Do two VectorWorlds with one seed give the same batches for the same actions?"""
    a, b = VectorWorlds("CartPole-v1", 5, seed=9), VectorWorlds("CartPole-v1", 5, seed=9)
    actions = np.random.default_rng(0).integers(2, size=(30, 5))
    for row in actions:
        x, y = a.step(row), b.step(row)
        assert np.array_equal(x.next_states, y.next_states) and np.array_equal(x.fresh, y.fresh)
