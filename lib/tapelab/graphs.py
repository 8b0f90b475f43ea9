"""Draw a computation graph with each node's value and adjoint, as a matplotlib Figure.

Nodes are placed in layers by depth (inputs at depth 0, every other node one layer right of its
deepest parent) and arrows run parent -> child, the direction of the forward pass; the adjoints
w̄ = ∂y/∂w flow back against them. Each box reads, for the seed graph at x = [π/4, 3]::

    w3 = w1·w2
    value 2.356
    w̄ 1.000

No system graphviz is needed. The functions are pure: they build and return a Figure (not
registered with pyplot, so it never appears twice), and never show or print it; in a notebook
the Figure displays itself as a PNG when it is the cell's value.

Public API
----------
- ``layers(graph) -> list[list[str]]``: the node names of each depth, left to right.
- ``draw_graph(graph, x=None, *, adjoints=None, title=None) -> GraphFigure`` (a
  ``matplotlib.figure.Figure`` with ``_repr_png_``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from tapelab import chainrule

_BOX_W, _BOX_H = 2.0, 1.05
_DX, _DY = 3.0, 1.5
_COLORS = {"input": "#dbe9f6", "inner": "#eeeeee", "output": "#fde2c8"}


class GraphFigure(Figure):
    """A Figure that a notebook displays as a PNG when it is a cell's value (no pyplot needed)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def layers(graph: chainrule.Graph) -> list[list[str]]:
    """Node names grouped by depth: depth(w) = 0 for inputs, else 1 + max depth of its parents."""
    depth: dict[str, int] = {}
    for node in graph.nodes:
        depth[node.name] = 0 if node.is_input else 1 + max(depth[p] for p in node.parents)
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in graph.nodes:
        out[depth[node.name]].append(node.name)
    return out


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
    grid = layers(graph)
    tallest = max(len(col) for col in grid)
    pos: dict[str, tuple[float, float]] = {}
    for i, col in enumerate(grid):
        for j, name in enumerate(col):
            pos[name] = (i * _DX, ((len(col) - 1) / 2 - j) * _DY)

    fig = GraphFigure(figsize=(max(4.0, 2.3 * len(grid)), max(2.2, 1.3 * tallest + 0.6)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-_BOX_W / 2 - 0.2, (len(grid) - 1) * _DX + _BOX_W / 2 + 0.2)
    half = (tallest - 1) / 2 * _DY + _BOX_H / 2 + 0.2
    ax.set_ylim(-half, half)
    depth = {name: i for i, col in enumerate(grid) for name in col}

    for node in graph.nodes:
        kind = "input" if node.is_input else "output" if node is graph.output else "inner"
        cx, cy = pos[node.name]
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
        for p in node.parents:
            px, py = pos[p]
            skip = depth[node.name] - depth[p] > 1
            ax.add_patch(
                FancyArrowPatch(
                    (px + _BOX_W / 2, py),
                    (cx - _BOX_W / 2, cy),
                    arrowstyle="-|>",
                    mutation_scale=12,
                    color="#333333",
                    connectionstyle=f"arc3,rad={0.25 if skip else 0.0}",
                    shrinkA=2,
                    shrinkB=2,
                    gid=f"{p}->{node.name}",
                )
            )
    if title is None:
        y = sp.sstr(graph.expanded()[graph.output.name]).replace("**", "^").replace("*", "·")
        title = f"y = {y}" + (f" at x = [{', '.join(f'{v:.4g}' for v in np.ravel(x))}]" if x is not None else "")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
