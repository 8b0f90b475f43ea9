"""Comparisons for test cells that do not trust the student's namespace.

A test cell runs in the same kernel as the student's code, after it. So a test
must not believe what the student's objects say about themselves (``__eq__``
that always returns True, ``__float__`` that lies), nor functions the student
may have replaced (``math.isclose``, ``numpy.allclose``, ``sympy.simplify``,
``tapelab.chainrule.check_adjoints``, ``builtins.abs``, ``isinstance``). This
module captures what it needs when it is imported, which the notebook's locked
setup cell does before any student cell runs (after importing NumPy, SymPy,
TensorFlow and the course's modules), and accepts only values of exact, known
types, converted by the types' own C code:

    from tapelab.grading.trusted import call_fresh, pristine, same_float, same_floats
    assert same_float(add(1.5, 2.0), 3.5)
    got = call_fresh(step, w, g, 0.1)          # call first, compute the reference after
    tnp = pristine("numpy")                    # NumPy as it was before any student cell ran
    assert same_floats(got, tnp.subtract(w, tnp.multiply(0.1, g)))

``call_fresh`` calls the student's function with deep copies of the arguments
from a frame that holds nothing but them, so the function can neither change the
test's inputs nor read the expected answer off the call stack (compute the
reference after the call, never before it). :func:`pristine` gives a module's
namespace as it was when this module was imported: a student who replaces
``np.allclose`` or ``chainrule.check_adjoints`` later changes nothing there.

What this does not stop: a student who rewrites this module, patches methods of
classes (``sympy.Expr.__sub__``), the test cells (IPython input transformers) or
the kernel itself. Those are visible in the submitted code;
:func:`tapelab.grading.integrity.suspicious_code` flags them for review.
"""

from __future__ import annotations

import builtins as _builtins_module
import copy as _copy_module
import math as _math_module
import sys as _sys_module
import types as _types_module
from typing import Any

import numpy as _np
import numpy.random as _np_random  # noqa: F401  (loaded here so that pristine("numpy").random is saved too)

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
_isinstance = _builtins_module.isinstance
_TypeError = _builtins_module.TypeError
_isfinite = _math_module.isfinite
_isnan = _math_module.isnan
_deepcopy = _copy_module.deepcopy
_ModuleType = _types_module.ModuleType
_ndarray = _np.ndarray
_float64 = _np.float64
_bool_ = _np.bool_
_NUMPY_FLOATS = (_np.float64, _np.float32, _np.float16)
_NUMPY_INTS = (_np.int64, _np.int32, _np.int16, _np.int8, _np.uint64, _np.uint32, _np.uint16, _np.uint8)
_NUMPY_SCALARS = _NUMPY_FLOATS + _NUMPY_INTS
_REAL_DTYPES = tuple(_np.dtype(t) for t in _NUMPY_SCALARS)
_asarray = _np.asarray
_ndarray_astype = _np.ndarray.astype
_ndarray_tolist = _np.ndarray.tolist
_ndarray_ravel = _np.ndarray.ravel
_EXACT_NUMBERS = (_float, _int)

#: top-level packages whose modules :func:`pristine` keeps as they were at import.
PRISTINE_PACKAGES = ("math", "numpy", "sympy", "tensorflow", "keras", "tapelab")
_SNAPSHOT: dict[str, dict[str, Any]] = {}


def _snapshot(packages: tuple[str, ...]) -> None:
    """Save the namespace of every loaded module of `packages` not saved yet."""
    for name, module in _list(_sys_module.modules.items()):
        if name.split(".")[0] in packages and _type(module) is _ModuleType and name not in _SNAPSHOT:
            _SNAPSHOT[name] = dict(_vars(module))


_snapshot(PRISTINE_PACKAGES)


# TensorFlow's tensor and Variable classes, found through its public API if TensorFlow is loaded.
_TF_TYPES: tuple = ()


