"""Draw a computation graph with each node's value and adjoint, as a matplotlib Figure.

Nodes are placed in layers by depth (inputs at depth 0, every other node one layer right of its
deepest parent) and arrows run parent -> child, the direction of the forward pass; the adjoints
w̄ = ∂y/∂w flow back against them. Each box reads, for the seed graph at x = [π/4, 3]::

    w3 = w1·w2
    value 2.356
    w̄ 1.000

The layout is the classic layered one (Sugiyama): an arrow that skips layers gets a free slot
in every layer it passes, so it never runs through a box; the order of the boxes within each
layer is the one with the fewest crossing arrows (then the shortest arrows), found by trying
every order for small graphs and by barycentre sweeps for large ones. Arrows are smooth curves
that leave and enter the boxes horizontally, spread over the box's side when several meet there.

No system graphviz is needed. The functions are pure: they build and return a Figure (not
registered with pyplot, so it never appears twice), and never show or print it; in a notebook
the Figure displays itself as a PNG when it is the cell's value.

Public API
----------
- ``layers(graph) -> list[list[str]]``: the node names of each depth, in graph order.
- ``layout(graph) -> Layout``: the box centres and every arrow's route (``.positions``,
  ``.routes``, ``.crossings``).
- ``draw_graph(graph, x=None, *, adjoints=None, title=None) -> GraphFigure`` (a
  ``matplotlib.figure.Figure`` with ``_repr_png_``).
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from tapelab import chainrule

_BOX_W, _BOX_H = 2.0, 1.05
_DX, _DY = 3.0, 1.5
_COLORS = {"input": "#dbe9f6", "inner": "#eeeeee", "output": "#fde2c8"}
_PORTS = 0.3  # arrows meeting at one side of a box spread over ±_PORTS·box height
_BRUTE_FORCE = 5000  # try every order of the layers when there are at most this many


class GraphFigure(Figure):
    """A Figure that a notebook displays as a PNG when it is a cell's value (no pyplot needed)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def layers(graph: chainrule.Graph) -> list[list[str]]:
    """Node names grouped by depth, in graph order: depth(w) = 0 for inputs, else 1 + max depth of its parents."""
    depth: dict[str, int] = {}
    for node in graph.nodes:
        depth[node.name] = 0 if node.is_input else 1 + max(depth[p] for p in node.parents)
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in graph.nodes:
        out[depth[node.name]].append(node.name)
    return out


Slot = str | tuple[str, str, int]  # a node name, or (parent, child, depth): an arrow passing a layer


@dataclass(frozen=True)
class Layout:
    """Where the boxes go and how the arrows run.

    ``positions[name]`` is the centre of a node's box; ``routes[(parent, child)]`` the points an
    arrow passes from the parent's layer to the child's (one per layer, free slots included);
    ``crossings`` the number of pairs of arrows that cross.
    """

    positions: dict[str, tuple[float, float]]
    routes: dict[tuple[str, str], list[tuple[float, float]]]
    rows: list[list[Slot]]
    crossings: int


def _ys(row: Sequence[Slot]) -> dict[Slot, float]:
    return {slot: ((len(row) - 1) / 2 - j) * _DY for j, slot in enumerate(row)}


def _cost(rows: Sequence[Sequence[Slot]], gaps: Sequence[list[tuple[Slot, Slot]]]) -> tuple[int, float]:
    """(crossing pairs of segments, total vertical length) of an order of the rows."""
    ys = [_ys(row) for row in rows]
    crossings, length = 0, 0.0
    for i, segments in enumerate(gaps):
        pairs = [(ys[i][a], ys[i + 1][b]) for a, b in segments]
        length += sum(abs(ya - yb) for ya, yb in pairs)
        for (a, b), (c, d) in itertools.combinations(pairs, 2):
            crossings += (a - c) * (b - d) < 0
    return crossings, length


