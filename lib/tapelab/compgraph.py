"""A computation graph as data: nodes w := f(parents), in topological order, the last one the output y.

The course's running example y = sin(x1) + x1·x2 is the graph::

    w1 := x1
    w2 := x2
    w3 := w1·w2
    w4 := sin(w1)
    w5 := y = w3 + w4

Each node's expression is written in its parents' symbols, so its local derivative ∂w/∂p is
``sympy.diff`` of that expression alone (∂w3/∂w1 = w2); :mod:`tapelab.chainrule` combines the
local derivatives into adjoints. (``tapelab.chainrule`` re-exports everything public here.)

Public API
----------
- ``Node(name, expr, parents)``: one node; ``node.local_derivative(p)`` is ∂node/∂p.
- ``Graph(nodes, inputs)``: ``Graph.from_nodes({"w1": "x1", ..., "w5": "w3 + w4"})`` lists the
  nodes (parents are inferred), ``Graph.from_expr(x1*x2*sin(x2))`` decomposes an expression;
  ``graph.names``, ``graph.node(name)``, ``graph.children(name)``, ``graph.output``,
  ``graph.input_nodes()``, ``graph.expanded()`` (each w in x), ``graph.to_inputs(expr)`` (w -> x).
- ``seed_graph() -> Graph``: the graph above; ``SEED_POINT = (π/4, 3.0)``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

#: The point of the seed notebook, x = [π/4, 3].
SEED_POINT: tuple[float, float] = (math.pi / 4, 3.0)


@dataclass(frozen=True)
class Node:
    """One node w of the graph: ``w := expr(parents)``.

    For an input node (``w1 := x1``) ``expr`` is the input symbol and ``parents`` is empty;
    otherwise ``expr`` is written in the parents' symbols, e.g. ``w3 := w1*w2``.
    """

    name: str
    expr: sp.Expr
    parents: tuple[str, ...] = ()

    @property
    def symbol(self) -> sp.Symbol:
        """The SymPy symbol that stands for this node's value (``w3``)."""
        return sp.Symbol(self.name)

    @property
    def is_input(self) -> bool:
        """True for ``w := x`` nodes, which have no parents."""
        return not self.parents

    def local_derivative(self, parent: str) -> sp.Expr:
        """∂w/∂parent, the local derivative, in the parents' symbols: for w3 := w1*w2, ∂w3/∂w1 = w2.

        Evaluate it at the forward values with ``float(expr.subs(values))`` (``values`` from
        :func:`tapelab.chainrule.forward`, a dict name -> float).
        """
        if parent not in self.parents:
            parents = ", ".join(self.parents) or "none"
            raise KeyError(f"{parent!r} is not a parent of {self.name}; its parents are {parents}.")
        return sp.diff(self.expr, sp.Symbol(parent))

    def __str__(self) -> str:
        return f"{self.name} := {_pretty(self.expr)}"


