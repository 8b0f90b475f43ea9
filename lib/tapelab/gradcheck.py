"""Check a tape's derivative against float64 central finite differences.

For f: R^n -> R^m (or a scalar) the central difference approximates every partial derivative

    ∂f_i/∂x_j ≈ (f_i(x + h·e_j) − f_i(x − h·e_j)) / 2h,     h = eps·max(1, |x_j|),

with an error of order h² (truncation) plus float64 round-off ~1e-16/h, about 1e-10 for eps = 1e-6.
A scalar output gives the gradient (shape of x), a vector output the Jacobian (shape out + x), exactly
the shapes ``tape.gradient`` and ``tape.jacobian`` return.

Public API
----------
- ``numerical_jacobian(f, x, *, eps=1e-6) -> numpy.ndarray``: the float64 central difference.
- ``gradcheck(f, x, result, *, eps=1e-6, atol=1e-5, rtol=1e-4) -> GradCheck``: compares a
  ``tape.gradient`` / ``tape.jacobian`` result with it; ``result`` None raises a ValueError that
  points at ``tape.watch`` / ``tf.Variable``.
- ``GradCheck``: ``max_abs_err``, ``max_rel_err``, ``ok``, ``result``, ``expected`` and ``.report()``.
- ``format_error(e) -> str``: how reports print an error; below 1e-6 it reads ``< 1e-06``, so
  report text is the same on every machine (notebook outputs are compared exactly).

The defaults accept a float32 tape (relative error ~1e-7) and reject a wrong derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class GradCheck:
    """A tape result compared with float64 central differences.

    ``ok`` holds when every component satisfies |result − fd| ≤ atol + rtol·|fd|.
    ``max_rel_err`` is max |result − fd| / max(|fd|, atol).
    """

    max_abs_err: float
    max_rel_err: float
    ok: bool
    result: np.ndarray
    expected: np.ndarray
    eps: float
    atol: float
    rtol: float

    def report(self) -> str:
        """A few readable lines: the verdict, the errors, and the two arrays when they differ."""
        verdict = "ok" if self.ok else "FAILED"
        lines = [
            f"gradcheck {verdict}: max abs err {format_error(self.max_abs_err)}, "
            f"max rel err {format_error(self.max_rel_err)} "
            f"(atol {self.atol:g}, rtol {self.rtol:g}, eps {self.eps:g})"
        ]
        if not self.ok:
            with np.printoptions(precision=6, suppress=True):
                for name, arr in (("tape", self.result), ("finite differences", self.expected)):
                    prefix = f"  {name + ':':<20}"
                    lines.append(prefix + np.array2string(arr, prefix=prefix))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def format_error(e: float) -> str:
    """An error for reports: ``< 1e-06`` below 1e-6 (round-off that varies between machines), else 3 digits."""
    return "< 1e-06" if e < 1e-6 else f"{e:.2e}"


def numerical_jacobian(f: Callable[[Any], Any], x: Any, *, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x at x by float64 central differences; shape f(x).shape + x.shape.

    ``f`` receives a float64 ``tf.Tensor`` of x's shape and may return a tensor, an array or a number.
    """
    import tensorflow as tf

    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)

    def call(v: np.ndarray) -> np.ndarray:
        return np.asarray(f(tf.constant(v, dtype=tf.float64)), dtype=np.float64)

    out_shape = call(x).shape
    jac = np.empty(out_shape + x.shape, dtype=np.float64)
    for j in np.ndindex(x.shape):
        h = eps * max(1.0, abs(float(x[j])))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        jac[(Ellipsis, *j)] = (call(up) - call(down)) / (2 * h)
    return jac


def gradcheck(
    f: Callable[[Any], Any],
    x: Any,
    result: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> GradCheck:
    """Compare ``result`` (from ``tape.gradient(f(x), x)`` or ``tape.jacobian(f(x), x)``) with
    :func:`numerical_jacobian` at x.

    Raises ValueError when ``result`` is None (the tape saw no path from x to f(x)) or when its
    shape is not the derivative's shape.
    """
    if result is None:
        raise ValueError(
            "the tape returned None instead of a derivative: it recorded no path from x to f(x). "
            "Call tape.watch(x) for a tf.constant (or make x a tf.Variable), and compute f(x) with "
            "TensorFlow operations inside the `with tf.GradientTape()` block."
        )
    got = np.asarray(result.numpy() if hasattr(result, "numpy") else result, dtype=np.float64)
    want = numerical_jacobian(f, x, eps=eps)
    if got.shape != want.shape:
        x_shape = want.shape[len(want.shape) - np.ndim(np.asarray(x)) :]
        out_shape = want.shape[: len(want.shape) - len(x_shape)]
        hint = ""
        if out_shape and got.shape == x_shape:
            hint = (
                " f has a vector output, and tape.gradient sums over the outputs; "
                "use tape.jacobian(y, x) for one row per output."
            )
        raise ValueError(
            f"the derivative must have shape {want.shape} (output {out_shape} + x {x_shape}), "
            f"found {got.shape}.{hint}"
        )
    diff = np.abs(got - want)
    max_abs = float(diff.max(initial=0.0))
    max_rel = float((diff / np.maximum(np.abs(want), atol)).max(initial=0.0))
    ok = bool(np.all(diff <= atol + rtol * np.abs(want)))
    return GradCheck(max_abs, max_rel, ok, got, want, eps, atol, rtol)
