"""Comparisons for test cells that do not trust the student's namespace.

A test cell runs in the same kernel as the student's code, after it. So a test
must not believe what the student's objects say about themselves (``__eq__``
that always returns True, ``__float__`` that lies), nor functions the student
may have replaced (``math.isclose``, ``numpy.allclose``, ``sympy.simplify``,
``tapelab.chainrule.check_adjoints``, ``builtins.abs``, ``isinstance``). This
module captures what it needs when it is imported, which the notebook's locked
setup cell does before any student cell runs (after importing NumPy, SymPy,
TensorFlow and the course's modules), and accepts only values of exact, known
types, converted by the types' own C code (:mod:`tapelab.grading.exact`, whose
functions this module re-exports):

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

What this does not stop: a student who rewrites this module (or
:mod:`tapelab.grading.exact`), patches methods of classes (``sympy.Expr.__sub__``),
the test cells (IPython input transformers) or the kernel itself. Those are visible in the submitted code;
:func:`tapelab.grading.integrity.suspicious_code` flags them for review.
"""

from __future__ import annotations

import builtins as _builtins_module
import copy as _copy_module
import sys as _sys_module
import types as _types_module
from typing import Any

import numpy.random as _np_random  # noqa: F401  (loaded here so that pristine("numpy").random is saved too)

# The comparisons of exact numbers live in their own module, imported (so its references are
# taken) with this one; notebooks import them from here.
from tapelab.grading.exact import (is_true, real_array, real_bool, real_float, real_floats, same_float, same_floats,
                                   same_int, type_of)

__all__ = ["PRISTINE_PACKAGES", "Pristine", "pristine", "type_of", "real_float", "real_array", "real_floats",
           "real_bool", "is_true", "same_float", "same_floats", "same_int", "is_sympy", "same_expr", "call_fresh"]

# Pristine references, captured at import (before any student cell of the notebook runs).
_type = _builtins_module.type
_str = _builtins_module.str
_list = _builtins_module.list
_all = _builtins_module.all
_vars = _builtins_module.vars
_isinstance = _builtins_module.isinstance
_deepcopy = _copy_module.deepcopy
_ModuleType = _types_module.ModuleType

#: top-level packages whose modules :func:`pristine` keeps as they were at import.
PRISTINE_PACKAGES = ("math", "numpy", "sympy", "tensorflow", "keras", "tapelab")
_SNAPSHOT: dict[str, dict[str, Any]] = {}


def _snapshot(packages: tuple[str, ...]) -> None:
    """Save the namespace of every loaded module of `packages` not saved yet."""
    for name, module in _list(_sys_module.modules.items()):
        if name.split(".")[0] in packages and _type(module) is _ModuleType and name not in _SNAPSHOT:
            _SNAPSHOT[name] = dict(_vars(module))


_snapshot(PRISTINE_PACKAGES)


_SYMPY_CLASSES: frozenset = frozenset()


def _sympy() -> dict[str, Any]:
    """SymPy's saved namespace, and the set of its classes (student subclasses, made later, are not among them).

    Saved at import; if SymPy was loaded only afterwards, saved at first use (no longer before any student cell).
    """
    global _SYMPY_CLASSES
    if not _SYMPY_CLASSES and "sympy" in _sys_module.modules:
        _snapshot(("sympy",))
        found = {v for name, namespace in _SNAPSHOT.items() if name.split(".")[0] == "sympy"
                 for v in namespace.values() if _isinstance(v, _type)}
        _SYMPY_CLASSES = frozenset(c for c in found if _type(c.__module__) is _str
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
        return _all(is_sympy(entry) for entry in _list(value))
    preorder = _sympy()["preorder_traversal"]
    return _all(_type(node) in _SYMPY_CLASSES for node in preorder(value))


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
    return _all(_type(entry) is zero for entry in (_list(difference) if _is_matrix(difference) else [difference]))


def call_fresh(function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with deep copies of the arguments, from a frame holding only them."""
    return function(*_deepcopy(args), **_deepcopy(kwargs))
