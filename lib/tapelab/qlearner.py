"""Deep Q-learning as a ``keras.Model``: the network Q(s, ·; θ), ε-greedy acting, the update.

:class:`QLearnerBase` has everything except what a student writes: the network (a stack
of layers you can swap with ``network=``), ``call``, :meth:`~QLearnerBase.predict_q` for one
state or a batch, :meth:`~QLearnerBase.select_best_move`, the exploration generator
``self.rng`` and the loss taken from ``compile(loss=...)``. Its ``choose_action(q)`` and
``train_step(world)`` raise ``NotImplementedError``: in the course notebook students subclass
it and write both, so there is no base version to fall back on.

:class:`QLearner` adds the reference ε-greedy ``choose_action(q)`` (and ``choose_actions`` for a
batch) and the reference ``train_step(world)``, the online one-step Q-learning update of the course:

1. observe s = ``world.state``, compute Q(s, ·) and pick a with ε-greedy;
2. act: ``r, s' = world.act(a)``;
3. target y = r + γ · max_a' Q(s', a') with no gradient through y, and y = r when
   ``world.terminal()``;
4. loss L = (Q(s, a) − y)² (or the loss given to ``compile``), and one optimizer step on
   ∂L/∂θ -- only the output Q(s, a) of the chosen action receives gradient.

``train_step`` here is *not* Keras's ``fit()`` hook (that one takes a batch of arrays):
a QLearner learns from a world, so ``fit()`` raises and explains what to call instead.
The tensor math runs in one compiled ``tf.function`` (traced once per model); Python only
steps the world. :meth:`QLearner.learn` applies the same update to a batch of transitions,
which :func:`tapelab.training.train_batched` uses to step many worlds at once.

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

import functools
import random
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import tensorflow as tf
import keras

NetworkSpec = keras.layers.Layer | Sequence[keras.layers.Layer] | Callable[[int, int], keras.layers.Layer] | None

FIT_MESSAGE = (
    "A QLearner learns from a world, not from arrays, so Keras's fit() does not apply: "
    "call model.train_step(world) until world.terminal(), or use tapelab.training.train(model, make_world, games)."
)


def squared_error(q_target: tf.Tensor, q_observed: tf.Tensor) -> tf.Tensor:
    """mean over the batch of (Q(s, a) − y)²; for one transition exactly (Q(s, a) − y)²."""
    return tf.reduce_mean(tf.square(q_observed - q_target))


def linear_schedule(start: float, end: float, duration: int) -> Callable[[int], float]:
    """ε(t) going linearly from ``start`` to ``end`` over ``duration`` steps, then staying at ``end``."""
    def epsilon(t: int) -> float:
        return end + (start - end) * max(0.0, 1.0 - t / duration)
    return epsilon


def build_network(network: NetworkSpec, state_dim: int, action_dim: int, hidden_units: int = 24) -> keras.layers.Layer:
    """The layer stack computing Q(s, ·): the default is Dense(hidden_units, relu) → Dense(action_dim).

    ``network`` may be a Keras layer or model, a list of layers (wrapped in ``keras.Sequential``)
    or a builder ``f(state_dim, action_dim) -> layer``. Its output must have ``action_dim`` units.
    """
    if network is None:
        layer = keras.Sequential([
            keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            keras.layers.Dense(action_dim, activation="linear", name="out"),
        ], name="q_network")
    elif isinstance(network, keras.layers.Layer):
        layer = network
    elif isinstance(network, (list, tuple)):
        layer = keras.Sequential(list(network), name="q_network")
    elif callable(network):
        layer = network(state_dim, action_dim)
    else:
        raise TypeError(
            f"network must be a Keras layer, a list of layers or a builder f(state_dim, action_dim), "
            f"actual: {type(network).__name__}."
        )
    out = layer(tf.zeros([1, state_dim]))
    if tuple(out.shape) != (1, action_dim):
        raise ValueError(
            f"the network must map a batch of states [batch, {state_dim}] to Q values [batch, {action_dim}], "
            f"actual output shape for one state: {tuple(out.shape)}; end it with Dense(action_dim)."
        )
    return layer


def resolve_loss(loss: Any) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The Q-learning loss L(y, Q(s, a)) for ``compile(loss=...)``: None means squared error.

    Strings and Keras losses are accepted (``"mse"``, ``"huber"``, ``keras.losses.Huber()``);
    every one is applied to vectors of shape [batch] and returns a scalar.
    """
    if loss is None or loss in ("squared_error", "mse", "mean_squared_error"):
        return squared_error
    fn = keras.losses.get(loss)
    if fn is None:
        raise ValueError(f"unknown loss {loss!r}; use None (squared error), 'huber' or a keras loss.")

    def loss_fn(q_target: tf.Tensor, q_observed: tf.Tensor) -> tf.Tensor:
        # Keras losses average over the last axis: give each transition its own row.
        return tf.reduce_mean(fn(q_target[:, None], q_observed[:, None]))

    return loss_fn


