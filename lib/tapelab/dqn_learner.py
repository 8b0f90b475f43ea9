"""DQN as a QLearner: the replay buffer and the TD loss are arguments; a target network; one compiled update.

:class:`DQN` is a :class:`~tapelab.qnetwork.QLearnerBase` (the network, ``predict_q`` and
``select_best_move`` of notebook 4) that learns from replayed minibatches instead of its last step:

1. act ε-greedily in s, then store (s, a, r, s', done) in ``replay``, done = 1 where the episode
   *terminated* at s' (a world's ``terminated`` when it has one, else its ``terminal()``);
2. once ``replay`` holds ``learning_starts`` transitions, each :meth:`DQN.learn` draws a minibatch
   ``replay.sample(batch_size, self.rng)`` and takes one optimizer step on
   ``td_loss(self.network, self.target_network, batch, γ)`` (:func:`tapelab.dqn.td_loss`:
   mean (Q(s, a; θ) − y)², y = r + γ·(1 − done)·max_a' Q(s', a'; θ⁻));
3. every ``target_update_every`` updates, θ⁻ ← θ.

``compile`` traces the update (``td_loss``, its gradient, the optimizer step) once into a
``tf.function``, whichever ``td_loss`` was given, so a student's runs as fast as the reference. A
``td_loss`` that cannot be traced (``.numpy()`` or a Python ``if`` on a tensor) runs eagerly
instead, with a warning: the same numbers, several times slower. One that fails eagerly too
(``NotImplementedError``: not written yet) makes ``compile`` raise that error.

:meth:`DQN.train_step` does one step in a kit world (``tapelab.training.train`` runs it on, e.g.,
:class:`tapelab.gym_worlds.CartPoleWorld`); :func:`tapelab.dqn_training.train_dqn` is the fast
path, stepping many copies of an environment as one batch.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from tapelab.dqn import Batch, ReplayBuffer, ReplayMemory, td_loss as reference_td_loss
from tapelab.qlearner import linear_schedule
from tapelab.qnetwork import NetworkSpec, QLearnerBase, build_network

__all__ = ["DQN", "NoGradientError", "two_hidden_layers"]

TDLoss = Callable[[Any, Any, Batch, float], tf.Tensor]


NO_GRADIENT = ("td_loss has no gradient with respect to the Q-network's weights: compute Q(s, a) from "
               "q_network(states) with TensorFlow operations inside td_loss.")


class NoGradientError(ValueError):
    """td_loss gives no gradient for any weight of the Q-network: an update could not change it."""


def two_hidden_layers(units: int = 64) -> Callable[[int, int], keras.layers.Layer]:
    """A builder of Dense(units, relu) → Dense(units, relu) → Dense(action_dim), DQN's usual small Q-network."""
    def build(state_dim: int, action_dim: int) -> keras.layers.Layer:
        return keras.Sequential([keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(action_dim)], name="q_network")
    return build


