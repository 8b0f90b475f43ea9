"""Jacobians and Hessians: SymPy's exact matrices against ``tape.jacobian`` and nested tapes.

For a vector function f(x) = [f_1(x), ..., f_m(x)] the Jacobian is the m×n matrix

    J_ij = ∂f_i/∂x_j,

which ``tape.jacobian(y, x)`` returns and SymPy's ``Matrix(f).jacobian(x)`` writes exactly.
The seed example f(x) = [x0 + x1, x0·x1] at x = [2, 3] has J = [[1, 1], [x1, x0]] = [[1, 1], [3, 2]].
For a scalar f the Hessian H_ij = ∂²f/∂x_i∂x_j is the Jacobian of the gradient: a tape inside a
tape (the inner one gives ∇f, the outer one its Jacobian), or SymPy's ``hessian(f, x)``.

Public API
----------
- ``seed_example() -> (exprs, symbols, point)``: [x0 + x1, x0·x1], (x0, x1), (2.0, 3.0).
- ``to_tensorflow(exprs, symbols) -> f``: a TensorFlow function f(x) of a tensor x (one entry per symbol).
- ``sympy_jacobian(exprs, symbols, point) -> numpy.ndarray`` and ``tape_jacobian(f, x) -> numpy.ndarray``.
- ``sympy_hessian(expr, symbols, point) -> numpy.ndarray`` and ``tape_hessian(f, x) -> numpy.ndarray``.
- ``check_jacobian(exprs, symbols, point, claimed=None, *, f=None, ...) -> MatrixCheck``.
- ``check_hessian(expr, symbols, point, claimed=None, *, f=None, ...) -> MatrixCheck``.
- ``MatrixCheck``: ``ok``, ``reference`` (SymPy), ``tape``, ``finite_differences``, ``claimed``,
  ``errors`` (max |Δ| per comparison) and ``.report()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from tapelab.gradcheck import format_error, numerical_jacobian

Exprs = Sequence[sp.Expr | str] | sp.MatrixBase


def seed_example() -> tuple[list[sp.Expr], tuple[sp.Symbol, ...], tuple[float, ...]]:
    """The seed notebook's Jacobian example: f(x) = [x0 + x1, x0·x1] at x = [2, 3]."""
    x0, x1 = sp.symbols("x0 x1")
    return [x0 + x1, x0 * x1], (x0, x1), (2.0, 3.0)


def _exprs(exprs: Exprs) -> list[sp.Expr]:
    return [sp.sympify(e) for e in (list(exprs) if not isinstance(exprs, str) else [exprs])]


def to_tensorflow(exprs: Exprs | sp.Expr | str, symbols: Sequence[sp.Symbol]) -> Callable[[Any], Any]:
    """A TensorFlow function f(x) computing the expressions from a tensor x = [symbols...].

    A list of expressions gives a vector output (stacked), a single expression a scalar.
    """
    import tensorflow as tf

    scalar = not isinstance(exprs, (list, tuple, sp.MatrixBase))
    items = _exprs([exprs] if scalar else exprs)
    fn = sp.lambdify(list(symbols), items, modules="tensorflow")

    def f(x: Any) -> Any:
        x = tf.convert_to_tensor(x)
        outs = [tf.cast(v, x.dtype) + tf.zeros([], x.dtype) for v in fn(*(x[i] for i in range(len(symbols))))]
        return outs[0] if scalar else tf.stack(outs)

    return f


def _numbers(point: Any, n: int) -> np.ndarray:
    x = np.asarray(point.numpy() if hasattr(point, "numpy") else point, dtype=np.float64).reshape(-1)
    if x.shape != (n,):
        raise ValueError(f"the point must have {n} components (one per symbol), found {x.size}.")
    return x


def sympy_jacobian(exprs: Exprs, symbols: Sequence[sp.Symbol], point: Any) -> np.ndarray:
    """``Matrix(exprs).jacobian(symbols)`` evaluated at ``point`` (float64, shape m×n)."""
    jac = sp.Matrix(_exprs(exprs)).jacobian(list(symbols))
    x = _numbers(point, len(symbols))
    return np.array(jac.subs(dict(zip(symbols, x))).evalf(), dtype=np.float64)


def sympy_hessian(expr: sp.Expr | str, symbols: Sequence[sp.Symbol], point: Any) -> np.ndarray:
    """``sympy.hessian(expr, symbols)`` evaluated at ``point`` (float64, shape n×n)."""
    h = sp.hessian(sp.sympify(expr), list(symbols))
    x = _numbers(point, len(symbols))
    return np.array(h.subs(dict(zip(symbols, x))).evalf(), dtype=np.float64)


def tape_jacobian(f: Callable[[Any], Any], x: Any) -> np.ndarray:
    """``tape.jacobian(f(x), x)`` for a float64 ``tf.Variable`` x (zeros where f ignores x).

    The Jacobian is built row by row (``experimental_use_pfor=False``): slower for big outputs, but
    it traces no tf.function, so repeated calls stay quiet.
    """
    import tensorflow as tf

    xv = tf.Variable(np.asarray(x, dtype=np.float64))
    with tf.GradientTape(persistent=True) as tape:
        y = f(xv)
    jac = tape.jacobian(y, xv, unconnected_gradients=tf.UnconnectedGradients.ZERO, experimental_use_pfor=False)
    return np.asarray(jac, dtype=np.float64)


