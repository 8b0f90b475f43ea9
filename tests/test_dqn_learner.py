"""Tests of tapelab.dqn_learner: DQN with a replay buffer and a td_loss as arguments, compiled or eager."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tapelab.dqn import ReplayBuffer, td_loss
from tapelab.dqn_learner import DQN
from tapelab.gym_worlds import CartPoleWorld
from tapelab.seeding import seed_everything
from tapelab.training import train


def learner(seed: int = 0, **kwargs) -> DQN:
    seed_everything(seed)
    model = DQN(4, 2, replay=ReplayBuffer(1000, 4), learning_starts=8, batch_size=8, seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    return model


def fill(model: DQN, count: int = 32, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    model.remember(rng.normal(size=(count, 4)), rng.integers(2, size=count), np.ones(count),
                   rng.normal(size=(count, 4)), (rng.random(count) < 0.2).astype(np.float32))


def numpy_td_loss(q_network, target_network, batch, gamma):
    """A correct td_loss that TensorFlow cannot trace: the target through .numpy()."""
    best = target_network(np.asarray(batch.next_states, np.float32)).numpy().max(axis=1)
    y = tf.constant(np.asarray(batch.rewards) + gamma * (1 - np.asarray(batch.dones)) * best, tf.float32)
    q_taken = tf.gather(q_network(tf.convert_to_tensor(batch.states)), batch.actions, axis=1, batch_dims=1)
    return tf.reduce_mean(tf.square(q_taken - y))


def test_defaults_and_the_target_network():
    """Two hidden layers of 64, ε = 1 at first, a target network equal to the Q-network and not trainable?"""
    model = learner()
    assert [tuple(w.shape) for w in model.trainable_variables] == [(4, 64), (64,), (64, 64), (64,), (64, 2), (2,)]
    assert model.exploration_prob == 1.0 and model.discount_rate == 0.99 and model.trace_error is None
    assert not model.target_network.trainable_variables
    for a, b in zip(model.network.get_weights(), model.target_network.get_weights()):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="states of length 4"):
        DQN(4, 2, replay=ReplayBuffer(10, 3))


def test_learn_waits_for_the_buffer_then_updates():
    """Does learn() return None before learning_starts transitions, then take an optimizer step on td_loss?"""
    model = learner()
    fill(model, 5)
    assert model.learn() is None and model.updates == 0
    fill(model, 30, seed=1)
    before = [w.copy() for w in model.network.get_weights()]
    loss = model.learn()
    assert isinstance(loss, float) and loss > 0 and model.updates == 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.network.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.target_network.get_weights()))


def test_the_target_network_follows_every_n_updates():
    """Is θ⁻ copied from θ after exactly target_update_every updates, and held in between?"""
    model = learner(target_update_every=3)
    fill(model)
    start = model.target_network.get_weights()
    model.learn(), model.learn()
    assert all(np.array_equal(a, b) for a, b in zip(start, model.target_network.get_weights()))
    model.learn()
    assert all(np.array_equal(a, b) for a, b in zip(model.network.get_weights(), model.target_network.get_weights()))


def test_an_untraceable_td_loss_runs_eagerly_with_the_same_numbers():
    """Does a td_loss that uses .numpy() run eagerly (with a warning) and update as the compiled reference does?"""
    compiled = learner(3)
    with pytest.warns(UserWarning, match="runs eagerly"):
        eager = learner(3, td_loss=numpy_td_loss)
    assert eager.trace_error and compiled.trace_error is None
    for model in (compiled, eager):
        fill(model, seed=4)
        model.reseed(5)
        model.learn()
    for a, b in zip(compiled.network.get_weights(), eager.network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_an_unwritten_td_loss_is_reported_at_compile():
    """Does compile raise the NotImplementedError of a td_loss not written yet, instead of running it eagerly?"""
    def td_loss(q_network, target_network, batch, gamma):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        learner(td_loss=td_loss)


def test_a_loss_without_gradient_is_refused():
    """Is a td_loss that never calls the Q-network refused at compile, with a message saying what to compute?"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # refused, not run eagerly
        with pytest.raises(ValueError, match="no gradient with respect to the Q-network's weights"):
            learner(td_loss=lambda q, t, batch, gamma: tf.reduce_mean(t(batch.states)))


def test_epsilon_follows_the_stored_transitions():
    """Does ε fall linearly from 1 to 0.05 over 10,000 stored transitions?"""
    model = learner()
    fill(model, 5000)
    assert model.exploration_prob == pytest.approx(1.0 - 0.95 * 0.5)
    fill(model, 6000)
    assert model.exploration_prob == pytest.approx(0.05)
    model.exploration_prob = 0.0
    assert model.choose_action([0.0, 1.0]) == 1
    assert model.choose_actions(np.array([[2.0, 1.0], [0.0, 3.0]])).tolist() == [0, 1]


def test_train_step_plays_cartpole_through_the_adapter():
    """Does notebook 4's train() run DQN.train_step on CartPoleWorld, storing done = terminated?"""
    model = learner()
    history = train(model, CartPoleWorld, 3, seed=0, progress=False)
    assert len(history.returns) == 3 and history.steps == len(model.replay) == sum(history.returns)
    assert model.replay.dones[:len(model.replay)].sum() == 3          # each episode ended with a fall
    assert model.updates == history.steps - 7                         # from the 8th transition on
    world = CartPoleWorld(seed=0, max_episode_steps=3)
    for _ in range(3):
        model.train_step(world)
    assert world.truncated and model.replay.dones[len(model.replay) - 1] == 0.0   # truncated: no terminal flag
