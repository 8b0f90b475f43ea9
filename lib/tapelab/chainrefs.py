"""Independent references for ∂y/∂x and the adjoints w̄ of a computation graph.

The chain rule of :mod:`tapelab.chainrule` is checked against answers that do not use it
(:data:`REFERENCES`):

- ``sympy.diff``: ∂y/∂xi of the output written in the inputs x (``graph.expanded()``), in float64;
- ``GradientTape``: the graph run node by node in TensorFlow float64 under ``tf.GradientTape``;
- ``finite differences``: :func:`tapelab.gradcheck.numerical_jacobian` of the forward pass,
  (y(x + h·ei) − y(x − h·ei)) / 2h in float64 with h = eps·max(1, |xi|), error ~h² + 1e-16/h.

Public API (also as ``tapelab.chainrule.X``)
--------------------------------------------
- ``reference_gradients(graph, x, *, eps=1e-6) -> dict[str, numpy.ndarray]``: ∂y/∂x from each reference.
- ``tape_adjoints(graph, x) -> dict[str, float]``: w̄ of every node from tf.GradientTape (float64).

Both refuse inside :func:`tapelab.chainrule.withheld`, like every function that computes adjoints.
This module builds on :mod:`tapelab.chainrule`, which imports it back at its end (for
``chainrule.X``): import ``tapelab.chainrule`` first, then ``from tapelab.chainrefs import ...``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from tapelab.chainrule import _answer, forward
from tapelab.compgraph import Graph, _expanded, _point
from tapelab.gradcheck import numerical_jacobian

#: The three independent references every claimed gradient is compared with.
REFERENCES: tuple[str, ...] = ("sympy.diff", "GradientTape", "finite differences")


@_answer
def reference_gradients(
    graph: Graph, x: Sequence[float] | np.ndarray, *, eps: float = 1e-6
) -> dict[str, np.ndarray]:
    """∂y/∂x at x from three independent references, keyed by :data:`REFERENCES`.

    - ``sympy.diff``: ∂y/∂xi of the expanded output expression, evaluated in float64;
    - ``GradientTape``: the graph run node by node in TensorFlow float64 under a tape;
    - ``finite differences``: (y(x + h·ei) − y(x − h·ei)) / 2h in float64, h = eps·max(1, |xi|).
    """
    x = _point(graph, x)
    with np.errstate(all="ignore"):
        sym = np.array([float(g(*x)) for g in _lambdified(graph).grad], dtype=np.float64)
    out = graph.output.name
    return {
        "sympy.diff": sym,
        "GradientTape": _tape_gradient(graph, x),
        "finite differences": numerical_jacobian(lambda v: forward(graph, v)[out], x, eps=eps),
    }


@_answer
def tape_adjoints(graph: Graph, x: Sequence[float] | np.ndarray) -> dict[str, float]:
    """w̄ = ∂y/∂w for every node at x from tf.GradientTape: the graph run node by node in float64.

    The tape differentiates y with respect to each node's tensor, so this is an answer
    independent of the chain rule written in :mod:`tapelab.chainrule` (0 for a node without a path to y).
    """
    import tensorflow as tf

    xv = tf.Variable(_point(graph, x), dtype=tf.float64)
    with tf.GradientTape() as tape:
        values = _tf_forward(graph, xv)
    grads = tape.gradient(values[graph.output.name], [values[n] for n in graph.names])
    return {n: 0.0 if g is None else float(g) for n, g in zip(graph.names, grads)}


@_answer
def _tape_gradient(graph: Graph, x: np.ndarray) -> np.ndarray:
    """∂y/∂x from tf.GradientTape on the node-by-node TensorFlow forward pass."""
    import tensorflow as tf

    xv = tf.Variable(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        values = _tf_forward(graph, xv)
    g = tape.gradient(values[graph.output.name], xv)
    return np.zeros_like(x) if g is None else np.asarray(g, dtype=np.float64)


@_answer
def _tf_forward(graph: Graph, xv: Any) -> dict[str, Any]:
    """Every node's value as a TensorFlow tensor, from the float64 variable ``xv`` of the inputs."""
    tf_node = _lambdified(graph).tf_node
    values: dict[str, Any] = {}
    for i, node in enumerate(graph.nodes):
        if node.is_input:
            values[node.name] = xv[graph.inputs.index(node.expr)]
        else:
            values[node.name] = tf_node[i](*(values[p] for p in node.parents))
    return values


@dataclass(frozen=True)
class _Lambdified:
    tf_node: list[Any]  # TensorFlow function of the parents, per node (None for inputs)
    grad: list[Any]  # sympy.diff(y, xi) as numpy functions of x


@functools.lru_cache(maxsize=64)
def _lambdified(graph: Graph) -> _Lambdified:
    """The references' functions of ``graph``, built once per graph."""
    tf_node = [None if n.is_input else _tf_lambdify([sp.Symbol(p) for p in n.parents], n.expr) for n in graph.nodes]
    y = dict(_expanded(graph))[graph.output.name]
    grad = [sp.lambdify(graph.inputs, sp.diff(y, x), modules="numpy") for x in graph.inputs]
    return _Lambdified(tf_node, grad)


def _tf_lambdify(args: list[sp.Symbol], expr: sp.Expr) -> Callable[..., Any]:
    """A TensorFlow function of ``args``; built on first use so importing tapelab stays cheap."""
    holder: list[Any] = []

    def fn(*values: Any) -> Any:
        if not holder:
            import tensorflow  # noqa: F401  (lambdify's "tensorflow" printer needs it importable)

            holder.append(sp.lambdify(args, expr, modules="tensorflow"))
        return holder[0](*values)

    return fn