@dataclass(frozen=True)
class Graph:
    """A computation graph: ``nodes`` in topological order (parents first), output last.

    ``inputs`` are the SymPy symbols x1, x2, ... in the order of the gradient's components.
    """

    nodes: tuple[Node, ...]
    inputs: tuple[sp.Symbol, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(f"node {node.name} is defined twice; every node needs its own name.")
            for p in node.parents:
                if p not in seen:
                    raise ValueError(
                        f"{node.name} uses {p}, which is not defined before it; "
                        "list the nodes parents first (w1 := x1 before w3 := w1*w2)."
                    )
            if node.is_input and not isinstance(node.expr, sp.Symbol):
                used = ", ".join(sorted(str(s) for s in node.expr.free_symbols)) or "no node"
                raise ValueError(
                    f"{node.name} := {node.expr} has no parents; list the nodes it uses ({used}) as its parents, "
                    "or make it an input node (w := x1)."
                )
            if node.is_input and node.expr not in self.inputs:
                raise ValueError(f"input node {node.name} := {node.expr} must be one of the inputs {self.inputs}.")
            if not node.is_input:
                unknown = node.expr.free_symbols - {sp.Symbol(p) for p in node.parents}
                if unknown:
                    names = ", ".join(sorted(str(s) for s in unknown))
                    verb = "is" if len(unknown) == 1 else "are"
                    raise ValueError(f"{node.name} := {node.expr} uses {names}, which {verb} not among its parents.")
            seen.add(node.name)
        if not self.nodes:
            raise ValueError("a graph needs at least one node.")

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_nodes(cls, spec: Mapping[str, sp.Expr | str], inputs: Sequence[sp.Symbol | str] | None = None) -> Graph:
        """Build a graph by listing its nodes, parents first; the last node is the output y.

        ``spec`` maps a node name to its expression: a symbol that is not a node name makes an
        input node (``"w1": "x1"``); otherwise the expression's node symbols are its parents
        (``"w3": "w1*w2"``). ``inputs`` fixes the order of the gradient's components (default:
        the order of the input nodes).
        """
        names = list(spec)
        local = {n: sp.Symbol(n) for n in names}
        nodes: list[Node] = []
        found_inputs: list[sp.Symbol] = []
        for name in names:
            expr = _sympify(spec[name], local)
            symbols = {s.name for s in expr.free_symbols}
            parents = tuple(n for n in names[: names.index(name)] if n in symbols)
            later = sorted(symbols & set(names[names.index(name) :]))
            if later:
                raise ValueError(
                    f"{name} uses {', '.join(later)}, which is not defined before it; "
                    "list the nodes parents first (w1 := x1 before w3 := w1*w2)."
                )
            if not parents and isinstance(expr, sp.Symbol):
                found_inputs.append(expr)
            elif not parents:
                raise ValueError(f"{name} := {expr} is neither an input (w := x1) nor built from earlier nodes.")
            elif expr.free_symbols - {sp.Symbol(p) for p in parents}:
                stray = sorted(str(s) for s in expr.free_symbols - {sp.Symbol(p) for p in parents})
                raise ValueError(
                    f"{name} := {expr} uses {', '.join(stray)}, which is not a node; "
                    "give every input its own node (w1 := x1) and use that node."
                )
            nodes.append(Node(name, expr, parents))
        order = tuple(sp.Symbol(str(s)) for s in inputs) if inputs is not None else tuple(found_inputs)
        return cls(tuple(nodes), order)

    @classmethod
    def from_expr(cls, expr: sp.Expr | str, inputs: Sequence[sp.Symbol | str] | None = None) -> Graph:
        """Decompose an expression into w-nodes: inputs first, then one node per operation.

        Sums and products of more than two terms become a chain of binary nodes; numbers stay
        inside the node that uses them (``2*w1``); repeated subexpressions share one node.
        ``sin(x1) + x1*x2`` gives the seed graph w1..w5.
        """
        expr = _sympify(expr, {})
        if inputs is None:
            inputs = sorted(expr.free_symbols, key=lambda s: _natural_key(s.name))
        xs = tuple(sp.Symbol(str(s)) for s in inputs)
        spec: dict[str, sp.Expr] = {}
        memo: dict[sp.Expr, sp.Symbol] = {}

        def new(e: sp.Expr) -> sp.Symbol:
            name = f"w{len(spec) + 1}"
            spec[name] = e
            return sp.Symbol(name)

        for x in xs:
            memo[x] = new(x)

        def visit(e: sp.Expr) -> sp.Symbol:
            if e in memo:
                return memo[e]
            if not e.free_symbols:
                raise ValueError(f"{e} is a constant; it cannot be a node.")
            if e.is_Symbol:
                raise ValueError(f"{e} is not among the inputs {xs}.")
            consts = [a for a in e.args if not a.free_symbols]
            variables = [visit(a) for a in e.args if a.free_symbols]
            if (e.is_Add or e.is_Mul) and len(variables) > 2:
                acc = new(e.func(*consts, variables[0], variables[1]))
                for v in variables[2:]:
                    acc = new(e.func(acc, v))
                memo[e] = acc
                return acc
            it = iter(variables)
            args = [a if not a.free_symbols else next(it) for a in e.args]
            memo[e] = new(e.func(*args))
            return memo[e]

        visit(expr)
        return cls.from_nodes(spec, inputs=xs)

    # -- queries ------------------------------------------------------------------------

    @property
    def output(self) -> Node:
        """The output node (y), the last one."""
        return self.nodes[-1]

    @property
    def names(self) -> tuple[str, ...]:
        """The node names in topological order."""
        return tuple(n.name for n in self.nodes)

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r}; the graph has {', '.join(self.names)}.")

    def children(self, name: str) -> tuple[str, ...]:
        """The nodes that use ``name`` as a parent (the paths w̄ sums over)."""
        self.node(name)
        return tuple(n.name for n in self.nodes if name in n.parents)

    def input_nodes(self) -> tuple[Node, ...]:
        """The input nodes in the order of ``inputs`` (the gradient's components)."""
        by_symbol = {n.expr: n for n in self.nodes if n.is_input}
        return tuple(by_symbol[x] for x in self.inputs)

    def expanded(self) -> dict[str, sp.Expr]:
        """Every node's value as an expression in the inputs: w3 -> x1*x2, w5 -> x1*x2 + sin(x1)."""
        return dict(_expanded(self))

    def to_inputs(self, expr: sp.Expr) -> sp.Expr:
        """Rewrite an expression in w-symbols as one in the inputs x (w1 -> x1, w3 -> x1*x2)."""
        return sp.sympify(expr).xreplace({sp.Symbol(k): v for k, v in _expanded(self)})

    def __str__(self) -> str:
        lines = [str(n) for n in self.nodes]
        lines[-1] = lines[-1].replace(":=", ":= y =", 1)
        return "\n".join(lines)


