"""tapelab.gradcheck: tape results against float64 central differences, and the messages it gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from tapelab.gradcheck import GradCheck, format_error, gradcheck, numerical_jacobian


def seed_f(x):
    """The seed's scalar function y = sin(x0) + x0*x1."""
    return tf.sin(x[0]) + x[0] * x[1]


def seed_vector_f(x):
    """The seed's vector function [x0 + x1, x0*x1]."""
    return tf.convert_to_tensor([x[0] + x[1], x[0] * x[1]])


def test_numerical_jacobian_matches_closed_forms():
    """Are the central differences within 1e-8 of the hand-derived gradient and Jacobian at random points?"""
    rng = np.random.default_rng(11)
    for a, b in rng.uniform(-2, 2, size=(5, 2)):
        g = numerical_jacobian(seed_f, [a, b])
        assert g.shape == (2,)
        np.testing.assert_allclose(g, [math.cos(a) + b, a], atol=1e-8, rtol=0)
        j = numerical_jacobian(seed_vector_f, [a, b])
        assert j.shape == (2, 2)
        np.testing.assert_allclose(j, [[1, 1], [b, a]], atol=1e-8, rtol=0)


def test_numerical_jacobian_of_a_matrix_input():
    """Does a matrix input give out.shape + x.shape, with ∂(Σ W²)/∂W = 2W?"""
    w = np.arange(6.0).reshape(2, 3) / 7
    g = numerical_jacobian(lambda v: tf.reduce_sum(v**2), w)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, 2 * w, atol=1e-8, rtol=0)


def test_float32_tape_gradient_passes():
    """Does the seed's float32 tape.gradient pass at x = [π/4, 3] with the default tolerances?"""
    x = tf.Variable([math.pi / 4, 3.0])
    with tf.GradientTape() as tape:
        y = seed_f(x)
    result = gradcheck(seed_f, x, tape.gradient(y, x))
    assert isinstance(result, GradCheck)
    assert result.ok, result.report()
    assert result.max_abs_err < 1e-5
    assert result.max_rel_err < 1e-6
    np.testing.assert_allclose(result.expected, [math.cos(math.pi / 4) + 3, math.pi / 4], atol=1e-8)
    assert result.report() == (
        "gradcheck ok: max abs err < 1e-06, max rel err < 1e-06 (atol 1e-05, rtol 0.0001, eps 1e-06)"
    )


def test_seed_wrong_gradient_fails_with_errors():
    """Is [cos(π/4 + 3), π/4] rejected with max abs err |cos(π/4+3) − cos(π/4) − 3|?"""
    result = gradcheck(seed_f, [math.pi / 4, 3.0], [math.cos(math.pi / 4 + 3), math.pi / 4])
    assert not result.ok
    expected = abs(math.cos(math.pi / 4 + 3) - math.cos(math.pi / 4) - 3)
    assert abs(result.max_abs_err - expected) < 1e-8
    assert abs(result.max_rel_err - expected / (math.cos(math.pi / 4) + 3)) < 1e-8
    lines = result.report().splitlines()
    assert lines[0].startswith("gradcheck FAILED: max abs err 4.51e+00, max rel err 1.22e+00")
    assert lines[1].startswith("  tape:") and lines[2].startswith("  finite differences:")


def test_tape_jacobian_passes_and_a_swapped_one_fails():
    """Is the seed's tape.jacobian accepted, and the same matrix with a row swapped rejected?"""
    x = tf.Variable([2.0, 3.0])
    with tf.GradientTape() as tape:
        y = seed_vector_f(x)
    jac = tape.jacobian(y, x)
    assert gradcheck(seed_vector_f, x, jac).ok
    swapped = gradcheck(seed_vector_f, x, np.asarray(jac)[::-1])
    assert not swapped.ok
    assert abs(swapped.max_abs_err - 2.0) < 1e-8


def test_tolerances_are_explicit():
    """Does a result 1e-3 off pass with atol=1e-2 but fail with the defaults?"""
    x = [0.5, -1.0]
    off = np.array([math.cos(0.5) - 1.0, 0.5]) + 1e-3
    assert not gradcheck(seed_f, x, off).ok
    assert gradcheck(seed_f, x, off, atol=1e-2).ok
    assert gradcheck(seed_f, x, off, rtol=1e-2).ok


def test_none_from_the_tape_names_watch_and_variables():
    """Does a None gradient (an unwatched constant) raise a message pointing to tape.watch and tf.Variable?"""
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = seed_f(x)
    grad = tape.gradient(y, x)
    assert grad is None
    with pytest.raises(ValueError) as err:
        gradcheck(seed_f, x, grad)
    assert str(err.value) == (
        "the tape returned None instead of a derivative: it recorded no path from x to f(x). "
        "Call tape.watch(x) for a tf.constant (or make x a tf.Variable), and compute f(x) with "
        "TensorFlow operations inside the `with tf.GradientTape()` block."
    )


def test_gradient_of_a_vector_output_is_diagnosed():
    """Does tape.gradient on a vector output (a summed row) get a shape error suggesting tape.jacobian?"""
    x = tf.Variable([2.0, 3.0])
    with tf.GradientTape() as tape:
        y = seed_vector_f(x)
    with pytest.raises(ValueError) as err:
        gradcheck(seed_vector_f, x, tape.gradient(y, x))
    assert str(err.value) == (
        "the derivative must have shape (2, 2) (output (2,) + x (2,)), found (2,). "
        "f has a vector output, and tape.gradient sums over the outputs; "
        "use tape.jacobian(y, x) for one row per output."
    )


def test_format_error_hides_round_off():
    """Are errors below 1e-6 printed as '< 1e-06' (machine-independent) and larger ones with 3 digits?"""
    assert format_error(2.47e-10) == "< 1e-06"
    assert format_error(0.0) == "< 1e-06"
    assert format_error(1e-6) == "1.00e-06"
    assert format_error(4.5121) == "4.51e+00"
