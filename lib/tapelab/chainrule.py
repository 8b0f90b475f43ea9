"""The chain rule by hand: the forward values and the adjoints of a computation graph.

The course's running example is y = sin(x1) + x1·x2, written as a graph of nodes
(:mod:`tapelab.compgraph`)::

    w1 := x1
    w2 := x2
    w3 := w1·w2
    w4 := sin(w1)
    w5 := y = w3 + w4

Reverse mode defines the adjoint w̄ := ∂y/∂w and computes it from the output back,
one node at a time, with the chain rule:

    w̄5 = 1                                      (by definition)
    w̄  = Σ over children c of w:  w̄c · ∂c/∂w

so w̄4 = 1, w̄3 = 1, w̄2 = w̄3·w1 = w1 and w̄1 = w̄4·cos(w1) + w̄3·w2 = cos(w1) + w2.
At x = [π/4, 3] the gradient is therefore [cos(π/4) + 3, π/4], not the tempting [cos(π/4 + 3), π/4].

Public API
----------
- ``forward(graph, x) -> dict[str, float]``: every node's value at x.
- ``contributions(graph) -> dict[str, list[tuple[str, sympy.Expr]]]``: the terms w̄c·∂c/∂w of each w̄.
- ``adjoint_exprs(graph) -> dict[str, sympy.Expr]``: w̄ for every node, symbolically (in w-symbols).
- ``adjoints(graph, x) -> dict[str, float]``: w̄ for every node, numerically, node by node.
- ``gradient(graph, x) -> numpy.ndarray``: ∂y/∂x, the adjoints of the input nodes.
- ``derivation(graph) -> str``: the chain-rule derivation, one line per node.
- ``withheld()``: a context in which every function that computes adjoints raises, so that a
  student's reverse pass (``backward(graph, x)``) is checked as their own work.

The rest of the course's ``chainrule.X`` lives next door and is re-exported here:

- :mod:`tapelab.compgraph`, the graph as data: ``Node``, ``Graph``, ``seed_graph``, ``SEED_POINT``;
- :mod:`tapelab.chainrefs`, answers independent of this chain rule: ``REFERENCES``,
  ``reference_gradients`` (sympy.diff, tf.GradientTape, finite differences), ``tape_adjoints``;
- :mod:`tapelab.chaincheck`, the checks of a claimed answer: ``check_gradient`` / ``GradientReport``
  and ``check_adjoints`` / ``AdjointReport``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import sympy as sp

from tapelab.compgraph import SEED_POINT, Graph, Node, _index, _natural_key, _point, _pretty, seed_graph

_F = TypeVar("_F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------- withheld answers

#: True in a context where a test runs a student's reverse pass: functions marked _answer refuse.
_WITHHELD: contextvars.ContextVar[bool] = contextvars.ContextVar("tapelab.chainrule.withheld", default=False)


def _answer(function: _F) -> _F:
    """Mark `function` as one that computes adjoints (or gradients): it raises inside :func:`withheld`.

    The check sits in the function itself, so an alias (``from tapelab.chainrule import adjoints``),
    a default argument, a ``functools.partial`` or a pristine copy of the module refuse as well.
    (No ``functools.wraps``: its ``__wrapped__`` would hand out the unchecked function.)
    """
    def answer(*args: Any, **kwargs: Any) -> Any:
        if _WITHHELD.get():
            raise AssertionError(
                f"backward must compute the adjoints itself, actual: it called chainrule.{function.__name__}, "
                "which computes them; use chainrule.forward for the values and node.local_derivative(p) "
                "for the local derivatives."
            )
        return function(*args, **kwargs)

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(answer, attribute, getattr(function, attribute))
    return answer  # type: ignore[return-value]


@contextlib.contextmanager
def withheld() -> Iterator[None]:
    """Within the block, every function that computes adjoints raises AssertionError.

    A test calls a student's ``backward(graph, x)`` inside it: a call of ``chainrule.adjoints``,
    ``gradient``, ``adjoint_exprs``, ``contributions``, ``derivation``, ``reference_gradients``,
    ``tape_adjoints``, ``check_adjoints`` or ``check_gradient`` (or of ``graphs.draw_graph``, which
    uses them) then fails with a message saying what to use instead. ``forward`` and the graph's
    own methods (``local_derivative``, ``children``, ...) keep working.

    The state is a :class:`contextvars.ContextVar`, set for the current context and put back by
    its token on the way out, however the block ends; blocks nest.
    """
    token = _WITHHELD.set(True)
    try:
        yield
    finally:
        _WITHHELD.reset(token)


# ---------------------------------------------------------------------------- forward and adjoints


def forward(graph: Graph, x: Sequence[float] | np.ndarray) -> dict[str, float]:
    """The value of every node at x, computed node by node in topological order (float64)."""
    x = _point(graph, x)
    fns = _compiled(graph)
    values: dict[str, float] = {}
    for i, node in enumerate(graph.nodes):
        if node.is_input:
            values[node.name] = float(x[graph.inputs.index(node.expr)])
        else:
            with np.errstate(all="ignore"):
                values[node.name] = float(fns.node[i](*(values[p] for p in node.parents)))
    return values


@_answer
def contributions(graph: Graph) -> dict[str, list[tuple[str, sp.Expr]]]:
    """For every node w, the chain-rule terms of w̄: a list of (child c, w̄c·∂c/∂w) in w-symbols.

    The output node has no terms (w̄5 = 1 by definition); w̄ of any other node is the sum of its terms.
    """
    return {k: list(v) for k, v in _symbolic(graph)[1].items()}


@_answer
def adjoint_exprs(graph: Graph) -> dict[str, sp.Expr]:
    """w̄ = ∂y/∂w for every node, symbolically, by the chain rule from the output back.

    w̄_out = 1, then for each node w in reverse topological order w̄ = Σ_c w̄c·∂c/∂w.
    The expressions use the node symbols (seed graph: w̄1 = w2 + cos(w1)); use
    ``graph.to_inputs`` to write them in x.
    """
    return dict(_symbolic(graph)[0])


@_answer
def adjoints(graph: Graph, x: Sequence[float] | np.ndarray) -> dict[str, float]:
    """w̄ = ∂y/∂w for every node at x, numerically, as reverse mode does it.

    Forward pass for the values, then w̄_out = 1 and, for each node c from the output back,
    every parent w receives w̄c·∂c/∂w (the local derivative evaluated at the forward values).
    """
    values = forward(graph, x)
    fns = _compiled(graph)
    bar = {n.name: 0.0 for n in graph.nodes}
    bar[graph.output.name] = 1.0
    for i in reversed(range(len(graph.nodes))):
        node = graph.nodes[i]
        args = [values[p] for p in node.parents]
        for p, local in zip(node.parents, fns.local[i]):
            with np.errstate(all="ignore"):
                bar[p] += bar[node.name] * float(local(*args))
    return bar


@_answer
def gradient(graph: Graph, x: Sequence[float] | np.ndarray) -> np.ndarray:
    """∂y/∂x at x: the adjoints of the input nodes, in the order of ``graph.inputs``."""
    bar = adjoints(graph, x)
    return np.array([bar[n.name] for n in graph.input_nodes()], dtype=np.float64)


@_answer
def derivation(graph: Graph) -> str:
    """The chain-rule derivation as text, one line per node from the output back.

    Seed graph, last line: ``w̄1 = w̄3·∂w3/∂w1 + w̄4·∂w4/∂w1 = w2 + cos(w1)``.
    """
    bars, terms = _symbolic(graph)
    lines = [f"w̄{_index(graph.output.name)} = 1  (by definition)"]
    for node in reversed(graph.nodes[:-1]):
        parts = [f"w̄{_index(c)}·∂{c}/∂{node.name}" for c, _ in terms[node.name]]
        rule = " + ".join(parts) if parts else "0  (no path to y)"
        lines.append(f"w̄{_index(node.name)} = {rule} = {_pretty(bars[node.name])}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Compiled:
    node: list[Any]  # numpy function of the parents, per node (None for inputs)
    local: list[list[Any]]  # ∂node/∂parent as numpy functions of the parents


@functools.lru_cache(maxsize=64)
def _compiled(graph: Graph) -> _Compiled:
    """Every node's expression and local derivatives, lambdified once per graph."""
    node, local = [], []
    for n in graph.nodes:
        if n.is_input:
            node.append(None)
            local.append([])
            continue
        args = [sp.Symbol(p) for p in n.parents]
        node.append(sp.lambdify(args, n.expr, modules="numpy"))
        local.append([sp.lambdify(args, sp.diff(n.expr, a), modules="numpy") for a in args])
    return _Compiled(node, local)