def seed_graph() -> Graph:
    """The seed notebook's graph for y = sin(x1) + x1·x2 (w1 := x1, ..., w5 := w3 + w4)."""
    return Graph.from_nodes({"w1": "x1", "w2": "x2", "w3": "w1*w2", "w4": "sin(w1)", "w5": "w3 + w4"})


# ---------------------------------------------------------------------------- helpers (chainrule & co. use them too)


@functools.lru_cache(maxsize=64)
def _expanded(graph: Graph) -> tuple[tuple[str, sp.Expr], ...]:
    """(name, value in x) per node: each parent symbol replaced by the parent's own expansion."""
    out: dict[str, sp.Expr] = {}
    for n in graph.nodes:
        out[n.name] = n.expr if n.is_input else n.expr.xreplace({sp.Symbol(p): out[p] for p in n.parents})
    return tuple(out.items())


def _sympify(value: Any, local: dict[str, Any]) -> sp.Expr:
    """A SymPy expression from a string (``·`` and ``π`` allowed), a SymPy object or a number."""
    if isinstance(value, str):
        return sp.sympify(value.replace("·", "*").replace("π", "pi"), locals=dict(local))
    if isinstance(value, sp.Basic):
        # symbols are matched by name: Symbol("x1", real=True) is the graph's x1
        return value.xreplace({s: local[s.name] for s in value.free_symbols if s.name in local and s != local[s.name]})
    return sp.Float(float(value)) if not isinstance(value, int) else sp.Integer(value)


def _point(graph: Graph, x: Any) -> np.ndarray:
    """x (a list, an array, a tensor) as a float64 vector with one component per input of ``graph``."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape != (len(graph.inputs),):
        raise ValueError(
            f"x must have {len(graph.inputs)} components (one per input "
            f"{', '.join(map(str, graph.inputs))}), found {x.size}."
        )
    return x


def _pretty(expr: Any) -> str:
    """An expression as the course writes it: ``w1·w2``, ``x1^2``."""
    return str(expr).replace("**", "^").replace("*", "·")


def _index(name: str) -> str:
    """The subscript of w̄ for a node: ``w3`` -> ``3``, any other name -> ``(name)``."""
    return name[1:] if name.startswith("w") else f"({name})"


def _natural_key(name: str) -> tuple:
    """Sort key that puts x2 before x10."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
