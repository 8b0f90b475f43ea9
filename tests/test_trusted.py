"""Tests for tapelab.grading.trusted: comparisons that student objects and patches cannot fool."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest

from tapelab.grading.trusted import call_fresh, real_float, same_float, same_floats


class AlwaysEqual:
    """A student's object that agrees with everything."""

    def __eq__(self, other):
        return True

    def __float__(self):
        return 3.5


class LyingFloat(float):
    """A float subclass whose comparisons and conversion lie."""

    def __eq__(self, other):
        return True

    def __float__(self):
        return 3.5


@pytest.mark.parametrize("value", [3.5, 7 / 2, np.float64(3.5), np.float32(3.5), np.array(3.5)])
def test_real_numbers_compare(value):
    """Are exact floats, NumPy scalars and 0-d arrays accepted and compared by value?"""
    assert same_float(value, 3.5) and not same_float(value, 3.6)


@pytest.mark.parametrize("value", [AlwaysEqual(), LyingFloat(1.0), "3.5", None, True, [3.5]])
def test_liars_and_other_types_are_refused(value):
    """Are objects whose __eq__ or __float__ lie, strings, bools and lists never equal to a number?"""
    assert not same_float(value, 3.5)


def test_real_float_message():
    """Does real_float say what it expected and what it found?"""
    with pytest.raises(TypeError) as err:
        real_float(AlwaysEqual())
    assert str(err.value) == "expected a number (a float), found an object of type AlwaysEqual"


def test_patched_modules_do_not_change_the_answer(monkeypatch):
    """Do patched math.isclose, numpy.allclose and builtins.abs leave the comparison unchanged?"""
    monkeypatch.setattr(math, "isclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(builtins, "abs", lambda x: 0.0)
    assert not same_float(1.0, 2.0)
    assert not same_floats([1.0, 2.0], np.array([1.0, 2.5]))
    assert same_floats((1.0, 2.0), np.array([1.0, 2.0]))


def test_same_floats_shapes_and_tolerance():
    """Do lists of different lengths differ, and values within rtol agree?"""
    assert not same_floats([1.0], [1.0, 2.0])
    assert same_floats([1.0, 2.0], [1.0 + 1e-9, 2.0])
    assert not same_floats([float("nan")], [float("nan")])


def test_tensorflow_tensors_are_numbers():
    """Is an eager TensorFlow tensor converted and compared like an array?"""
    tf = pytest.importorskip("tensorflow")
    assert same_floats(tf.constant([1.0, 2.0]), [1.0, 2.0])
    assert not same_floats(tf.constant([1.0, 2.0]), [1.0, 2.5])


def test_call_fresh_hides_the_test_and_copies_arguments():
    """Can a function called through call_fresh neither change the test's inputs nor find its locals on the stack?"""
    import inspect

    def sneaky(w):
        w.append(99.0)
        for info in inspect.stack()[1:]:
            if "want" in info.frame.f_locals:
                return info.frame.f_locals["want"]
        return "not found"

    w = [1.0]
    assert call_fresh(sneaky, w) == "not found"
    want = [2.0]
    assert w == [1.0] and want == [2.0]


def test_pristine_modules_ignore_later_patches(monkeypatch):
    """Does pristine('numpy') keep the functions NumPy had when trusted was imported, submodules too?"""
    from tapelab.grading.trusted import pristine

    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np.linalg, "norm", lambda *a, **k: 0.0)
    tnp = pristine("numpy")
    assert tnp.allclose([1.0], [1.0]) and not tnp.allclose([1.0], [2.0])
    assert tnp.linalg.norm([3.0, 4.0]) == 5.0
    with pytest.raises(AttributeError):
        tnp.allclose = None
    with pytest.raises(ImportError, match="import it first"):
        pristine("a_module_nobody_imported")


def test_bools_ints_and_shapes():
    """Are Python and NumPy bools true, ints exact, and shapes compared when asked?"""
    from tapelab.grading.trusted import is_true, real_bool, same_int

    assert is_true(True) and is_true(np.bool_(True)) and is_true(np.array(True))
    assert not is_true(1) and not is_true("True") and not is_true(AlwaysEqual()) and not is_true(np.bool_(False))
    with pytest.raises(TypeError, match="expected True or False"):
        real_bool(1)
    assert same_int(3, 3) and same_int(np.int64(3), 3) and not same_int(True, 1) and not same_int(3.0, 3)
    assert same_floats([[1, 2], [3, 4]], np.array([[1.0, 2.0], [3.0, 4.0]]), shape=True)
    assert not same_floats([[1, 2, 3, 4]], [[1, 2], [3, 4]], shape=True) and same_floats([[1, 2, 3, 4]], [[1, 2], [3, 4]])
    assert not same_floats([[1, 2], [3]], [1, 2, 3])


def test_sympy_expressions_and_matrices():
    """Is a SymPy expression equal to an equivalent one, and are strings, numbers and impostors refused?"""
    sp = pytest.importorskip("sympy")
    from tapelab.grading.trusted import is_sympy, same_expr

    w1, w2 = sp.symbols("w1 w2")
    assert same_expr(sp.cos(w1) + w2, w2 + sp.cos(w1)) and not same_expr(sp.cos(w1), sp.cos(w1) + w2)
    assert same_expr(sp.Integer(1), 1) and not same_expr(1, 1) and not same_expr("cos(w1) + w2", sp.cos(w1) + w2)

    class Impostor(sp.Symbol):
        def __sub__(self, other):
            return sp.Integer(0)

    assert not is_sympy(Impostor("w1")) and not same_expr(Impostor("w1") + w2, w1 + w2)
    m = sp.Matrix([[w1, w2], [0, 1]])
    assert same_expr(m, sp.Matrix([[w1, w2], [0, 1]])) and not same_expr(m, sp.eye(2)) and not same_expr(m, w1)


def test_pristine_numpy_draws_the_test_points(monkeypatch):
    """Does pristine('numpy').random give NumPy's own generator, whatever a cell did to numpy.random?"""
    from tapelab.grading.trusted import pristine

    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: None)
    assert pristine("numpy").random.default_rng(0).uniform() == np.random.Generator(np.random.PCG64(0)).uniform()


def test_sympy_comparison_ignores_a_patched_all(monkeypatch):
    """Does same_expr keep its own all(), so that an all() that lies only to the trusted module changes nothing?"""
    import sys

    sp = pytest.importorskip("sympy")
    from tapelab.grading import trusted

    real_all = builtins.all

    def lying_all(iterable):
        return True if sys._getframe(1).f_globals is vars(trusted) else real_all(iterable)

    monkeypatch.setattr(builtins, "all", lying_all)
    x = sp.Symbol("x")
    assert not trusted.same_expr(sp.cos(x), x + 5) and trusted.same_expr(sp.cos(x) + 1, 1 + sp.cos(x))


def test_exact_comparisons_are_reexported():
    """Are the comparisons of exact numbers the same objects under trusted, where notebooks import them?"""
    from tapelab.grading import exact, trusted

    for name in ("type_of", "real_float", "real_array", "real_floats", "real_bool", "is_true", "same_float",
                 "same_floats", "same_int"):
        assert getattr(trusted, name) is getattr(exact, name) and name in trusted.__all__
