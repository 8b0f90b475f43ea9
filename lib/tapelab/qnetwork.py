"""Q(s, ·; θ) as a ``keras.Model``: what every learner of the course builds on.

:class:`QLearnerBase` has everything except what a student writes: the network (a stack
of layers you can swap with ``network=``), ``call``, :meth:`~QLearnerBase.predict_q` for one
state or a batch, :meth:`~QLearnerBase.select_best_move`, the exploration generator
``self.rng`` and the loss taken from ``compile(loss=...)``. Its ``choose_action(q)`` and
``train_step(world)`` raise ``NotImplementedError``: in the course notebook students subclass
it and write both, so there is no base version to fall back on. The reference learner is
:class:`tapelab.qlearner.QLearner`.

``train_step`` is *not* Keras's ``fit()`` hook (that one takes a batch of arrays): a learner
learns from a world, so ``fit()`` raises and explains what to call instead. A student's
eager ``train_step`` calls the network and the optimizer step through compiled functions
(:mod:`tapelab.compiled`; the same numbers, about 3x faster); ``fast_path=False`` runs them
op by op.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
import keras

from tapelab.compiled import CompiledNetwork, compile_apply_gradients

NetworkSpec = keras.layers.Layer | Sequence[keras.layers.Layer] | Callable[[int, int], keras.layers.Layer] | None

FIT_MESSAGE = (
    "A QLearner learns from a world, not from arrays, so Keras's fit() does not apply: "
    "call model.train_step(world) until world.terminal(), or use tapelab.training.train(model, make_world, games)."
)


def squared_error(q_target: tf.Tensor, q_observed: tf.Tensor) -> tf.Tensor:
    """mean over the batch of (Q(s, a) − y)²; for one transition exactly (Q(s, a) − y)²."""
    return tf.reduce_mean(tf.square(q_observed - q_target))


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
        fast_path: run eager calls of the model and the optimizer step as compiled functions
            (:mod:`tapelab.compiled`, the same numbers); False runs them op by op, as plain Keras does.
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
        fast_path: bool = True,
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
        self.fast_path = bool(fast_path)
        self.compiled_network = CompiledNetwork(self.network, self.state_dim)

    # -- the network ----------------------------------------------------------------------
    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Q(s, ·) for a batch of states [batch, state_dim] → [batch, action_dim]."""
        if self.fast_path and self.compiled_network.accepts(inputs):
            return self.compiled_network(inputs, training=training)
        return self.network(inputs, training=training)

    def predict_q(self, state: Sequence[float] | np.ndarray) -> np.ndarray:
        """Q(s, ·) as a NumPy array: [action_dim] for one state (a list), [n, action_dim] for a batch [n, state_dim]."""
        x = np.asarray(state, dtype=np.float32)
        if x.ndim == 1:
            return self.compiled_network.forward(tf.constant(x[None, :])).numpy()[0]
        return self.compiled_network.forward(tf.constant(x)).numpy()

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
        if self.fast_path:
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
