"""The compiled fast path behind a student's eager ``train_step``: the network and the optimizer step.

A student's ``train_step`` runs eagerly: ``self(state)`` under a tape, ``tape.gradient``,
``self.optimizer.apply_gradients``. Op by op, the Keras layers and the optimizer's update of
each variable (and of Adam's moments) cost more than the rest of an online Q-learning step.
:class:`~tapelab.qnetwork.QLearnerBase` therefore runs both as compiled ``tf.function``\\ s,
with the same arithmetic, so the same numbers come out (about 3x faster on
MultiArmedBandit2, ``python bench/run.py qlearner``):

* :class:`CompiledNetwork` -- Q(s, ·) = network(s) for a float32 batch [batch, state_dim],
  one trace for training and one for inference, for batches of any size;
* :func:`compile_apply_gradients` -- the optimizer's step on exactly the learner's variables.
  Keras has no public switch that compiles an eager optimizer step, so this sets
  ``apply_gradients`` on the optimizer *instance* to a function that calls the optimizer's
  public ``apply`` inside a ``tf.function``. It relies on ``apply_gradients(grads_and_vars)``
  meaning ``apply(grads, variables)`` (Keras 3), which tests/test_compiled.py checks and pins
  to the Keras version it was checked against.

``QLearnerBase(..., fast_path=False)`` runs both op by op, as plain Keras does.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import keras
import tensorflow as tf


def _run_network(network: keras.layers.Layer, training: bool, states: tf.Tensor) -> tf.Tensor:
    return network(states, training=training)


class CompiledNetwork:
    """`network` as two tf.functions of a float32 batch of states [batch, state_dim]: ``train`` and ``infer``.

    Each is traced once (a partial, not a lambda: TensorFlow counts traces per function code,
    and one trace per learner is expected, not a sign of "retracing"); ``forward`` is the
    inference trace itself, a concrete function that skips tf.function's argument checks.
    """

    def __init__(self, network: keras.layers.Layer, state_dim: int) -> None:
        self.state_dim = state_dim
        spec = tf.TensorSpec([None, state_dim], tf.float32)
        self.train = tf.function(functools.partial(_run_network, network, True), input_signature=[spec])
        self.infer = tf.function(functools.partial(_run_network, network, False), input_signature=[spec])
        self.forward = self.infer.get_concrete_function()

    def accepts(self, inputs: Any) -> bool:
        """Whether `inputs` can take the compiled path: an eager float32 tensor [batch, state_dim]."""
        return (tf.executing_eagerly() and isinstance(inputs, tf.Tensor) and inputs.dtype == tf.float32
                and inputs.shape.rank == 2 and inputs.shape[-1] == self.state_dim)

    def __call__(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        return (self.train if training else self.infer)(inputs)


def _apply_to(optimizer: keras.optimizers.Optimizer, variables: list[tf.Variable], grads: list[tf.Tensor]) -> None:
    optimizer.apply(grads, variables)


def compile_apply_gradients(optimizer: keras.optimizers.Optimizer, variables: Sequence[tf.Variable]) -> None:
    """Make ``optimizer.apply_gradients`` run its update of ``variables`` as one compiled function.

    Calls whose variables are exactly ``variables`` (same objects, same order) with a dense
    gradient of the right shape and dtype for each go through one ``tf.function``; any other
    call -- or a call inside a ``tf.function`` -- runs the optimizer's own ``apply_gradients``,
    with its own checks and messages. The arithmetic is the optimizer's own, so the weights
    come out the same. Compiling the same optimizer again replaces the earlier wrapper.
    """
    eager_apply = getattr(optimizer.apply_gradients, "eager", optimizer.apply_gradients)
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

    apply_gradients.eager = eager_apply  # the optimizer's own method, for a later compile of the same optimizer
    optimizer.apply_gradients = apply_gradients
