"""Tests of tapelab.compiled: the compiled network call and optimizer step behind a student's eager train_step."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from test_qlearner import S0, S1, OwnLearner, forward, hand_set

from tapelab.compiled import compile_apply_gradients
from tapelab.worlds import MultiArmedBandit2

#: the Keras whose optimizer compile_apply_gradients was checked against (see test_the_keras_version_is_the_checked_one).
CHECKED_KERAS = "3.15"


def test_the_keras_version_is_the_checked_one():
    """Is Keras the version compile_apply_gradients was checked against?

    compile_apply_gradients sets ``apply_gradients`` on the optimizer instance (Keras has no public
    switch that compiles an eager optimizer step; without it a student's train_step runs about 3x
    slower, bench/bench_qlearner.py). It relies on ``Optimizer.apply_gradients(grads_and_vars)``
    meaning ``apply(grads, variables)`` and returning ``iterations``. After a Keras upgrade: check
    the tests of this file and ``python bench/run.py qlearner``, then set CHECKED_KERAS.
    """
    assert keras.__version__.rsplit(".", 1)[0] == CHECKED_KERAS, (
        f"Keras {keras.__version__}: check tapelab.compiled.compile_apply_gradients against it (see this test)")


def test_apply_gradients_is_apply_as_the_wrapper_assumes():
    """Does the optimizer's own apply_gradients update the variables as apply(grads, variables) does, once?"""
    results = []
    for via in ("apply_gradients", "apply"):
        v = tf.Variable([1.0, 2.0])
        optimizer = keras.optimizers.Adam(0.1)
        optimizer.build([v])
        g = tf.constant([0.5, -1.0])
        out = optimizer.apply_gradients([(g, v)]) if via == "apply_gradients" else optimizer.apply([g], [v])
        results.append(v.numpy())
        assert int(optimizer.iterations) == 1
        if via == "apply_gradients":
            assert out is optimizer.iterations
    np.testing.assert_array_equal(*results)


def test_compiling_twice_keeps_the_optimizers_own_method():
    """Does a second compile of the same optimizer wrap its own apply_gradients, not the first wrapper?"""
    v = tf.Variable([1.0])
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build([v])
    compile_apply_gradients(optimizer, [v])
    first = optimizer.apply_gradients
    compile_apply_gradients(optimizer, [v])
    assert optimizer.apply_gradients is not first and optimizer.apply_gradients.eager is first.eager
    optimizer.apply_gradients([(tf.constant([1.0]), v)])
    assert v.numpy().tolist() == [0.0] and int(optimizer.iterations) == 1



def test_compiled_call_and_optimizer_step_change_no_number():
    """Do ten eager train_steps with Adam give the same losses and weights through the compiled paths as op by op?"""
    runs = []
    for fast_path in (True, False):
        model = OwnLearner(5, 4, exploration_prob=0.0, discount_rate=0.9, fast_path=fast_path)
        hand_set(model, seed=11)
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        world = MultiArmedBandit2(3)
        losses = [model.train_step(world)["loss"] for _ in range(10)]
        runs.append((losses, [w.numpy() for w in model.network.weights], int(model.optimizer.iterations)))
    (fast_losses, fast_weights, fast_steps), (slow_losses, slow_weights, slow_steps) = runs
    np.testing.assert_allclose(fast_losses, slow_losses, rtol=1e-5)
    for a, b in zip(fast_weights, slow_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert fast_steps == slow_steps == 10


def test_each_compiled_function_is_traced_once():
    """Are the network and the optimizer step traced once per learner, for batches of any size?"""
    model = OwnLearner(5, 4, exploration_prob=0.5)
    model.compile(optimizer="adam")
    world = MultiArmedBandit2(0)
    while not world.terminal():
        model.train_step(world)
    model(tf.zeros([7, 5]), training=True)
    assert model.compiled_network.train.experimental_get_tracing_count() == 1
    assert model.compiled_network.infer.experimental_get_tracing_count() == 1
    assert int(model.optimizer.iterations) == 12


def test_other_inputs_and_variable_lists_take_the_plain_path():
    """Do a float64 batch, one unbatched state and a partial variable list still work as plain Keras does?"""
    model = OwnLearner(5, 4)
    weights = hand_set(model, seed=2)
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    np.testing.assert_allclose(model(np.array([S0], np.float64)).numpy()[0], forward(weights, S0), atol=1e-5)
    np.testing.assert_allclose(model.network(tf.constant([S1])).numpy()[0], forward(weights, S1), atol=1e-5)
    w1, b1, w2, b2 = model.trainable_variables
    model.optimizer.apply_gradients([(tf.ones_like(b2), b2)])        # only the output bias
    np.testing.assert_allclose(b2.numpy(), weights[3] - 1.0, atol=1e-6)
    np.testing.assert_allclose(w1.numpy(), weights[0])
    assert model.compiled_network.train.experimental_get_tracing_count() == 0


def test_without_the_fast_path_keras_runs_op_by_op():
    """With fast_path=False, do the model's calls and the optimizer step stay plain Keras (nothing traced, no wrapper)?"""
    model = OwnLearner(5, 4, exploration_prob=0.5, fast_path=False)
    model.compile(optimizer="adam")
    world = MultiArmedBandit2(0)
    while not world.terminal():
        model.train_step(world)
    assert model.compiled_network.train.experimental_get_tracing_count() == 0
    assert "apply_gradients" not in vars(model.optimizer) and int(model.optimizer.iterations) == 12