def _tensorflow_types() -> tuple:
    """(EagerTensor, ResourceVariable): saved at import, else (TensorFlow loaded later) looked up now, never imported."""
    global _TF_TYPES
    if not _TF_TYPES:
        tf = _SNAPSHOT.get("tensorflow") or _vars(_sys_module.modules.get("tensorflow") or _types_module)
        if "constant" in tf and "Variable" in tf:
            _TF_TYPES = (_type(tf["constant"](0.0)), _type(tf["Variable"](0.0, trainable=False)))
    return _TF_TYPES


_tensorflow_types()


_SYMPY_CLASSES: frozenset = frozenset()


def _sympy() -> dict[str, Any]:
    """SymPy's saved namespace, and the set of its classes (student subclasses, made later, are not among them).

    Saved at import; if SymPy was loaded only afterwards, saved at first use (no longer before any student cell).
    """
    global _SYMPY_CLASSES
    if not _SYMPY_CLASSES and "sympy" in _sys_module.modules:
        _snapshot(("sympy",))
        found = {v for name, namespace in _SNAPSHOT.items() if name.split(".")[0] == "sympy"
                 for v in namespace.values() if _isinstance(v, type)}
        _SYMPY_CLASSES = frozenset(c for c in found if _type(c.__module__) is str
                                   and c.__module__.split(".")[0] == "sympy")
    return _SNAPSHOT.get("sympy", {})


_sympy()


class Pristine:
    """A module's namespace as it was when :mod:`tapelab.grading.trusted` was imported.

    Attribute access reads the saved namespace; a submodule comes back as its own
    :class:`Pristine`. Replacing ``numpy.allclose`` afterwards changes nothing here.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        if name not in _SNAPSHOT:
            raise ImportError(f"{name} was not imported before tapelab.grading.trusted: import it first in the "
                              "notebook's setup cell, then tapelab.grading.trusted")
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attribute: str) -> Any:
        name = object.__getattribute__(self, "_name")
        namespace = _SNAPSHOT[name]
        if attribute not in namespace:
            raise AttributeError(f"module {name} had no attribute {attribute!r} when it was saved")
        value = namespace[attribute]
        if _type(value) is _ModuleType and value.__name__ in _SNAPSHOT:
            return Pristine(value.__name__)
        return value

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise AttributeError("a pristine module cannot be changed")

    def __repr__(self) -> str:
        return f"<pristine {object.__getattribute__(self, '_name')}>"


def pristine(name: str) -> Pristine:
    """The module `name` as it was when this module was imported, e.g. ``pristine("numpy").allclose``."""
    return Pristine(name)


# ----------------------------------------------------------------------------- exact values


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
    if kind is _ndarray and value.shape == () and value.dtype == _np.dtype(_bool_):
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


# ----------------------------------------------------------------------------- SymPy


def _is_matrix(value: Any) -> bool:
    return "MatrixBase" in _sympy() and _isinstance(value, _sympy()["MatrixBase"])


def is_sympy(value: Any) -> bool:
    """True when `value` and every part of it are of SymPy's own classes (no student subclass).

    A SymPy Matrix counts when each of its entries does.
    """
    if not _sympy() or _type(value) not in _SYMPY_CLASSES:
        return False
    if _is_matrix(value):
        return all(is_sympy(entry) for entry in _list(value))
    preorder = _sympy()["preorder_traversal"]
    return all(_type(node) in _SYMPY_CLASSES for node in preorder(value))


def same_expr(got: Any, want: Any) -> bool:
    """True when `got` is a SymPy expression (or Matrix) of SymPy's own classes and simplify(got - want) is 0.

    A string, a number of another type or an object posing as an expression is False.
    """
    if not is_sympy(got):
        return False
    sympy = _sympy()
    want = sympy["sympify"](want)
    if _is_matrix(got) != _is_matrix(want) or (_is_matrix(got) and got.shape != want.shape):
        return False
    difference = sympy["simplify"](got - want)
    zero = _type(sympy["S"].Zero)
    return all(_type(entry) is zero for entry in (_list(difference) if _is_matrix(difference) else [difference]))


def call_fresh(function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with deep copies of the arguments, from a frame holding only them."""
    return function(*_deepcopy(args), **_deepcopy(kwargs))