def _barycentre_order(rows: list[list[Slot]], gaps: list[list[tuple[Slot, Slot]]]) -> list[list[Slot]]:
    """Sweep down and up, sorting each layer by the mean position of its neighbours; keep the best."""
    best, best_cost = [list(r) for r in rows], _cost(rows, gaps)
    rows = [list(r) for r in rows]
    for sweep in range(8):
        down = sweep % 2 == 0
        for i in range(1, len(rows)) if down else range(len(rows) - 2, -1, -1):
            fixed = {slot: j for j, slot in enumerate(rows[i - 1 if down else i + 1])}
            segments = gaps[i - 1] if down else gaps[i]
            near: dict[Slot, list[int]] = {}
            for a, b in segments:
                mine, other = (b, a) if down else (a, b)
                near.setdefault(mine, []).append(fixed[other])
            before = {slot: j for j, slot in enumerate(rows[i])}
            rows[i].sort(key=lambda s: (float(np.mean(near[s])) if s in near else before[s], before[s]))
        cost = _cost(rows, gaps)
        if cost < best_cost:
            best, best_cost = [list(r) for r in rows], cost
    return best


def layout(graph: chainrule.Graph) -> Layout:
    """Layers by depth, a free slot wherever an arrow skips a layer, the order with the fewest crossings."""
    depth = {name: i for i, col in enumerate(layers(graph)) for name in col}
    rows: list[list[Slot]] = [list(col) for col in layers(graph)]
    chains: dict[tuple[str, str], list[Slot]] = {}
    for node in graph.nodes:
        for p in node.parents:
            passing = [(p, node.name, d) for d in range(depth[p] + 1, depth[node.name])]
            for slot in passing:
                rows[slot[2]].append(slot)
            chains[(p, node.name)] = [p, *passing, node.name]
    gaps: list[list[tuple[Slot, Slot]]] = [[] for _ in range(len(rows) - 1)]
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            gaps[depth[a] if isinstance(a, str) else a[2]].append((a, b))
    if math.prod(math.factorial(len(r)) for r in rows) <= _BRUTE_FORCE:
        rows = [list(r) for r in min(itertools.product(*(itertools.permutations(r) for r in rows)),
                                     key=lambda order: _cost(order, gaps))]
    else:
        rows = _barycentre_order(rows, gaps)
    centre = {slot: (i * _DX, y) for i, row in enumerate(rows) for slot, y in _ys(row).items()}
    positions = {name: centre[name] for name in graph.names}
    routes = {edge: [centre[slot] for slot in chain] for edge, chain in chains.items()}
    return Layout(positions, routes, rows, _cost(rows, gaps)[0])


def _ports(routes: Mapping[tuple[str, str], list[tuple[float, float]]]) -> dict[tuple[str, str], tuple[float, float]]:
    """(y where the arrow leaves its parent, y where it enters its child), spread when several share a side."""
    leave: dict[str, list[tuple[float, tuple[str, str]]]] = {}
    enter: dict[str, list[tuple[float, tuple[str, str]]]] = {}
    for (p, c), points in routes.items():
        leave.setdefault(p, []).append((-points[1][1], (p, c)))
        enter.setdefault(c, []).append((-points[-2][1], (p, c)))
    out: dict[tuple[str, str], list[float]] = {edge: [0.0, 0.0] for edge in routes}
    for side, groups in ((0, leave), (1, enter)):
        for name, edges in groups.items():
            edges.sort()
            for j, (_, edge) in enumerate(edges):
                spread = 0.0 if len(edges) == 1 else _PORTS * _BOX_H * (1 - 2 * j / (len(edges) - 1))
                point = routes[edge][0 if side == 0 else -1]
                out[edge][side] = point[1] + spread
    return {edge: (a, b) for edge, (a, b) in out.items()}