def _run_network(network: keras.layers.Layer, training: bool, states: tf.Tensor) -> tf.Tensor:
    return network(states, training=training)


def _apply_to(optimizer: keras.optimizers.Optimizer, variables: list[tf.Variable], grads: list[tf.Tensor]) -> None:
    optimizer.apply(grads, variables)


def compile_apply_gradients(optimizer: keras.optimizers.Optimizer, variables: Sequence[tf.Variable]) -> None:
    """Make ``optimizer.apply_gradients`` run its update of ``variables`` as one compiled function.

    An eager optimizer step updates each variable (and Adam's moments) op by op, which costs
    more than the rest of an online Q-learning step. Calls whose variables are exactly
    ``variables`` (same objects, same order) with a dense gradient of the right shape for each
    go through one ``tf.function``; any other call -- or a call inside a ``tf.function`` -- runs
    the optimizer's own ``apply_gradients``, with its own checks and messages. The arithmetic is
    the optimizer's own, so the weights come out the same.
    """
    eager_apply = getattr(optimizer, "_eager_apply_gradients", optimizer.apply_gradients)
    variables = list(variables)
    apply_all = tf.function(functools.partial(_apply_to, optimizer, variables))

    def apply_gradients(grads_and_vars: Any) -> Any:
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        if (tf.executing_eagerly() and len(pairs) == len(variables)
                and all(v is w for (_, v), w in zip(pairs, variables))
                and all(isinstance(g, tf.Tensor) and g.shape == w.shape and g.dtype == w.dtype
                        for g, w in zip(grads, variables))):
            apply_all(grads)
            return optimizer.iterations
        return eager_apply(pairs)

    optimizer._eager_apply_gradients = eager_apply
    optimizer.apply_gradients = apply_gradients


