"""Checking a claimed gradient or claimed adjoints of a computation graph, with readable verdicts.

A claimed ∂y/∂x is compared with the three references of :mod:`tapelab.chainrefs` (sympy.diff,
tf.GradientTape and central differences, all float64), claimed adjoints w̄ with the chain rule's
(:mod:`tapelab.chainrule`). A value passes when |claimed − reference| ≤ atol + rtol·|reference|
(atol = 1e-6, rtol = 1e-5) for every reference. Numbers are claims about one point (``at``,
default x = [π/4, 3]); formulas (SymPy expressions or strings in w1.. or x1..) are also checked at
seeded random points, so a formula right only at x = [π/4, 3] does not pass. On the seed graph
``[cos(π/4) + 3, π/4]`` passes and the tempting ``[cos(π/4 + 3), π/4]`` fails; a wrong w̄ equal
to a partial sum of its terms Σ_c w̄c·∂c/∂w is recognised as a missed path.

Public API (also as ``tapelab.chainrule.X``)
--------------------------------------------
- ``check_gradient(claimed, graph=None, *, at=None, seed=0, n_random=3, ...) -> GradientReport``
  (``.ok``, ``.errors`` per reference and component, ``.problems``, ``.text``, ``.assert_ok()``).
- ``check_adjoints(claimed, graph=None, *, at=None, seed=0, n_random=3, ...) -> AdjointReport``:
  checks a per-node dict such as ``{"w1": cos(w1) + w2, ...}``, names the wrong nodes (``.wrong``)
  and recognises a w̄ that misses one of its paths (``.codes[name] == "adjoint-missing-path"``;
  ``.assert_ok()`` then raises that :class:`tapelab.feedback.Hint`).

Both refuse inside :func:`tapelab.chainrule.withheld` (they use the references and the chain rule).
This module builds on :mod:`tapelab.chainrule`, which imports it back at its end (for
``chainrule.X``): import ``tapelab.chainrule`` first, then ``from tapelab.chaincheck import ...``.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from tapelab import feedback
from tapelab.chainrefs import REFERENCES, reference_gradients
from tapelab.chainrule import _symbolic
from tapelab.compgraph import SEED_POINT, Graph, _index, _point, _pretty, _sympify, seed_graph
from tapelab.gradcheck import format_error


# ---------------------------------------------------------------------------- the gradient check


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


# ---------------------------------------------------------------------------- the adjoint check


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
    terms: Sequence[tuple[str, sp.Expr]], got: np.ndarray, values: Callable[[sp.Expr], np.ndarray],
    atol: float, rtol: float,
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


# ---------------------------------------------------------------------------- helpers


def _entries(claimed: Any, n: int, graph: Graph, what: str) -> list[sp.Expr]:
    """The claimed components (a list, an array, a tensor, a Matrix) as n SymPy expressions in w or x."""
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


def _fmt_vec(x: np.ndarray) -> str:
    """A point for messages: ``[0.7854, 3]``."""
    return "[" + ", ".join(f"{v:.4g}" for v in x) + "]"
