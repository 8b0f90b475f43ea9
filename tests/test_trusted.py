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