class QLearnerBase(keras.Model):
    """A Q-network Q(s, ·; θ); subclasses write ``choose_action(q)`` (ε-greedy) and ``train_step(world)``.

    Args:
        state_dim: length of a world's state list (the network's input size).
        action_dim: number of actions (the network's output size).
        hidden_units: width of the default hidden layer.
        exploration_prob: ε, the probability of a uniformly random action.
        discount_rate: γ in the target r + γ·max_a' Q(s', a').
        network: the layer stack (see :func:`build_network`); default Dense(hidden_units, relu) → Dense(action_dim).
        seed: seeds the learner's own NumPy Generator ``self.rng`` (exploration); None draws
            the seed from Python's ``random`` (seeded by :func:`tapelab.seeding.seed_everything`).
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_units: int = 24,
        exploration_prob: float = 0.1,
        discount_rate: float = 0.9,
        *,
        network: NetworkSpec = None,
        seed: int | None = None,
        name: str = "qlearner",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.state_dim = int(state_dim)
        self.input_dim = self.state_dim  # the name used in the original notebook
        self.action_dim = int(action_dim)
        self.exploration_prob = float(exploration_prob)
        self.discount_rate = float(discount_rate)
        self.network = build_network(network, self.state_dim, self.action_dim, hidden_units)
        self.loss_fn = squared_error
        self.reseed(seed)
        # The network is built (its weights exist from the start); the model itself stays open so
        # that subclasses can add layers or state in their own __init__.
        # The network as compiled functions for eager calls of the model: a student's eager
        # train_step calls self(state) under a tape; one function call (and its compiled gradient)
        # costs a fraction of running the Keras layers op by op. (A partial, not a lambda:
        # TensorFlow counts traces per function code, and one trace per learner is expected, not a
        # sign of "retracing".) The training one is traced on first use.
        spec = tf.TensorSpec([None, self.state_dim], tf.float32)
        self._network_train = tf.function(functools.partial(_run_network, self.network, True), input_signature=[spec])
        self._network_infer = tf.function(functools.partial(_run_network, self.network, False), input_signature=[spec])
        # predict_q calls the inference trace itself: a concrete function skips tf.function's argument checks.
        self._forward = self._network_infer.get_concrete_function()

    # -- the network ----------------------------------------------------------------------
    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Q(s, ·) for a batch of states [batch, state_dim] → [batch, action_dim]."""
        if (tf.executing_eagerly() and isinstance(inputs, tf.Tensor) and inputs.dtype == tf.float32
                and inputs.shape.rank == 2 and inputs.shape[-1] == self.state_dim):
            return (self._network_train if training else self._network_infer)(inputs)
        return self.network(inputs, training=training)

    def predict_q(self, state: Sequence[float] | np.ndarray) -> np.ndarray:
        """Q(s, ·) as a NumPy array: [action_dim] for one state (a list), [n, action_dim] for a batch [n, state_dim]."""
        x = np.asarray(state, dtype=np.float32)
        if x.ndim == 1:
            return self._forward(tf.constant(x[None, :])).numpy()[0]
        return self._forward(tf.constant(x)).numpy()

    # -- acting ---------------------------------------------------------------------------
    def reseed(self, seed: int | None) -> None:
        """Restart the exploration generator ``self.rng`` from ``seed``."""
        self.rng = np.random.default_rng(random.getrandbits(63) if seed is None else seed)

    def choose_action(self, q: Any) -> int:
        """ε-greedy on q = Q(s, ·); write it in your subclass (see :class:`QLearner`)."""
        raise NotImplementedError(
            f"{type(self).__name__}.choose_action(q) is not written yet: QLearnerBase leaves the ε-greedy choice "
            "to its subclass (a uniformly random action with probability exploration_prob, else the argmax of q)."
        )

    def select_best_move(self, world: Any) -> int:
        """The greedy action argmax_a Q(s, a) for the world's current state, as a Python int."""
        return int(np.argmax(self.predict_q(world.state)))

    # -- training set-up ------------------------------------------------------------------
    def compile(self, optimizer: Any = "adam", loss: Any = None, **kwargs: Any) -> None:
        """Set the optimizer and the loss L(y, Q(s, a)) (``self.loss_fn``; None = squared error).

        The loss is applied to the target y and the chosen-action values Q(s, a), both of
        shape [batch], and returns a scalar.
        """
        super().compile(optimizer=optimizer, **kwargs)
        self.loss_fn = resolve_loss(loss)
        self.optimizer.build(self.trainable_variables)
        compile_apply_gradients(self.optimizer, self.trainable_variables)

    def train_step(self, world: Any) -> dict[str, Any]:
        """One online Q-learning step on ``world``; write it in your subclass (see :class:`QLearner`)."""
        raise NotImplementedError(
            f"{type(self).__name__}.train_step(world) is not written yet: QLearnerBase leaves the update to "
            "its subclass (act ε-greedily, compute the target, take one gradient step)."
        )

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: a QLearner trains on a world, see ``FIT_MESSAGE``."""
        raise TypeError(FIT_MESSAGE)

    def train_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        """Not available, as :meth:`fit`."""
        raise TypeError(FIT_MESSAGE)

    def _require_optimizer(self) -> None:
        if getattr(self, "optimizer", None) is None:
            raise RuntimeError(
                "the model has no optimizer yet: call model.compile(optimizer='adam') before training."
            )


class Transitions(NamedTuple):
    """A batch of transitions (s, a, r, s', done) as NumPy arrays with a leading batch axis."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    dones: np.ndarray


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` transitions, sampled uniformly with its own Generator."""

    def __init__(self, capacity: int, state_dim: int, seed: int | None = None) -> None:
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(seed)
        self.states = np.zeros([capacity, state_dim], np.float32)
        self.actions = np.zeros([capacity], np.int32)
        self.rewards = np.zeros([capacity], np.float32)
        self.next_states = np.zeros([capacity, state_dim], np.float32)
        self.dones = np.zeros([capacity], np.float32)
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, batch: Transitions) -> None:
        """Store every transition of ``batch``, overwriting the oldest when full."""
        for i in range(len(batch.actions)):
            j = self._next
            self.states[j] = batch.states[i]
            self.actions[j] = batch.actions[i]
            self.rewards[j] = batch.rewards[i]
            self.next_states[j] = batch.next_states[i]
            self.dones[j] = batch.dones[i]
            self._next = (j + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int) -> Transitions:
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

    def choose_action(self, q: Any) -> int:
        """ε-greedy: a uniformly random action with probability ε, else argmax_a Q(s, a); a Python int."""
        _refuse_borrowed(self, "choose_action")
        if self.rng.random() < self.exploration_prob:
            return int(self.rng.integers(self.action_dim))
        return int(np.argmax(np.reshape(np.asarray(q), [-1])))

    def choose_actions(self, q: np.ndarray) -> np.ndarray:
        """ε-greedy for a batch of Q rows [n, action_dim]: one action per row, as int32."""
        _refuse_borrowed(self, "choose_actions")
        q = np.asarray(q)
        greedy = np.argmax(q, axis=-1)
        explore = self.rng.random(len(q)) < self.exploration_prob
        random_actions = self.rng.integers(self.action_dim, size=len(q))
        return np.where(explore, random_actions, greedy).astype(np.int32)

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
