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
from tapelab.graphs import draw_graph, layers  # noqa: E402


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
