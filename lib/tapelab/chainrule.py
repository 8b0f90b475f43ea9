"""The chain rule by hand: a computation graph as data, its forward values and its adjoints.

The course's running example is y = sin(x1) + x1·x2, written as a graph of nodes::

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
At x = [π/4, 3] the gradient is therefore [cos(π/4) + 3, π/4]; the tempting
[cos(π/4 + 3), π/4] is wrong, and :func:`check_gradient` says so.

Public API
----------
- ``Node(name, expr, parents)``: one node; ``expr`` is a SymPy expression in its parents' symbols;
  ``node.local_derivative(p)`` is ∂node/∂p, also in the parents' symbols.
- ``Graph(nodes, inputs)``: nodes in topological order, the last one is the output y.
  ``Graph.from_nodes({"w1": "x1", ..., "w5": "w3 + w4"})`` lists nodes (parents are inferred);
  ``Graph.from_expr(x1*x2*sin(x2))`` decomposes an expression into w-nodes.
  ``graph.names``, ``graph.node(name)``, ``graph.children(name)``, ``graph.output``,
  ``graph.input_nodes()``, ``graph.expanded()`` (each w in x), ``graph.to_inputs(expr)`` (w -> x).
- ``seed_graph() -> Graph``: the graph above; ``SEED_POINT = (π/4, 3.0)``.
- ``forward(graph, x) -> dict[str, float]``: every node's value at x.
- ``adjoint_exprs(graph) -> dict[str, sympy.Expr]``: w̄ for every node, symbolically (in w-symbols).
- ``contributions(graph) -> dict[str, list[tuple[str, sympy.Expr]]]``: the terms w̄c·∂c/∂w of each w̄.
- ``adjoints(graph, x) -> dict[str, float]``: w̄ for every node, numerically, node by node.
- ``gradient(graph, x) -> numpy.ndarray``: ∂y/∂x, the adjoints of the input nodes.
- ``derivation(graph) -> str``: the chain-rule derivation, one line per node.
- ``reference_gradients(graph, x) -> dict[str, numpy.ndarray]``: ∂y/∂x from sympy.diff, from
  tf.GradientTape (float64) and from a float64 central finite difference.
- ``tape_adjoints(graph, x) -> dict[str, float]``: w̄ of every node from tf.GradientTape (float64).
- ``withheld()``: a context in which every function here that computes adjoints raises, so that
  a student's reverse pass (``backward(graph, x)``) is checked as their own work.
- ``check_gradient(claimed, graph=None, *, at=None, seed=0, n_random=3, ...) -> GradientReport``
  (``.ok``, ``.errors`` per reference and component, ``.problems``, ``.text``, ``.assert_ok()``).
- ``check_adjoints(claimed, graph=None, *, at=None, seed=0, n_random=3, ...) -> AdjointReport``:
  checks a per-node dict such as ``{"w1": cos(w1) + w2, ...}``, names the wrong nodes (``.wrong``)
  and recognises a w̄ that misses one of its paths (``.codes[name] == "adjoint-missing-path"``;
  ``.assert_ok()`` then raises that :class:`tapelab.feedback.Hint`).

Numbers are claims about one point (``at``, default x = [π/4, 3]); formulas (SymPy expressions or
strings in w1.. or x1..) are also checked at seeded random points, so a formula right only at
x = [π/4, 3] does not pass.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from tapelab import feedback
from tapelab.gradcheck import format_error

#: The point of the seed notebook, x = [π/4, 3].
SEED_POINT: tuple[float, float] = (math.pi / 4, 3.0)

#: The three independent references every claimed gradient is compared with.
REFERENCES: tuple[str, ...] = ("sympy.diff", "GradientTape", "finite differences")


# ---------------------------------------------------------------------------- withheld answers

#: While a test runs a student's reverse pass, the functions that compute adjoints refuse (see withheld()).
_WITHHOLDING: list[int] = [0]


def _answer(function: Any) -> Any:
    """Mark `function` as one that computes adjoints (or gradients): it raises inside :func:`withheld`.

    The check sits in the function itself, so an alias (``from tapelab.chainrule import adjoints``),
    a default argument, a ``functools.partial`` or a pristine copy of the module refuse as well.
    """
    def answer(*args: Any, **kwargs: Any) -> Any:
        if _WITHHOLDING[0]:
            raise AssertionError(
                f"backward must compute the adjoints itself, actual: it called chainrule.{function.__name__}, "
                "which computes them; use chainrule.forward for the values and node.local_derivative(p) "
                "for the local derivatives."
            )
        return function(*args, **kwargs)

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(answer, attribute, getattr(function, attribute))
    return answer


@contextlib.contextmanager
def withheld() -> Iterator[None]:
    """Within the block, every function that computes adjoints raises AssertionError.

    A test calls a student's ``backward(graph, x)`` inside it: a call of ``chainrule.adjoints``,
    ``gradient``, ``adjoint_exprs``, ``contributions``, ``derivation``, ``reference_gradients``,
    ``tape_adjoints``, ``check_adjoints`` or ``check_gradient`` (or of ``graphs.draw_graph``, which
    uses them) then fails with a message saying what to use instead. ``forward`` and the graph's
    own methods (``local_derivative``, ``children``, ...) keep working.
    """
    _WITHHOLDING[0] += 1
    try:
        yield
    finally:
        _WITHHOLDING[0] -= 1


# ---------------------------------------------------------------------------- the graph


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
        :func:`forward`, a dict name -> float).
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
    return Graph.from_nodes(
        {"w1": "x1", "w2": "x2", "w3": "w1*w2", "w4": "sin(w1)", "w5": "w3 + w4"},
    )


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


# ---------------------------------------------------------------------------- references


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
    fns = _compiled(graph)
    with np.errstate(all="ignore"):
        sym = np.array([float(g(*x)) for g in fns.grad], dtype=np.float64)
    return {
        "sympy.diff": sym,
        "GradientTape": _tape_gradient(graph, x),
        "finite differences": _fd_gradient(graph, x, eps),
    }


@_answer
def tape_adjoints(graph: Graph, x: Sequence[float] | np.ndarray) -> dict[str, float]:
    """w̄ = ∂y/∂w for every node at x from tf.GradientTape: the graph run node by node in float64.

    The tape differentiates y with respect to each node's tensor, so this is an answer
    independent of the chain rule written here (0 for a node without a path to y).
    """
    import tensorflow as tf

    xv = tf.Variable(_point(graph, x), dtype=tf.float64)
    with tf.GradientTape() as tape:
        values = _tf_forward(graph, xv)
    grads = tape.gradient(values[graph.output.name], [values[n] for n in graph.names])
    return {n: 0.0 if g is None else float(g) for n, g in zip(graph.names, grads)}


@_answer
def _tape_gradient(graph: Graph, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    xv = tf.Variable(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        values = _tf_forward(graph, xv)
    g = tape.gradient(values[graph.output.name], xv)
    return np.zeros_like(x) if g is None else np.asarray(g, dtype=np.float64)


@_answer
def _tf_forward(graph: Graph, xv: Any) -> dict[str, Any]:
    fns = _compiled(graph)
    values: dict[str, Any] = {}
    for i, node in enumerate(graph.nodes):
        if node.is_input:
            values[node.name] = xv[graph.inputs.index(node.expr)]
        else:
            values[node.name] = fns.tf_node[i](*(values[p] for p in node.parents))
    return values


@_answer
def _fd_gradient(graph: Graph, x: np.ndarray, eps: float) -> np.ndarray:
    out = graph.output.name
    g = np.empty_like(x)
    for i in range(len(x)):
        h = eps * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (forward(graph, up)[out] - forward(graph, down)[out]) / (2 * h)
    return g


# ---------------------------------------------------------------------------- checks


@dataclass
class GradientReport:
    """The verdict of :func:`check_gradient`.

    ``errors[reference][i]`` is the largest |claimed − reference| of component i over all points;
    ``ok`` is True when every component is within ``atol + rtol·|reference|`` of every reference.
    """

    ok: bool
    points: list[np.ndarray]
    claimed: list[np.ndarray]
    references: dict[str, list[np.ndarray]]
    errors: dict[str, np.ndarray]
    text: str
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text

    def assert_ok(self) -> None:
        """Raise AssertionError with the readable text unless the gradient is right."""
        if not self.ok:
            raise AssertionError(self.text)


def check_gradient(
    claimed: Sequence[Any] | np.ndarray | Any,
    graph: Graph | None = None,
    *,
    at: Sequence[float] | None = None,
    seed: int = 0,
    n_random: int = 3,
    domain: tuple[float, float] = (-2.0, 2.0),
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> GradientReport:
    """Compare a claimed ∂y/∂x with sympy.diff, tf.GradientTape (float64) and finite differences.

    ``claimed`` has one entry per input: numbers (a list, an array, a tape result) are checked
    at ``at`` only; SymPy expressions (or strings) in the inputs x or the node symbols w are checked
    at ``at`` and also at ``n_random`` points drawn uniformly from ``domain`` by
    ``numpy.random.default_rng(seed)``. ``at`` defaults to x = [π/4, 3] (:data:`SEED_POINT`,
    repeated to the number of inputs). ``graph`` defaults to :func:`seed_graph`.

    Seed graph: ``[cos(π/4) + 3, π/4]`` passes, ``[cos(π/4 + 3), π/4]`` fails.
    """
    graph = seed_graph() if graph is None else graph
    n = len(graph.inputs)
    entries = _entries(claimed, n, graph, what="gradient")
    symbolic = any(e.free_symbols for e in entries)
    first = _point(graph, np.resize(np.array(SEED_POINT), n) if at is None else at)
    points = [first]
    if symbolic:
        rng = np.random.default_rng(seed)
        points += list(rng.uniform(domain[0], domain[1], size=(n_random, n)))
    claim_fn = sp.lambdify(graph.inputs, [graph.to_inputs(e) for e in entries], modules="numpy")
    claimed_vals, refs = [], {r: [] for r in REFERENCES}
    for p in points:
        with np.errstate(all="ignore"):
            claimed_vals.append(np.array(claim_fn(*p), dtype=np.float64))
        for r, v in reference_gradients(graph, p).items():
            refs[r].append(v)
    # a number is a claim about x = at only; a formula is a claim about every point
    used = np.array([[k == 0 or bool(e.free_symbols) for e in entries] for k in range(len(points))])
    errors = {
        r: np.max([np.where(u, np.abs(c - v), 0.0) for c, v, u in zip(claimed_vals, refs[r], used)], axis=0)
        for r in REFERENCES
    }
    problems = []
    for k, (c, p) in enumerate(zip(claimed_vals, points)):
        for i in np.flatnonzero(used[k]):
            against = [r for r in REFERENCES if not abs(c[i] - refs[r][k][i]) <= atol + rtol * abs(refs[r][k][i])]
            if against:
                problems.append(
                    f"∂y/∂{graph.inputs[i]} is wrong at x = {_fmt_vec(p)}: expected {refs[against[0]][k][i]:.6g} "
                    f"({', '.join(against)}), found {c[i]:.6g}."
                )
    ok = not problems
    where = "x = " + _fmt_vec(first) + (
        f" and {n_random} random points (seed {seed})" if symbolic and n_random else ""
    )
    head = f"gradient check at {where}: " + ("ok" if ok else "FAILED")
    table = "\n".join(
        f"  max |Δ| vs {r}: " + ", ".join(format_error(e) for e in errors[r]) for r in REFERENCES
    )
    text = "\n".join([head, *("  " + p for p in problems), table])
    return GradientReport(ok, points, claimed_vals, refs, errors, text, problems)


@dataclass
class AdjointReport:
    """The verdict of :func:`check_adjoints` on a per-node dict of claimed w̄.

    ``errors[name]`` is the largest |claimed w̄ − true w̄| over the points, ``wrong`` the nodes
    whose w̄ is off, ``codes[name]`` a :mod:`tapelab.feedback` code where the mistake is recognised
    (``adjoint-missing-path``), ``messages[name]`` the sentence about that node (it names the
    children and values at x = [π/4, 3], never the expected expression).
    """

    ok: bool
    errors: dict[str, float]
    wrong: list[str]
    codes: dict[str, str]
    messages: dict[str, str]
    text: str

    def __str__(self) -> str:
        return self.text

    def assert_ok(self) -> None:
        """Raise a :class:`tapelab.feedback.Hint` for a recognised mistake, else AssertionError."""
        for name in self.wrong:
            if name in self.codes:
                raise feedback.Hint(self.codes[name], self.messages[name])
        if not self.ok:
            raise AssertionError(self.text)


def check_adjoints(
    claimed: Mapping[str, Any],
    graph: Graph | None = None,
    *,
    at: Sequence[float] | None = None,
    seed: int = 0,
    n_random: int = 3,
    domain: tuple[float, float] = (-2.0, 2.0),
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> AdjointReport:
    """Check claimed adjoints ``{"w1": cos(w1) + w2, "w2": w1, ...}`` node by node.

    Each claimed w̄ (SymPy expression, string or number, in w- or x-symbols) is compared with
    the chain-rule adjoint at ``at`` (default x = [π/4, 3]) and, when it is a formula, also at
    ``n_random`` points drawn from ``domain`` by ``numpy.random.default_rng(seed)``; a number is
    a claim about ``at`` only. When a wrong
    w̄ equals a partial sum of its terms Σ_c w̄c·∂c/∂w (some child c left out), the node gets
    the code ``adjoint-missing-path`` and the message names the missing children.
    """
    graph = seed_graph() if graph is None else graph
    n = len(graph.inputs)
    rng = np.random.default_rng(seed)
    first = _point(graph, np.resize(np.array(SEED_POINT), n) if at is None else at)
    points = np.vstack([first, rng.uniform(domain[0], domain[1], size=(n_random, n))])
    bars, terms = _symbolic(graph)
    local = {name: sp.Symbol(name) for name in graph.names} | {str(x): x for x in graph.inputs}

    def values(expr: sp.Expr) -> np.ndarray:
        fn = sp.lambdify(graph.inputs, graph.to_inputs(expr), modules="numpy")
        with np.errstate(all="ignore"):
            return np.array([float(fn(*p)) for p in points], dtype=np.float64)

    errors: dict[str, float] = {}
    wrong: list[str] = []
    codes: dict[str, str] = {}
    messages: dict[str, str] = {}
    for name, value in claimed.items():
        name = name.replace("w̄", "w").replace("wbar", "w")
        if name not in graph.names:
            raise KeyError(f"claimed adjoint for {name!r}, but the graph's nodes are {', '.join(graph.names)}.")
        expr = _sympify(value, local)
        stray = {s for s in expr.free_symbols if s.name not in local}
        if stray:
            raise ValueError(
                f"w̄ of {name} uses {', '.join(sorted(map(str, stray)))}; write adjoints in the node "
                f"symbols {', '.join(graph.names)} or the inputs {', '.join(map(str, graph.inputs))}."
            )
        use = slice(None) if expr.free_symbols else slice(0, 1)
        got, want = values(expr)[use], values(bars[name])[use]
        errors[name] = float(np.max(np.abs(got - want)))
        bad = np.flatnonzero(~(np.abs(got - want) <= atol + rtol * np.abs(want)))
        if not len(bad):
            continue
        wrong.append(name)
        bar, k = f"w̄{_index(name)}", bad[0]
        found = f"{_pretty(expr)} = {got[k]:.6g}" if expr.free_symbols else f"{got[k]:.6g}"
        messages[name] = (
            f"{bar} is wrong: at x = {_fmt_vec(points[use][k])} expected {want[k]:.6g}, "
            f"found {found}; check the children of {name} "
            f"({', '.join(graph.children(name)) or 'none'}) and their local derivatives."
        )
        missing = _missing_paths(terms[name], got, lambda e: values(e)[use], atol, rtol)
        if missing is not None:
            codes[name] = "adjoint-missing-path"
            kids = " and ".join(missing)
            messages[name] = (
                f"{bar} = {_pretty(expr) if expr.free_symbols else f'{got[0]:.6g} at x = {_fmt_vec(first)}'} "
                f"leaves out the path through {kids}; "
                f"{bar} must add up one term w̄c·∂c/∂{name} for every child c of {name} "
                f"({', '.join(graph.children(name))})."
            )
    ok = not wrong
    verdict = "ok" if ok else "FAILED at " + ", ".join(wrong)
    formulas = any(_sympify(v, local).free_symbols for v in claimed.values())
    where = f" and {n_random} random points (seed {seed})" if formulas and n_random else ""
    head = f"adjoint check at x = {_fmt_vec(first)}{where}: {verdict}"
    text = "\n".join([head, *("  " + messages[w] for w in wrong)])
    return AdjointReport(ok, errors, wrong, codes, messages, text)


def _missing_paths(
    terms: list[tuple[str, sp.Expr]], got: np.ndarray, values: Any, atol: float, rtol: float
) -> list[str] | None:
    """Children left out when ``got`` equals the sum of a proper, non-empty subset of ``terms``."""
    if len(terms) < 2:
        return None
    term_vals = [values(t) for _, t in terms]
    for size in range(len(terms) - 1, 0, -1):
        for subset in itertools.combinations(range(len(terms)), size):
            partial = sum(term_vals[i] for i in subset)
            if np.all(np.abs(got - partial) <= atol + rtol * np.abs(partial)):
                return [terms[i][0] for i in range(len(terms)) if i not in subset]
    return None


# ---------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Compiled:
    node: list[Any]  # numpy function of the parents, per node (None for inputs)
    local: list[list[Any]]  # ∂node/∂parent as numpy functions of the parents
    tf_node: list[Any]  # TensorFlow function of the parents, per node
    grad: list[Any]  # sympy.diff(y, xi) as numpy functions of x


@functools.lru_cache(maxsize=64)
def _compiled(graph: Graph) -> _Compiled:
    node, local, tf_node = [], [], []
    for n in graph.nodes:
        if n.is_input:
            node.append(None)
            local.append([])
            tf_node.append(None)
            continue
        args = [sp.Symbol(p) for p in n.parents]
        node.append(sp.lambdify(args, n.expr, modules="numpy"))
        local.append([sp.lambdify(args, sp.diff(n.expr, a), modules="numpy") for a in args])
        tf_node.append(_tf_lambdify(args, n.expr))
    y = dict(_expanded(graph))[graph.output.name]
    grad = [sp.lambdify(graph.inputs, sp.diff(y, x), modules="numpy") for x in graph.inputs]
    return _Compiled(node, local, tf_node, grad)


def _tf_lambdify(args: list[sp.Symbol], expr: sp.Expr) -> Any:
    """A TensorFlow function of ``args``; built on first use so importing tapelab stays cheap."""
    holder: list[Any] = []

    def fn(*values: Any) -> Any:
        if not holder:
            import tensorflow  # noqa: F401  (lambdify's "tensorflow" printer needs it importable)

            holder.append(sp.lambdify(args, expr, modules="tensorflow"))
        return holder[0](*values)

    return fn


@functools.lru_cache(maxsize=64)
def _expanded(graph: Graph) -> tuple[tuple[str, sp.Expr], ...]:
    out: dict[str, sp.Expr] = {}
    for n in graph.nodes:
        out[n.name] = n.expr if n.is_input else n.expr.xreplace({sp.Symbol(p): out[p] for p in n.parents})
    return tuple(out.items())


@_answer
@functools.lru_cache(maxsize=64)
def _symbolic(graph: Graph) -> tuple[dict[str, sp.Expr], dict[str, tuple[tuple[str, sp.Expr], ...]]]:
    """(w̄ per node, chain-rule terms per node), both in w-symbols."""
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


def _sympify(value: Any, local: dict[str, Any]) -> sp.Expr:
    if isinstance(value, str):
        return sp.sympify(value.replace("·", "*").replace("π", "pi"), locals=dict(local))
    if isinstance(value, sp.Basic):
        # symbols are matched by name: Symbol("x1", real=True) is the graph's x1
        return value.xreplace({s: local[s.name] for s in value.free_symbols if s.name in local and s != local[s.name]})
    return sp.Float(float(value)) if not isinstance(value, int) else sp.Integer(value)


def _entries(claimed: Any, n: int, graph: Graph, what: str) -> list[sp.Expr]:
    if hasattr(claimed, "numpy"):
        claimed = claimed.numpy()
    if isinstance(claimed, sp.MatrixBase):
        claimed = list(claimed)
    if isinstance(claimed, np.ndarray):
        claimed = claimed.astype(np.float64).reshape(-1).tolist()
    if claimed is None:
        raise ValueError(
            f"the claimed {what} is None: the tape recorded no path from x to y. "
            "Make x a tf.Variable or call tape.watch(x) before computing y."
        )
    claimed = list(claimed)
    if len(claimed) != n:
        names = ", ".join(map(str, graph.inputs))
        raise ValueError(f"the claimed {what} must have {n} components (one per input {names}), found {len(claimed)}.")
    local = {name: sp.Symbol(name) for name in graph.names} | {str(x): x for x in graph.inputs}
    entries = [_sympify(c, local) for c in claimed]
    for e in entries:
        stray = {s for s in e.free_symbols if s.name not in local}
        if stray:
            raise ValueError(
                f"the claimed {what} uses {', '.join(sorted(map(str, stray)))}, which is neither an input "
                f"({', '.join(map(str, graph.inputs))}) nor a node ({', '.join(graph.names)})."
            )
    return entries


def _point(graph: Graph, x: Any) -> np.ndarray:
    if hasattr(x, "numpy"):
        x = x.numpy()
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape != (len(graph.inputs),):
        raise ValueError(
            f"x must have {len(graph.inputs)} components (one per input "
            f"{', '.join(map(str, graph.inputs))}), found {x.size}."
        )
    return x


def _fmt_vec(x: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in x) + "]"


def _pretty(expr: Any) -> str:
    return str(expr).replace("**", "^").replace("*", "·")


def _index(name: str) -> str:
    return name[1:] if name.startswith("w") else f"({name})"


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
