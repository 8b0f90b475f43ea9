"""Deep Q-learning: the course's reference learner, :class:`QLearner`, a ``keras.Model``.

The online one-step Q-learning update of the course (:meth:`QLearner.train_step`):

1. observe s = ``world.state``, compute Q(s, ·) and pick a with ε-greedy;
2. act: ``r, s' = world.act(a)``;
3. target y = r + γ · max_a' Q(s', a') with no gradient through y, and y = r when
   ``world.terminal()``;
4. loss L = (Q(s, a) − y)² (or the loss given to ``compile``), and one optimizer step on
   ∂L/∂θ -- only the output Q(s, a) of the chosen action receives gradient.

Python only steps the world; the tensor math of steps 3-4 (:meth:`QLearner._update_impl`)
runs as one compiled ``tf.function`` (traced once per model). :meth:`QLearner.learn` applies
the same update to a batch of transitions, which :func:`tapelab.training.train_batched` uses
to step many worlds at once. The network, ``call``, ``predict_q`` and the rest come from
:class:`~tapelab.qnetwork.QLearnerBase`, which students subclass to write ``choose_action``
and ``train_step`` themselves.

Extras, all off by default so the defaults are exactly the algorithm above:
``replay_capacity`` (a replay buffer; updates on sampled minibatches), ``target_update_every``
(a target network Q(s'; θ⁻) copied from θ every so many updates), ``double_dqn`` (a* chosen by
the online network, valued by the target network), ``epsilon_schedule`` (ε as a function of the
number of steps taken), and a Huber loss via ``compile(loss="huber")``.

A student's class must subclass :class:`QLearnerBase`, not :class:`QLearner` (the notebook's
tests check it). QLearner's reference methods refuse to run for an object that is not a
QLearner, so ``QLearner.train_step(self, world)`` or ``QLearner.choose_action(self, q)`` called
from a student's class raises instead of earning credit (a check per call, no global switch).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
import tensorflow as tf
import keras

# QLearnerBase and its helpers live in tapelab.qnetwork; these names stay importable from here.
from tapelab.qnetwork import FIT_MESSAGE, NetworkSpec, QLearnerBase, build_network, resolve_loss, squared_error
from tapelab.replay import ReplayMemory

__all__ = ["QLearner", "QLearnerBase", "ReplayBuffer", "Transitions", "linear_schedule", "FIT_MESSAGE",
           "NetworkSpec", "build_network", "resolve_loss", "squared_error"]


class QLearner(QLearnerBase):
    """:class:`QLearnerBase` with the reference ε-greedy ``choose_action`` and online Q-learning ``train_step``.

    Extra keyword arguments (all off by default):
        replay_capacity: keep the last N transitions and update on minibatches sampled from them.
        replay_batch_size: minibatch size for the replay buffer.
        target_update_every: bootstrap from a target network θ⁻, copied from θ every N updates.
        double_dqn: Double DQN target r + γ·Q(s', argmax_a' Q(s', a'; θ); θ⁻)
            (θ⁻ is θ itself when no target network is used).
        epsilon_schedule: ε as a function of the number of steps taken, e.g. ``linear_schedule(1.0, 0.05, 5000)``.
    """

    # -- the Q-learning update ----------------------------------------------------------------
    def train_step(self, world: Any) -> dict[str, Any]:
        """One online Q-learning step on ``world``: act ε-greedily, then one gradient step.

        Returns ``{"loss": L, "action": a, "reward": r}``. This is not Keras's ``fit()`` hook.
        """
        _refuse_borrowed(self, "train_step")
        self._require_optimizer()
        state = list(world.state)
        action = self.choose_action(self.predict_q(state))
        reward, next_state = world.act(action)
        done = bool(world.terminal())
        loss, _ = self.learn([state], [action], [reward], [next_state], [float(done)])
        return {"loss": loss, "action": action, "reward": float(reward)}

    def choose_action(self, q: Any) -> int:
        """ε-greedy: a uniformly random action with probability ε, else argmax_a Q(s, a); a Python int."""
        _refuse_borrowed(self, "choose_action")
        if self.rng.random() < self.exploration_prob:
            return int(self.rng.integers(self.action_dim))
        return int(np.argmax(np.reshape(np.asarray(q), [-1])))

    def learn(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_states: np.ndarray,
              dones: np.ndarray, upcoming: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """One update from a batch of transitions (s, a, r, s', done) [batch, ...].

        Returns the loss and Q(·) of ``upcoming`` states (default ``next_states``) computed
        with the updated weights -- the values the next ε-greedy choice needs.
        """
        _refuse_borrowed(self, "learn")
        self._require_optimizer()
        batch = Transitions(np.asarray(states, np.float32), np.asarray(actions, np.int32),
                            np.asarray(rewards, np.float32), np.asarray(next_states, np.float32),
                            np.asarray(dones, np.float32))
        upcoming = batch.next_states if upcoming is None else np.asarray(upcoming, np.float32)
        if self.replay is not None:
            self.replay.add(batch)
            if len(self.replay) >= self.replay_batch_size:
                batch = self.replay.sample(self.replay_batch_size)
        loss, q_upcoming = self._update(*(tf.constant(x) for x in batch),
                                        tf.constant(self.discount_rate, tf.float32), tf.constant(upcoming))
        self.steps_taken += len(actions)
        self.updates += 1
        if self.target_network is not None and self.updates % self.target_update_every == 0:
            self.sync_target()
        if self.epsilon_schedule is not None:
            self.exploration_prob = float(self.epsilon_schedule(self.steps_taken))
        return float(loss), q_upcoming.numpy()

    def _update_impl(self, states, actions, rewards, next_states, dones, gamma, upcoming):
        """One gradient step on a batch; returns (loss, Q(upcoming, ·) after the step)."""
        _refuse_borrowed(self, "_update_impl")
        bootstrap_net = self.target_network if self.target_network is not None else self.network
        q_next = bootstrap_net(next_states, training=False)
        if self.double_dqn:
            best = tf.argmax(self.network(next_states, training=False), axis=-1, output_type=tf.int32)
            best_next = tf.gather(q_next, best, axis=1, batch_dims=1)
        else:
            best_next = tf.reduce_max(q_next, axis=-1)
        # y = r + γ (1 − done) max_a' Q(s', a'); no gradient flows into the target.
        q_target = tf.stop_gradient(rewards + gamma * (1.0 - dones) * best_next)
        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            q = self.network(states, training=True)                        # [batch, action_dim]
            q_observed = tf.gather(q, actions, axis=1, batch_dims=1)       # Q(s, a), [batch]
            loss = self.loss_fn(q_target, q_observed)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss, self.network(upcoming, training=False)

    # -- construction and the extras ------------------------------------------------------------
    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_units: int = 24,
        exploration_prob: float = 0.1,
        discount_rate: float = 0.9,
        *,
        replay_capacity: int = 0,
        replay_batch_size: int = 32,
        target_update_every: int = 0,
        double_dqn: bool = False,
        epsilon_schedule: Callable[[int], float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(state_dim, action_dim, hidden_units, exploration_prob, discount_rate, **kwargs)
        self.replay_batch_size = int(replay_batch_size)
        self.replay = ReplayBuffer(replay_capacity, self.state_dim, seed=int(self.rng.integers(2**31))) \
            if replay_capacity else None
        self.target_update_every = int(target_update_every)
        self.double_dqn = bool(double_dqn)
        self.epsilon_schedule = epsilon_schedule
        self.target_network = None
        if self.target_update_every:
            self.target_network = keras.models.clone_model(self.network) \
                if isinstance(self.network, keras.Model) else build_network(
                    lambda s, a: type(self.network).from_config(self.network.get_config()),
                    self.state_dim, self.action_dim)
            self.target_network(tf.zeros([1, self.state_dim]))
            self.sync_target()
        self.steps_taken = 0
        self.updates = 0
        if epsilon_schedule is not None:
            self.exploration_prob = float(epsilon_schedule(0))
        self._update = None

    def compile(self, optimizer: Any = "adam", loss: Any = None, **kwargs: Any) -> None:
        """As :meth:`QLearnerBase.compile`, then trace the update once for this optimizer and loss."""
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
        spec = tf.TensorSpec([None, self.state_dim], tf.float32)
        self._update = tf.function(self._update_impl, input_signature=[
            spec, tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32), spec,
            tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.float32), spec,
        ]).get_concrete_function()
        self.sync_target()

    def sync_target(self) -> None:
        """θ⁻ ← θ: copy the online weights into the target network."""
        if self.target_network is not None:
            for target, online in zip(self.target_network.weights, self.network.weights):
                target.assign(online)

    def choose_actions(self, q: np.ndarray) -> np.ndarray:
        """ε-greedy for a batch of Q rows [n, action_dim]: one action per row, as int32."""
        _refuse_borrowed(self, "choose_actions")
        q = np.asarray(q)
        greedy = np.argmax(q, axis=-1)
        explore = self.rng.random(len(q)) < self.exploration_prob
        random_actions = self.rng.integers(self.action_dim, size=len(q))
        return np.where(explore, random_actions, greedy).astype(np.int32)


class Transitions(NamedTuple):
    """A batch of transitions (s, a, r, s', done) as NumPy arrays with a leading batch axis."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    dones: np.ndarray


class ReplayBuffer(ReplayMemory):
    """A ring buffer of the last ``capacity`` transitions (:class:`~tapelab.replay.ReplayMemory`), sampled
    uniformly with its own Generator."""

    def __init__(self, capacity: int, state_dim: int, seed: int | None = None) -> None:
        super().__init__(capacity, state_dim)
        self.rng = np.random.default_rng(seed)

    def add(self, batch: Transitions) -> None:  # type: ignore[override]
        """Store every transition of ``batch``, overwriting the oldest when full."""
        super().add(batch.states, batch.actions, batch.rewards, batch.next_states, batch.dones)

    def sample(self, n: int) -> Transitions:  # type: ignore[override]
        """``n`` stored transitions drawn uniformly with replacement."""
        idx = self.rng.integers(self.size, size=n)
        return Transitions(self.states[idx], self.actions[idx], self.rewards[idx],
                           self.next_states[idx], self.dones[idx])


def _refuse_borrowed(learner: Any, method: str) -> None:
    """Raise when a reference method of :class:`QLearner` is called for an object that is not a QLearner.

    ``QLearner.train_step(self, world)`` written in a QLearnerBase subclass would otherwise run
    the reference update for the student's model.
    """
    if not isinstance(learner, QLearner):
        raise AssertionError(
            f"QLearner.{method} is tapelab's reference and runs only for a QLearner, actual: it was called for a "
            f"{type(learner).__name__}; a call to the reference earns no credit: write the method in your class."
        )


def linear_schedule(start: float, end: float, duration: int) -> Callable[[int], float]:
    """ε(t) going linearly from ``start`` to ``end`` over ``duration`` steps, then staying at ``end``."""
    def epsilon(t: int) -> float:
        return end + (start - end) * max(0.0, 1.0 - t / duration)
    return epsilon
