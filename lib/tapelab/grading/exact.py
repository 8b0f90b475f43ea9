"""Exact values: a student's object becomes a Python number only when its type is exactly a known one.

A test cell must not believe what an object says about itself: an ``__eq__`` that always
returns True, a ``float`` subclass whose ``__float__`` lies. The functions here accept only
values of exact, known types (``float``, ``int``, ``bool``, NumPy scalars and arrays of real
dtypes, TensorFlow eager tensors and Variables) and convert them with the types' own C code,
through references to the builtins, ``math`` and NumPy taken when this module is imported.
:mod:`tapelab.grading.trusted` imports it, in the notebook's locked setup cell before any
student cell runs, and re-exports every public name here; notebooks import them from there:

    same_float(got, want)   ⇔  got is exactly a number and |got − want| ≤ max(atol, rtol·max(|got|, |want|))
    same_floats(got, want)  ⇔  the same element by element, with as many elements (``shape=True``: the same shape)
"""

from __future__ import annotations

import builtins as _builtins_module
import math as _math_module
import sys as _sys_module
import types as _types_module
from typing import Any

import numpy as _np

# Pristine references, captured at import (before any student cell of the notebook runs).
_type = _builtins_module.type
_float = _builtins_module.float
_int = _builtins_module.int
_bool = _builtins_module.bool
_len = _builtins_module.len
_list = _builtins_module.list
_tuple = _builtins_module.tuple
_zip = _builtins_module.zip
_abs = _builtins_module.abs
_max = _builtins_module.max
_vars = _builtins_module.vars
_TypeError = _builtins_module.TypeError
_isfinite = _math_module.isfinite
_isnan = _math_module.isnan
_ndarray = _np.ndarray
_float64 = _np.float64
_bool_ = _np.bool_
_BOOL_DTYPE = _np.dtype(_np.bool_)
_NUMPY_FLOATS = (_np.float64, _np.float32, _np.float16)
_NUMPY_INTS = (_np.int64, _np.int32, _np.int16, _np.int8, _np.uint64, _np.uint32, _np.uint16, _np.uint8)
_NUMPY_SCALARS = _NUMPY_FLOATS + _NUMPY_INTS
_REAL_DTYPES = tuple(_np.dtype(t) for t in _NUMPY_SCALARS)
_asarray = _np.asarray
_ndarray_astype = _np.ndarray.astype
_ndarray_tolist = _np.ndarray.tolist
_ndarray_ravel = _np.ndarray.ravel
_EXACT_NUMBERS = (_float, _int)

# TensorFlow's tensor and Variable classes, found through its public API if TensorFlow is loaded.
_TF_TYPES: tuple = ()


def _tensorflow_types() -> tuple:
    """(EagerTensor, ResourceVariable): found at import, else (TensorFlow loaded later) now; never imports it."""
    global _TF_TYPES
    if not _TF_TYPES:
        tf = _vars(_sys_module.modules.get("tensorflow") or _types_module)
        if "constant" in tf and "Variable" in tf:
            _TF_TYPES = (_type(tf["constant"](0.0)), _type(tf["Variable"](0.0, trainable=False)))
    return _TF_TYPES


_tensorflow_types()


def type_of(value: Any) -> type:
    """The exact type of `value` (the builtin ``type``, which a student cell may have shadowed)."""
    return _type(value)


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
    if kind in _tensorflow_types():
        return real_float(_asarray(value))
    raise _TypeError(f"expected a number (a float), found an object of type {kind.__name__}")


def real_array(value: Any) -> _ndarray:
    """`value` as a float64 NumPy array of its own shape; accepts exact (nested) lists/tuples of
    numbers, NumPy arrays and scalars, TensorFlow eager tensors and Variables (converted by their own code)."""
    kind = _type(value)
    if kind in (_list, _tuple):
        items = [real_array(v) for v in value]
        shapes = {item.shape for item in items}
        if _len(shapes) > 1:
            raise _TypeError(f"expected a rectangular array, found rows of shapes {sorted(shapes)}")
        return _asarray(items, dtype=_float64).reshape((_len(items),) + (items[0].shape if items else ()))
    if kind in _tensorflow_types():
        value = _asarray(value)
        kind = _type(value)
    if kind is _ndarray and value.dtype in _REAL_DTYPES:
        return _ndarray_astype(value, _float64)
    if kind in _NUMPY_SCALARS or kind in _EXACT_NUMBERS:
        return _asarray(real_float(value), dtype=_float64)
    raise _TypeError(f"expected numbers (a list or an array of floats), found an object of type {kind.__name__}")


def real_floats(value: Any) -> list[float]:
    """`value` flattened to a list of Python floats (see :func:`real_array` for what is accepted)."""
    return _ndarray_tolist(_ndarray_ravel(real_array(value)))


def real_bool(value: Any) -> bool:
    """`value` as a Python bool, if it is exactly ``True``/``False`` or a NumPy bool; else TypeError."""
    kind = _type(value)
    if kind is _bool or kind is _bool_:
        return _bool(value)
    if kind is _ndarray and value.shape == () and value.dtype == _BOOL_DTYPE:
        return _bool(value)
    raise _TypeError(f"expected True or False, found an object of type {kind.__name__}")


def is_true(value: Any) -> bool:
    """True when `value` is exactly a true bool (Python or NumPy); anything else is False."""
    try:
        return real_bool(value)
    except _TypeError:
        return False


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


def same_floats(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9, *, shape: bool = False) -> bool:
    """:func:`same_float` element by element, and the same number of elements (``shape=True``: the same shape)."""
    try:
        a, b = real_array(got), real_array(want)
    except _TypeError:
        return False
    if (a.shape != b.shape) if shape else (a.size != b.size):
        return False
    for x, y in _zip(_ndarray_tolist(_ndarray_ravel(a)), _ndarray_tolist(_ndarray_ravel(b))):
        if not _close(x, y, rtol, atol):
            return False
    return True


def same_int(got: Any, want: int) -> bool:
    """True when `got` is exactly an int (Python or NumPy integer, not a bool) equal to `want`."""
    kind = _type(got)
    return (kind is _int or kind in _NUMPY_INTS) and _int(got) == want
