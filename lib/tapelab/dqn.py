"""The two pieces of DQN the course has students write, as references: replay sampling and the TD loss.

**Experience replay.** DQN does not learn from the transition it just made but from a minibatch of
remembered ones. Consecutive transitions are alike (s' of one is s of the next), so a minibatch drawn
uniformly from the last ``capacity`` transitions is a far better sample of experience, and every
transition is used many times. :class:`ReplayMemory` stores the transitions (s, a, r, s', done) in five
NumPy arrays of length ``capacity``, a ring that overwrites the oldest once full; its ``sample`` is left
to a subclass. :class:`ReplayBuffer` is the reference: indices i_1, ..., i_B drawn independently and
uniformly from {0, ..., len − 1} (with replacement) with the Generator it is given.

**The TD loss** of a minibatch of B transitions, :func:`td_loss`:

    y_i = r_i + γ·(1 − done_i)·max_a' Q(s'_i, a'; θ⁻)          (no gradient through y)
    L(θ) = (1/B)·Σ_i (Q(s_i, a_i; θ) − y_i)²

with θ the weights of the Q-network and θ⁻ those of the target network (which may be the Q-network
itself). done_i is 1 where the episode *terminated* at s'_i, not where a time limit cut it
(:mod:`tapelab.gym_worlds`). Only the taken action's output Q(s_i, a_i) receives gradient.

While a test runs a student's version inside :func:`withheld`, the references refuse: a student's
``sample`` or ``td_loss`` that calls them earns nothing (the check sits in the functions themselves,
so an alias or a pristine copy of the module refuses too).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import tensorflow as tf

from tapelab.replay import ReplayMemory

__all__ = ["Batch", "ReplayMemory", "ReplayBuffer", "td_loss", "withheld"]

#: True while a test runs a student's sample or td_loss: the references below refuse.
_WITHHELD: contextvars.ContextVar[bool] = contextvars.ContextVar("tapelab.dqn.withheld", default=False)


@contextlib.contextmanager
def withheld() -> Iterator[None]:
    """Within the block, :meth:`ReplayBuffer.sample` and :func:`td_loss` raise AssertionError (blocks nest)."""
    token = _WITHHELD.set(True)
    try:
        yield
    finally:
        _WITHHELD.reset(token)


def _refuse(name: str) -> None:
    if _WITHHELD.get():
        raise AssertionError(f"{name} must be your own code, actual: it called tapelab.dqn's reference {name}, "
                             "which earns no credit; write it with NumPy (sample) or TensorFlow (td_loss) operations.")


class Batch(NamedTuple):
    """A minibatch of B transitions, field by field with a leading batch axis.

    states float32 [B, state_dim], actions int32 [B], rewards float32 [B], next_states float32
    [B, state_dim], dones float32 [B] (1.0 where the episode terminated at s', else 0.0).
    """

    states: Any
    actions: Any
    rewards: Any
    next_states: Any
    dones: Any


class ReplayBuffer(ReplayMemory):
    """:class:`ReplayMemory` with the reference ``sample``: uniform, with replacement."""

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions, each drawn independently and uniformly from the ``len(self)`` stored."""
        _refuse("sample")
        if self.size == 0:
            raise ValueError("the buffer is empty: add transitions before sampling.")
        i = rng.integers(self.size, size=batch_size)
        return Batch(self.states[i], self.actions[i], self.rewards[i], self.next_states[i], self.dones[i])


def td_loss(q_network: Callable[[tf.Tensor], tf.Tensor], target_network: Callable[[tf.Tensor], tf.Tensor],
            batch: Batch, gamma: float) -> tf.Tensor:
    """mean_i (Q(s_i, a_i; θ) − y_i)², y_i = r_i + γ·(1 − done_i)·max_a' Q(s'_i, a'; θ⁻) held constant.

    ``q_network`` and ``target_network`` map float32 states [B, state_dim] to Q values [B, action_dim]
    (``target_network`` may be ``q_network``); the arrays of ``batch`` may be NumPy arrays or tensors.
    Returns a float32 scalar.
    """
    _refuse("td_loss")
    states = tf.convert_to_tensor(batch.states, tf.float32)
    actions = tf.cast(batch.actions, tf.int32)
    rewards = tf.cast(batch.rewards, tf.float32)
    next_states = tf.convert_to_tensor(batch.next_states, tf.float32)
    dones = tf.cast(batch.dones, tf.float32)
    best_next = tf.reduce_max(target_network(next_states), axis=1)                        # [B]
    y = tf.stop_gradient(rewards + gamma * (1.0 - dones) * best_next)                    # [B]
    q_taken = tf.gather(q_network(states), actions, axis=1, batch_dims=1)                 # Q(s_i, a_i), [B]
    return tf.reduce_mean(tf.square(q_taken - y))
