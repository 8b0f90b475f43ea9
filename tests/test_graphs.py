"""tapelab.graphs: the drawn graph has one box and one label per node, the right arrows and numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from tapelab import chainrule as cr  # noqa: E402
from tapelab.graphs import draw_graph, layers, layout  # noqa: E402


def node_artists(fig: Figure, graph: cr.Graph):
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_gid() in graph.names]
    labels = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid() in graph.names}
    arrows = sorted(p.get_gid() for p in ax.patches if isinstance(p, FancyArrowPatch))
    return boxes, labels, arrows


def test_layers_by_depth():
    """Are the seed's nodes layered [w1, w2], [w3, w4], [w5]?"""
    assert layers(cr.seed_graph()) == [["w1", "w2"], ["w3", "w4"], ["w5"]]


def test_seed_graph_figure_has_a_box_label_and_arrows_per_node():
    """Does the seed figure have 5 node boxes, 5 labels with value and w̄, and the 6 parent->child arrows?"""
    g = cr.seed_graph()
    fig = draw_graph(g, cr.SEED_POINT)
    assert isinstance(fig, Figure)
    boxes, labels, arrows = node_artists(fig, g)
    assert len(boxes) == 5 and len(labels) == 5
    assert arrows == sorted(["w1->w3", "w2->w3", "w1->w4", "w3->w5", "w4->w5"])
    assert labels["w3"] == "w3 = w1·w2\nvalue 2.356\nw̄ 1.000"
    assert labels["w5"].startswith("w5 = w3 + w4 = y\n")
    # the numbers on the boxes are the forward values and adjoints, independently: NumPy by hand
    a, b = cr.SEED_POINT
    assert f"value {np.sin(a) + a * b:.3f}" in labels["w5"]
    assert f"w̄ {np.cos(a) + b:.3f}" in labels["w1"]
    assert f"w̄ {a:.3f}" in labels["w2"]
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_figure_displays_itself_as_png():
    """Does the Figure offer a PNG to notebooks (_repr_png_) without going through pyplot?"""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = draw_graph(cr.seed_graph(), cr.SEED_POINT)
    assert plt.get_fignums() == before
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_boxes_in_a_layer_share_a_column_and_arrows_point_right():
    """Are boxes of one depth at one x, and does every arrow go from a lower depth to a higher one?"""
    x1, x2 = sp.symbols("x1 x2")
    g = cr.Graph.from_expr(x1 * x2 * sp.sin(x2))
    fig = draw_graph(g)
    boxes, labels, arrows = node_artists(fig, g)
    assert len(boxes) == len(g.nodes) and len(labels) == len(g.nodes)
    assert len(arrows) == sum(len(n.parents) for n in g.nodes)
    left = {b.get_gid(): b.get_x() for b in boxes}
    for depth_names in layers(g):
        assert len({round(left[n], 9) for n in depth_names}) == 1
    for gid in arrows:
        parent, child = gid.split("->")
        assert left[parent] < left[child]
    # without x the labels carry only the definitions
    assert all("value" not in t for t in labels.values())


def test_adjoints_can_be_replaced():
    """Does adjoints= show given numbers (a student's) instead of the computed w̄?"""
    g = cr.seed_graph()
    fig = draw_graph(g, cr.SEED_POINT, adjoints={"w1": 0.707}, title="student")
    _, labels, _ = node_artists(fig, g)
    assert labels["w1"].endswith("w̄ 0.707")
    assert labels["w2"].endswith(f"w̄ {cr.SEED_POINT[0]:.3f}")
    assert fig.axes[0].get_title() == "student"


G2 = {"w1": "x1", "w2": "x2", "w3": "w1*w2", "w4": "exp(w3)", "w5": "sin(w1)", "w6": "w2*w5", "w7": "w4 + w6"}
HIDDEN = {"w1": "x1", "w2": "x2", "w3": "x3", "w4": "w1*w2", "w5": "sin(w1)", "w6": "w3/(1 + w1**2)",
          "w7": "exp(w4)", "w8": "w4*w5", "w9": "w6 + w7 + w8"}


def arrows_through_boxes(fig: Figure, graph: cr.Graph) -> list[str]:
    """The arrows that pass through a box other than their own two (sampled along each curve)."""
    ax = fig.axes[0]
    boxes = {p.get_gid(): p.get_bbox() for p in ax.patches if isinstance(p, FancyBboxPatch)}
    hits = []
    for arrow in (p for p in ax.patches if isinstance(p, FancyArrowPatch)):
        ends = set(arrow.get_gid().split("->"))
        path = arrow.get_path()
        points = np.vstack([curve(np.linspace(0, 1, 30)) for curve, _ in path.iter_bezier()])
        for name, box in boxes.items():
            inside = ((points[:, 0] > box.x0) & (points[:, 0] < box.x1)
                      & (points[:, 1] > box.y0) & (points[:, 1] < box.y1))
            if name not in ends and inside.any():
                hits.append(f"{arrow.get_gid()} through {name}")
    return hits


def test_seed_layout_has_no_crossing():
    """Is the seed graph laid out without crossing arrows (w4 = sin(w1) beside w1, w3 = w1·w2 between them)?"""
    plan = layout(cr.seed_graph())
    assert plan.crossings == 0
    assert plan.rows == [["w1", "w2"], ["w4", "w3"], ["w5"]]
    assert set(plan.routes) == {("w1", "w3"), ("w2", "w3"), ("w1", "w4"), ("w3", "w5"), ("w4", "w5")}


def test_an_arrow_that_skips_a_layer_gets_a_free_slot():
    """Does w2 -> w6 (depth 0 to 2) pass layer 1 in a slot of its own, with one crossing at most in g's graph?"""
    g = cr.Graph.from_nodes(G2)
    plan = layout(g)
    assert ("w2", "w6", 1) in plan.rows[1]
    route = plan.routes[("w2", "w6")]
    assert len(route) == 3 and route[1] not in plan.positions.values()
    assert plan.crossings == 1  # the fewest possible: w6's parents w5 and w2 lie on both sides of w3
    assert len({plan.positions[n] for n in g.names}) == len(g.names)


def test_no_arrow_runs_through_a_box():
    """In the drawn seed graph, g's graph and a three-input graph, does every arrow avoid the other boxes?"""
    for spec, x in ((None, cr.SEED_POINT), (G2, (0.8, 1.4)), (HIDDEN, (0.3, -0.4, 0.9))):
        g = cr.seed_graph() if spec is None else cr.Graph.from_nodes(spec)
        assert arrows_through_boxes(draw_graph(g, x), g) == []


def test_large_graphs_are_ordered_by_barycentres():
    """Does a graph too large to try every order still get a layout with every node and every arrow?"""
    x1, x2, x3 = sp.symbols("x1 x2 x3")
    g = cr.Graph.from_expr(sp.sin(x1 * x2) * sp.exp(x3) + x1 * x3 + sp.cos(x2 + x3) * x1 + x2 ** 2 * x3)
    plan = layout(g)
    assert set(plan.positions) == set(g.names)
    assert len(plan.routes) == sum(len(n.parents) for n in g.nodes)
    for (parent, child), route in plan.routes.items():
        assert route[0] == plan.positions[parent] and route[-1] == plan.positions[child]
        assert [x for x, _ in route] == sorted(x for x, _ in route)
    assert arrows_through_boxes(draw_graph(g), g) == []
