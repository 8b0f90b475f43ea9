"""Comparisons for test cells that do not trust the student's namespace.

A test cell runs in the same kernel as the student's code, after it. So a test
must not believe what the student's objects say about themselves (``__eq__``
that always returns True, ``__float__`` that lies), nor functions the student
may have replaced (``math.isclose``, ``numpy.allclose``, ``builtins.abs``,
``isinstance``). This module captures the functions it needs when it is
imported, which the notebook's locked setup cell does before any student cell
runs, and accepts only values of exact, known types, converted by the types'
own C code:

    from tapelab.grading.trusted import call_fresh, same_float, same_floats
    assert same_float(add(1.5, 2.0), 3.5)
    got = call_fresh(step, w, g, 0.1)          # call first, compute the reference after
    assert same_floats(got, [w[0] - 0.1 * g[0], ...])

``call_fresh`` calls the student's function with deep copies of the arguments
from a frame that holds nothing but them, so the function can neither change the
test's inputs nor read the expected answer off the call stack (compute the
reference after the call, never before it).

What this does not stop: a student who rewrites this module, the test cells
(IPython input transformers) or the kernel itself. Those are visible in the
submitted code; :func:`tapelab.grading.integrity.suspicious_code` flags them for review.
"""

from __future__ import annotations

import builtins as _builtins_module
import copy as _copy_module
import math as _math_module
from typing import Any

import numpy as _np

# Pristine references, captured at import (before any student cell of the notebook runs).
_type = _builtins_module.type
_float = _builtins_module.float
_int = _builtins_module.int
_len = _builtins_module.len
_list = _builtins_module.list
_tuple = _builtins_module.tuple
_zip = _builtins_module.zip
_abs = _builtins_module.abs
_max = _builtins_module.max
_TypeError = _builtins_module.TypeError
_isfinite = _math_module.isfinite
_isnan = _math_module.isnan
_deepcopy = _copy_module.deepcopy
_ndarray = _np.ndarray
_float64 = _np.float64
_NUMPY_SCALARS = (_np.float64, _np.float32, _np.float16, _np.int64, _np.int32, _np.int16, _np.int8,
                  _np.uint64, _np.uint32, _np.uint16, _np.uint8)
_REAL_DTYPES = tuple(_np.dtype(t) for t in _NUMPY_SCALARS)
_asarray = _np.asarray
_ndarray_astype = _np.ndarray.astype
_ndarray_tolist = _np.ndarray.tolist
_ndarray_ravel = _np.ndarray.ravel
_EXACT_NUMBERS = (_float, _int)


def _eager_tensor_type() -> Any:
    """TensorFlow's EagerTensor class, if TensorFlow was imported (never imports it)."""
    import sys

    ops = sys.modules.get("tensorflow.python.framework.ops")
    return getattr(ops, "EagerTensor", None) if ops is not None else None


def real_float(value: Any) -> float:
    """`value` as a Python float, if it is exactly a number (float, int, NumPy scalar, 0-d array).

    Subclasses are refused: their ``__float__`` could say anything. Raises TypeError,
    whose message says what was expected and what was found.
    """
    kind = _type(value)
    if kind in _EXACT_NUMBERS or kind in _NUMPY_SCALARS:
        return _float(value)  # the exact type's own C conversion, not a student's __float__
    if kind is _ndarray and value.shape == () and value.dtype in _REAL_DTYPES:
        return _float(value)
    raise _TypeError(f"expected a number (a float), found an object of type {kind.__name__}")


def real_floats(value: Any) -> list[float]:
    """`value` flattened to a list of Python floats; accepts exact lists/tuples of numbers,
    NumPy arrays and TensorFlow eager tensors (converted by their own C code)."""
    kind = _type(value)
    if kind in (_list, _tuple):
        return [real_float(v) for v in value]
    tensor = _eager_tensor_type()
    if tensor is not None and kind is tensor:
        value = _asarray(value)
        kind = _type(value)
    if kind is _ndarray and value.dtype in _REAL_DTYPES:
        return _ndarray_tolist(_ndarray_ravel(_ndarray_astype(value, _float64)))
    if kind in _NUMPY_SCALARS or kind in _EXACT_NUMBERS:
        return [real_float(value)]
    raise _TypeError(f"expected numbers (a list or an array of floats), found an object of type {kind.__name__}")


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if _isnan(a) or _isnan(b):
        return False
    if not (_isfinite(a) and _isfinite(b)):
        return a == b
    return _abs(a - b) <= _max(atol, rtol * _max(_abs(a), _abs(b)))


def same_float(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """True when `got` is exactly a number and |got - want| <= max(atol, rtol·max(|got|, |want|)).

    An object of any other type (one whose ``__eq__`` always says yes, a string) is False.
    """
    try:
        return _close(real_float(got), real_float(want), rtol, atol)
    except _TypeError:
        return False


def same_floats(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """:func:`same_float` element by element, and the same number of elements."""
    try:
        a, b = real_floats(got), real_floats(want)
    except _TypeError:
        return False
    if _len(a) != _len(b):
        return False
    for x, y in _zip(a, b):
        if not _close(x, y, rtol, atol):
            return False
    return True


def call_fresh(function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with deep copies of the arguments, from a frame holding only them."""
    return function(*_deepcopy(args), **_deepcopy(kwargs))