def tape_hessian(f: Callable[[Any], Any], x: Any) -> np.ndarray:
    """The Hessian of a scalar f by nested tapes: the outer tape's Jacobian of the inner tape's gradient."""
    import tensorflow as tf

    xv = tf.Variable(np.asarray(x, dtype=np.float64))
    zero = tf.UnconnectedGradients.ZERO
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            y = f(xv)
        g = inner.gradient(y, xv, unconnected_gradients=zero)
    return np.asarray(outer.jacobian(g, xv, unconnected_gradients=zero, experimental_use_pfor=False), dtype=np.float64)


@dataclass
class MatrixCheck:
    """SymPy's exact matrix against the tape, finite differences and (optionally) a claimed matrix.

    ``errors`` maps "tape", "finite differences" and "claimed" to max |Δ| against ``reference``;
    ``ok`` holds when every compared matrix is within ``atol + rtol·|reference|`` entrywise.
    """

    what: str
    ok: bool
    reference: np.ndarray
    tape: np.ndarray
    finite_differences: np.ndarray
    claimed: np.ndarray | None
    errors: dict[str, float]
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        """The verdict, one line per comparison, and the problem found (if any)."""
        lines = [f"{self.what} check: " + ("ok" if self.ok else "FAILED")]
        with np.printoptions(precision=6, suppress=True):
            lines.append(f"  SymPy: {np.array2string(self.reference, prefix='  SymPy: ')}")
        lines += [f"  max |Δ| vs SymPy, {k}: {format_error(v)}" for k, v in self.errors.items()]
        lines += ["  " + p for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _compare(
    what: str,
    reference: np.ndarray,
    tape: np.ndarray,
    fd: np.ndarray,
    claimed: Any,
    atol: float,
    rtol: float,
) -> MatrixCheck:
    others = {"tape": tape, "finite differences": fd}
    claimed_arr = None
    if claimed is not None:
        claimed_arr = np.asarray(claimed.numpy() if hasattr(claimed, "numpy") else claimed, dtype=np.float64)
        others["claimed"] = claimed_arr
    errors: dict[str, float] = {}
    problems: list[str] = []
    for name, m in others.items():
        if m.shape != reference.shape:
            errors[name] = float("inf")
            problems.append(f"the {name} {what} must have shape {reference.shape}, found {m.shape}.")
            continue
        diff = np.abs(m - reference)
        errors[name] = float(diff.max(initial=0.0))
        bad = np.argwhere(~(diff <= atol + rtol * np.abs(reference)))
        if len(bad):
            i = tuple(int(k) for k in bad[0])
            problems.append(
                f"the {name} {what} differs from SymPy at entry {list(i)}: expected {reference[i]:.6g}, "
                f"found {m[i]:.6g} ({len(bad)} entries off)."
            )
    return MatrixCheck(what, not problems, reference, tape, fd, claimed_arr, errors, problems)


def check_jacobian(
    exprs: Exprs,
    symbols: Sequence[sp.Symbol],
    point: Any,
    claimed: Any = None,
    *,
    f: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> MatrixCheck:
    """Compare J = ∂f/∂x from SymPy with ``tape.jacobian`` (float64), central differences and ``claimed``.

    ``f`` is the TensorFlow function the tape differentiates (default: the expressions themselves,
    via :func:`to_tensorflow`); pass a student's function to check it against the expressions.
    ``claimed`` is an optional matrix (e.g. a float32 ``tape.jacobian`` result).
    """
    x = _numbers(point, len(symbols))
    f = to_tensorflow(list(_exprs(exprs)), symbols) if f is None else f
    reference = sympy_jacobian(exprs, symbols, x)
    return _compare(
        "Jacobian", reference, tape_jacobian(f, x), numerical_jacobian(f, x, eps=eps), claimed, atol, rtol
    )


def check_hessian(
    expr: sp.Expr | str,
    symbols: Sequence[sp.Symbol],
    point: Any,
    claimed: Any = None,
    *,
    f: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> MatrixCheck:
    """Compare H = ∂²f/∂x² from ``sympy.hessian`` with nested tapes, central differences of the
    tape's gradient, and an optional ``claimed`` matrix. ``f`` defaults to the expression itself."""
    import tensorflow as tf

    x = _numbers(point, len(symbols))
    f = to_tensorflow(expr, symbols) if f is None else f

    def grad(v: Any) -> Any:
        v = tf.Variable(v)
        with tf.GradientTape() as tape:
            y = f(v)
        return tape.gradient(y, v, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    reference = sympy_hessian(expr, symbols, x)
    return _compare(
        "Hessian", reference, tape_hessian(f, x), numerical_jacobian(grad, x, eps=eps), claimed, atol, rtol
    )
