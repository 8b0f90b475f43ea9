"""tapelab.jacobians: SymPy's exact Jacobians and Hessians against the tape and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import tensorflow as tf

from tapelab import jacobians as jac

x0, x1, x2 = sp.symbols("x0 x1 x2")


def test_seed_jacobian_is_1_1_3_2():
    """Does the seed's f = [x0 + x1, x0*x1] at [2, 3] give [[1, 1], [3, 2]] from SymPy and from the tape?"""
    exprs, symbols, point = jac.seed_example()
    assert point == (2.0, 3.0)
    np.testing.assert_array_equal(jac.sympy_jacobian(exprs, symbols, point), [[1, 1], [3, 2]])
    np.testing.assert_array_equal(jac.tape_jacobian(jac.to_tensorflow(exprs, symbols), point), [[1, 1], [3, 2]])
    report = jac.check_jacobian(exprs, symbols, point)
    assert report.ok, report.report()
    assert report.errors["tape"] == 0.0
    assert report.errors["finite differences"] < 1e-8


def test_seed_tape_result_checked_and_a_transposed_one_rejected():
    """Is the seed notebook's float32 tape.jacobian accepted as claimed, and its transpose rejected?"""
    exprs, symbols, point = jac.seed_example()
    x = tf.Variable([2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.convert_to_tensor([x[0] + x[1], x[0] * x[1]])
    j = tape.jacobian(y, x)
    assert jac.check_jacobian(exprs, symbols, point, claimed=j).ok
    bad = jac.check_jacobian(exprs, symbols, point, claimed=np.transpose(j))
    assert not bad.ok
    assert bad.errors["claimed"] == 2.0
    assert bad.problems == [
        "the claimed Jacobian differs from SymPy at entry [0, 1]: expected 1, found 3 (2 entries off)."
    ]
    assert bad.report().splitlines()[0] == "Jacobian check: FAILED"


def test_a_students_function_is_checked_against_the_expressions():
    """Is a TensorFlow function computing x0 - x1 instead of x0 + x1 caught when passed as f?"""
    exprs, symbols, point = jac.seed_example()
    report = jac.check_jacobian(exprs, symbols, point, f=lambda x: tf.stack([x[0] - x[1], x[0] * x[1]]))
    assert not report.ok
    assert report.problems[0].startswith("the tape Jacobian differs from SymPy at entry [0, 1]: expected 1, found -1")
    with pytest.raises(ValueError, match="must have 2 components"):
        jac.check_jacobian(exprs, symbols, [1.0, 2.0, 3.0])


def test_jacobians_agree_at_random_points():
    """For a 3→2 function, do SymPy, the tape and finite differences agree at seeded random points?"""
    exprs = [sp.sin(x0) * x1 + x2**2, sp.exp(x0 * x2) - x1]
    rng = np.random.default_rng(5)
    for p in rng.uniform(-1, 1, size=(4, 3)):
        a, b, c = p
        by_hand = [[np.cos(a) * b, np.sin(a), 2 * c], [c * np.exp(a * c), -1, a * np.exp(a * c)]]
        np.testing.assert_allclose(jac.sympy_jacobian(exprs, (x0, x1, x2), p), by_hand, atol=1e-12)
        report = jac.check_jacobian(exprs, (x0, x1, x2), p)
        assert report.ok, report.report()
        assert report.errors["tape"] < 1e-12
        assert report.errors["finite differences"] < 1e-7


def test_hessian_by_nested_tapes_matches_sympy():
    """Does the nested-tape Hessian of x0²·x1 + sin(x1) equal [[2x1, 2x0], [2x0, −sin(x1)]]?"""
    expr = x0**2 * x1 + sp.sin(x1)
    rng = np.random.default_rng(9)
    for a, b in rng.uniform(-2, 2, size=(3, 2)):
        by_hand = [[2 * b, 2 * a], [2 * a, -np.sin(b)]]
        np.testing.assert_allclose(jac.sympy_hessian(expr, (x0, x1), [a, b]), by_hand, atol=1e-12)
        np.testing.assert_allclose(jac.tape_hessian(jac.to_tensorflow(expr, (x0, x1)), [a, b]), by_hand, atol=1e-12)
        report = jac.check_hessian(expr, (x0, x1), [a, b])
        assert report.ok, report.report()
        assert report.errors["finite differences"] < 1e-6


def test_hessian_claim_and_linear_terms():
    """Is a claimed Hessian missing the symmetric entry rejected, and a function with linear terms handled?"""
    expr = x0 * x1 + 3 * x0
    assert jac.check_hessian(expr, (x0, x1), [1.0, 2.0], claimed=[[0, 1], [1, 0]]).ok
    bad = jac.check_hessian(expr, (x0, x1), [1.0, 2.0], claimed=[[0, 1], [0, 0]])
    assert not bad.ok
    assert bad.problems == [
        "the claimed Hessian differs from SymPy at entry [1, 0]: expected 1, found 0 (1 entries off)."
    ]
    wrong_shape = jac.check_hessian(expr, (x0, x1), [1.0, 2.0], claimed=[1, 0])
    assert wrong_shape.problems == ["the claimed Hessian must have shape (2, 2), found (2,)."]
