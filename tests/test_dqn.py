"""Tests of tapelab.dqn: the replay memory, the reference sample and td_loss, and withheld()."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tapelab.dqn import Batch, ReplayBuffer, ReplayMemory, td_loss, withheld


def numbered(buffer: ReplayMemory, first: int, count: int) -> None:
    """Add transitions first, ..., first + count − 1; number k has s = [k, k], a = k % 2, r = k, s' = s + 0.5."""
    k = np.arange(first, first + count, dtype=np.float32)
    buffer.add(np.stack([k, k], 1), k % 2, k, np.stack([k, k], 1) + 0.5, k % 3 == 0)


def test_memory_fills_its_rows_then_overwrites_the_oldest():
    """Does add() fill rows 0, 1, ... and, once full, overwrite the oldest transition first?"""
    memory = ReplayMemory(4, 2)
    numbered(memory, 0, 3)
    assert len(memory) == 3 and memory.rewards.tolist() == [0, 1, 2, 0]
    numbered(memory, 3, 3)
    assert len(memory) == 4 and memory.rewards.tolist() == [4, 5, 2, 3]
    numbered(memory, 6, 9)                                  # more than the capacity at once: the last 4 stay
    assert sorted(memory.rewards.tolist()) == [11, 12, 13, 14]
    assert memory.states.dtype == np.float32 and memory.actions.dtype == np.int32
    assert memory.dones.tolist() == [float(k % 3 == 0) for k in memory.rewards]
    with pytest.raises(ValueError, match="one action"):
        memory.add([[0.0, 0.0]], [0, 1], [0.0], [[0.0, 0.0]], [0.0])
    with pytest.raises(NotImplementedError, match="not written yet"):
        memory.sample(2, np.random.default_rng(0))


def test_reference_sample_is_uniform_with_replacement():
    """Does ReplayBuffer.sample draw stored rows only, uniformly, with replacement, repeatably with one rng?"""
    buffer = ReplayBuffer(10, 2)
    numbered(buffer, 0, 5)
    batch = buffer.sample(5000, np.random.default_rng(0))
    assert isinstance(batch, Batch) and batch.states.shape == (5000, 2) and batch.actions.dtype == np.int32
    k = batch.rewards
    assert set(k.tolist()) == {0, 1, 2, 3, 4}
    assert np.allclose(np.bincount(k.astype(int)) / 5000, 0.2, atol=0.03)
    assert np.array_equal(batch.next_states, batch.states + 0.5) and np.array_equal(batch.actions, k % 2)
    again = buffer.sample(50, np.random.default_rng(1)), buffer.sample(50, np.random.default_rng(1))
    assert np.array_equal(again[0].rewards, again[1].rewards)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, 2).sample(1, np.random.default_rng(0))


def q_numpy(network: keras.Model, states: np.ndarray) -> np.ndarray:
    w1, b1, w2, b2 = (w.astype(np.float64) for w in network.get_weights())
    return np.maximum(0.0, np.asarray(states, np.float64) @ w1 + b1) @ w2 + b2


def small_network(seed: int) -> keras.Model:
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    rng = np.random.default_rng(seed)
    network.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in network.weights])
    return network


def batch_of(seed: int, size: int = 6) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(rng.normal(size=(size, 3)).astype(np.float32), rng.integers(2, size=size).astype(np.int32),
                 np.ones(size, np.float32), rng.normal(size=(size, 3)).astype(np.float32),
                 (np.arange(size) % 3 == 0).astype(np.float32))


def test_td_loss_is_the_mean_squared_td_error():
    """Is td_loss mean (Q(s, a) − (r + γ(1 − done) max Q_target(s', ·)))², from NumPy and from tensors?"""
    q, target, batch = small_network(1), small_network(2), batch_of(3)
    y = batch.rewards + 0.9 * (1 - batch.dones) * q_numpy(target, batch.next_states).max(axis=1)
    want = np.mean((q_numpy(q, batch.states)[np.arange(6), batch.actions] - y) ** 2)
    for given in (batch, Batch(*(tf.constant(x) for x in batch))):
        loss = td_loss(q, target, given, 0.9)
        assert loss.shape == () and loss.dtype == tf.float32
        assert np.isclose(float(loss), want, rtol=1e-5)


def test_td_loss_holds_the_target_constant():
    """With the Q-network as its own target, does the gradient equal that of (Q(s, a) − y)² with y constant?"""
    q, batch = small_network(4), batch_of(5)
    with tf.GradientTape() as tape:
        loss = td_loss(q, q, batch, 0.9)
    grads = tape.gradient(loss, q.trainable_variables)
    y = tf.constant(batch.rewards + 0.9 * (1 - batch.dones) * q_numpy(q, batch.next_states).max(axis=1), tf.float32)
    with tf.GradientTape() as tape:
        q_taken = tf.gather(q(batch.states), batch.actions, axis=1, batch_dims=1)
        want = tape.gradient(tf.reduce_mean((q_taken - y) ** 2), q.trainable_variables)
    for g, w in zip(grads, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    target = small_network(6)
    with tf.GradientTape(persistent=True) as tape:
        loss = td_loss(q, target, batch, 0.9)
    assert all(g is None for g in tape.gradient(loss, target.trainable_variables))


def test_references_refuse_while_withheld():
    """Inside withheld(), do the reference sample and td_loss raise, and work again after it?"""
    buffer = ReplayBuffer(4, 3)
    buffer.add(np.zeros((2, 3)), [0, 1], [1.0, 1.0], np.zeros((2, 3)), [0.0, 1.0])
    q = small_network(7)
    with withheld():
        with withheld():
            pass
        with pytest.raises(AssertionError, match="must be your own code"):
            buffer.sample(2, np.random.default_rng(0))
        with pytest.raises(AssertionError, match="tapelab.dqn's reference td_loss"):
            td_loss(q, q, batch_of(8), 0.9)
    assert buffer.sample(2, np.random.default_rng(0)).states.shape == (2, 3)
    td_loss(q, q, batch_of(8), 0.9)