class DQN(QLearnerBase):
    """Deep Q-learning from a replay buffer, with a target network and ε-greedy exploration.

    Args (beyond :class:`QLearnerBase`'s, whose ``network`` defaults here to two hidden layers of
    ``hidden_units`` and ``discount_rate`` to 0.99):
        replay: the :class:`~tapelab.dqn.ReplayMemory` whose ``sample(batch_size, rng)`` draws the
            minibatches (default: a reference ReplayBuffer of 50,000 transitions).
        td_loss: ``td_loss(q_network, target_network, batch, gamma)`` → a scalar (default: the reference).
        batch_size: B, the transitions per update.
        learning_starts: no update before ``replay`` holds this many transitions.
        target_update_every: θ⁻ ← θ every this many updates.
        epsilon_schedule: ε as a function of the transitions stored so far
            (default ``linear_schedule(1.0, 0.05, 10_000)``).
    """

    def __init__(self, state_dim: int, action_dim: int, hidden_units: int = 64, exploration_prob: float = 1.0,
                 discount_rate: float = 0.99, *, replay: ReplayMemory | None = None, td_loss: TDLoss = reference_td_loss,
                 batch_size: int = 64, learning_starts: int = 1000, target_update_every: int = 500,
                 epsilon_schedule: Callable[[int], float] | None = None, network: NetworkSpec = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("name", "dqn")
        super().__init__(state_dim, action_dim, hidden_units, exploration_prob, discount_rate,
                         network=network if network is not None else two_hidden_layers(hidden_units), **kwargs)
        self.replay = replay if replay is not None else ReplayBuffer(50_000, self.state_dim)
        if getattr(self.replay, "state_dim", self.state_dim) != self.state_dim:
            raise ValueError(f"the replay buffer must hold states of length {self.state_dim}, actual: "
                             f"{self.replay.state_dim}.")
        self.td_loss = td_loss
        self.batch_size = int(batch_size)
        self.learning_starts = int(learning_starts)
        self.target_update_every = int(target_update_every)
        self.epsilon_schedule = epsilon_schedule if epsilon_schedule is not None else linear_schedule(1.0, 0.05, 10_000)
        self.exploration_prob = float(self.epsilon_schedule(0))
        self.target_network = _copy_of(self.network, self.state_dim, self.action_dim)
        self.target_network.trainable = False
        self.steps_taken = 0
        self.updates = 0
        self.trace_error: str | None = None     # why td_loss runs eagerly, if it does
        self._update: Callable[..., tf.Tensor] | None = None
        self._gradient_missing = False
        self.sync_target()

    # -- the update -------------------------------------------------------------------------
    def compile(self, optimizer: Any = "adam", **kwargs: Any) -> None:
        """Set the optimizer, then trace the update with ``td_loss`` once (eager if it cannot be traced)."""
        super().compile(optimizer=optimizer, **kwargs)
        spec = tf.TensorSpec([None, self.state_dim], tf.float32)
        signature = [spec, tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32), spec,
                     tf.TensorSpec([None], tf.float32)]
        try:
            self._update = tf.function(self._update_impl, input_signature=signature).get_concrete_function()
            self.trace_error = None
        except Exception as error:  # noqa: BLE001 - a td_loss TensorFlow cannot trace still runs, eagerly
            if self._gradient_missing:
                raise NoGradientError(NO_GRADIENT) from None
            self._try_eagerly()
            self._update = self._update_impl
            self.trace_error = f"{type(error).__name__}: {error}".strip()
            warnings.warn(f"td_loss could not be compiled into a tf.function ({self.trace_error.splitlines()[0]}); "
                          "it runs eagerly, several times slower. Use TensorFlow operations only, no .numpy() or "
                          "Python if/for on tensors.", stacklevel=2)

    def _try_eagerly(self) -> None:
        """Call td_loss eagerly on a batch of zeros: what it raises (not written yet, broken) is raised now."""
        zeros = tf.zeros([2, self.state_dim])
        batch = Batch(zeros, tf.zeros([2], tf.int32), tf.zeros([2]), zeros, tf.zeros([2]))
        self.td_loss(self.network, self.target_network, batch, self.discount_rate)

    def _update_impl(self, states: tf.Tensor, actions: tf.Tensor, rewards: tf.Tensor, next_states: tf.Tensor,
                     dones: tf.Tensor) -> tf.Tensor:
        """One optimizer step on td_loss of the minibatch; returns the loss."""
        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.td_loss(self.network, self.target_network, Batch(states, actions, rewards, next_states, dones),
                                self.discount_rate)
        grads = tape.gradient(loss, variables)
        self._gradient_missing = all(g is None for g in grads)
        if self._gradient_missing:
            raise NoGradientError(NO_GRADIENT)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        return tf.reduce_mean(loss)

    def learn(self) -> float | None:
        """One update on ``replay.sample(batch_size, self.rng)``; None while the buffer holds too few transitions."""
        if self._update is None:
            raise RuntimeError("the model has no optimizer yet: call model.compile(optimizer='adam') before training.")
        if len(self.replay) < max(self.learning_starts, 1):
            return None
        batch = self.replay.sample(self.batch_size, self.rng)
        states, actions, rewards, next_states, dones = batch
        loss = self._update(tf.constant(np.asarray(states, np.float32)), tf.constant(np.asarray(actions, np.int32)),
                            tf.constant(np.asarray(rewards, np.float32)),
                            tf.constant(np.asarray(next_states, np.float32)), tf.constant(np.asarray(dones, np.float32)))
        self.updates += 1
        if self.updates % self.target_update_every == 0:
            self.sync_target()
        return float(loss)

    def sync_target(self) -> None:
        """θ⁻ ← θ: copy the Q-network's weights into the target network."""
        for target, online in zip(self.target_network.weights, self.network.weights):
            target.assign(online)

    # -- acting and remembering -------------------------------------------------------------
    def remember(self, states: Any, actions: Any, rewards: Any, next_states: Any, dones: Any) -> None:
        """Store a batch of transitions in ``replay``; ε follows the schedule of the transitions stored."""
        count = len(np.asarray(actions).reshape(-1))
        if count:
            self.replay.add(states, actions, rewards, next_states, dones)
        self.steps_taken += count
        self.exploration_prob = float(self.epsilon_schedule(self.steps_taken))

    def choose_action(self, q: Any) -> int:
        """ε-greedy on q = Q(s, ·) of one state: a uniformly random action with probability ε, else the argmax."""
        if self.rng.random() < self.exploration_prob:
            return int(self.rng.integers(self.action_dim))
        return int(np.argmax(np.reshape(np.asarray(q), [-1])))

    def choose_actions(self, q: np.ndarray) -> np.ndarray:
        """ε-greedy for a batch of Q rows [n, action_dim]: one int32 action per row."""
        q = np.asarray(q)
        explore = self.rng.random(len(q)) < self.exploration_prob
        random_actions = self.rng.integers(self.action_dim, size=len(q))
        return np.where(explore, random_actions, np.argmax(q, axis=-1)).astype(np.int32)

    def train_step(self, world: Any) -> dict[str, Any]:
        """One step in a kit world: act ε-greedily, store the transition, one update (see :meth:`learn`).

        Returns ``{"loss": L (NaN before learning starts), "action": a, "reward": r}``.
        """
        state = list(world.state)
        action = self.choose_action(self.predict_q(state))
        reward, next_state = world.act(action)
        done = bool(getattr(world, "terminated", world.terminal()))
        self.remember([state], [action], [reward], [next_state], [float(done)])
        loss = self.learn()
        return {"loss": float("nan") if loss is None else loss, "action": action, "reward": float(reward)}


def _copy_of(network: keras.layers.Layer, state_dim: int, action_dim: int) -> keras.layers.Layer:
    """A new network with the layout of `network` (its own weights)."""
    if isinstance(network, keras.Model):
        copy = keras.models.clone_model(network)
    else:
        copy = build_network(lambda s, a: type(network).from_config(network.get_config()), state_dim, action_dim)
    copy(tf.zeros([1, state_dim]))
    return copy