def _arrow_path(points: Sequence[tuple[float, float]], y_from: float, y_to: float) -> Path:
    """From the parent's right side through each free slot to the child's left side, in smooth S-curves."""
    stops = [(points[0][0] + _BOX_W / 2, y_from)]
    for x, y in points[1:-1]:
        stops += [(x - _BOX_W / 2, y), (x + _BOX_W / 2, y)]
    stops.append((points[-1][0] - _BOX_W / 2, y_to))
    vertices, codes = [stops[0]], [Path.MOVETO]
    for k, ((x0, y0), (x1, y1)) in enumerate(zip(stops, stops[1:])):
        if k % 2 == 1:  # straight through a free slot
            vertices.append((x1, y1))
            codes.append(Path.LINETO)
        else:
            mid = (x0 + x1) / 2
            vertices += [(mid, y0), (mid, y1), (x1, y1)]
            codes += [Path.CURVE4] * 3
    return Path(vertices, codes)


def _label(node: chainrule.Node, value: float | None, bar: float | None, output: bool) -> str:
    first = node.name + " = " + str(node.expr).replace("**", "^").replace("*", "·")
    if output:
        first += " = y"
    lines = [first]
    if value is not None:
        lines.append(f"value {value:.3f}")
    if bar is not None:
        lines.append(f"w̄ {bar:.3f}")
    return "\n".join(lines)


def draw_graph(
    graph: chainrule.Graph,
    x: Sequence[float] | np.ndarray | None = None,
    *,
    adjoints: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """The graph as a Figure: one box per node, arrows parent -> child.

    With ``x``, each box shows the forward value and the adjoint w̄ at x (computed by
    :func:`tapelab.chainrule.forward` and :func:`tapelab.chainrule.adjoints`); ``adjoints`` replaces
    the computed w̄ (e.g. to show a student's numbers). Each node's box has the node name as gid,
    so ``[p for p in fig.axes[0].patches if p.get_gid() in graph.names]`` are the node boxes.
    """
    values = chainrule.forward(graph, x) if x is not None else {}
    bars = dict(chainrule.adjoints(graph, x)) if x is not None else {}
    if adjoints is not None:
        bars.update(adjoints)
    plan = layout(graph)
    columns = len(plan.rows)
    box_ys = [y for _, y in plan.positions.values()]
    route_ys = [y for points in plan.routes.values() for _, y in points]
    top = max(max(box_ys) + _BOX_H / 2, max(route_ys, default=0.0)) + 0.2
    bottom = min(min(box_ys) - _BOX_H / 2, min(route_ys, default=0.0)) - 0.2

    fig = GraphFigure(figsize=(max(4.0, 2.3 * columns), max(2.2, (top - bottom) * 1.3 / _DY + 0.4)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-_BOX_W / 2 - 0.2, (columns - 1) * _DX + _BOX_W / 2 + 0.2)
    ax.set_ylim(bottom, top)

    for node in graph.nodes:
        kind = "input" if node.is_input else "output" if node is graph.output else "inner"
        cx, cy = plan.positions[node.name]
        box = FancyBboxPatch(
            (cx - _BOX_W / 2, cy - _BOX_H / 2),
            _BOX_W,
            _BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=_COLORS[kind],
            edgecolor="#555555",
            linewidth=1.0,
            gid=node.name,
        )
        ax.add_patch(box)
        text = _label(node, values.get(node.name), bars.get(node.name), node is graph.output)
        ax.text(cx, cy, text, ha="center", va="center", fontsize=9, gid=node.name)
    ports = _ports(plan.routes)
    for (p, c), points in plan.routes.items():
        ax.add_patch(
            FancyArrowPatch(
                path=_arrow_path(points, *ports[(p, c)]),
                arrowstyle="-|>",
                mutation_scale=12,
                color="#333333",
                linewidth=1.0,
                gid=f"{p}->{c}",
            )
        )
    if title is None:
        y = sp.sstr(graph.expanded()[graph.output.name]).replace("**", "^").replace("*", "·")
        title = f"y = {y}" + (f" at x = [{', '.join(f'{v:.4g}' for v in np.ravel(x))}]" if x is not None else "")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