@_answer
@functools.lru_cache(maxsize=64)
def _symbolic(graph: Graph) -> tuple[dict[str, sp.Expr], dict[str, tuple[tuple[str, sp.Expr], ...]]]:
    """(w̄ per node, chain-rule terms (c, w̄c·∂c/∂w) per node), both in w-symbols."""
    terms: dict[str, list[tuple[str, sp.Expr]]] = {n.name: [] for n in graph.nodes}
    bars: dict[str, sp.Expr] = {}
    for node in reversed(graph.nodes):
        if node is graph.output:
            bars[node.name] = sp.Integer(1)
        else:
            bars[node.name] = sp.Add(*(t for _, t in terms[node.name]))
        for p in node.parents:
            terms[p].append((node.name, bars[node.name] * sp.diff(node.expr, sp.Symbol(p))))
    for v in terms.values():
        v.sort(key=lambda t: _natural_key(t[0]))
    return bars, {k: tuple(v) for k, v in terms.items()}


# ---------------------------------------------------------------------------- the checks, as chainrule.X
# The references and the checks build on this module (they import _answer, forward and _symbolic
# from it), so they are imported here, last, once all of that is defined; the course calls them chainrule.X.

from tapelab.chainrefs import REFERENCES, reference_gradients, tape_adjoints  # noqa: E402
from tapelab.chaincheck import AdjointReport, GradientReport, check_adjoints, check_gradient  # noqa: E402

__all__ = ["SEED_POINT", "Graph", "Node", "seed_graph",
           "forward", "contributions", "adjoint_exprs", "adjoints", "gradient", "derivation", "withheld",
           "REFERENCES", "reference_gradients", "tape_adjoints",
           "AdjointReport", "GradientReport", "check_adjoints", "check_gradient"]
