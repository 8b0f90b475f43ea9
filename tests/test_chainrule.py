"""tapelab.chainrule: every value and adjoint against an independent answer.

References: NumPy written by hand for the forward pass, sympy.diff for derivatives, TensorFlow's
GradientTape in float64 on the same function written with tf ops (adjoints of intermediate
nodes included), and float64 central differences. Random points come from a seeded Generator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import tensorflow as tf

from tapelab import chainrule as cr
from tapelab.feedback import MISTAKES, Hint

TOL = 1e-12  # float64 against float64: the same arithmetic up to rounding
x1, x2, x3 = sp.symbols("x1 x2 x3")
w1, w2, w3, w4, w5 = sp.symbols("w1:6")


@pytest.fixture
def points() -> np.ndarray:
    """The seed point and five random points in [-2, 2]²."""
    rng = np.random.default_rng(20261125)
    return np.vstack([cr.SEED_POINT, rng.uniform(-2, 2, size=(5, 2))])


def seed_tape_adjoints(x: np.ndarray) -> dict[str, float]:
    """w̄ for every node from tf.GradientTape: y = sin(w1) + w1*w2 written with tf ops."""
    xv = tf.Variable(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        a, b = xv[0], xv[1]
        c = a * b
        d = tf.sin(a)
        y = c + d
    grads = tape.gradient(y, [a, b, c, d, y])
    return {f"w{i + 1}": float(g) for i, g in enumerate(grads)}


def test_seed_graph_is_the_seed_notebooks_graph():
    """Does seed_graph list w1..w5 with the seed's expressions, parents and children?"""
    g = cr.seed_graph()
    assert g.names == ("w1", "w2", "w3", "w4", "w5")
    assert g.inputs == (x1, x2)
    assert [n.expr for n in g.nodes] == [x1, x2, w1 * w2, sp.sin(w1), w3 + w4]
    assert [n.parents for n in g.nodes] == [(), (), ("w1", "w2"), ("w1",), ("w3", "w4")]
    assert g.children("w1") == ("w3", "w4")
    assert g.children("w5") == ()
    assert g.output.name == "w5"
    assert sp.simplify(g.expanded()["w5"] - (sp.sin(x1) + x1 * x2)) == 0
    assert str(g).splitlines()[-1] == "w5 := y = w3 + w4"


def test_forward_values_match_numpy(points):
    """Are the forward values those of the formulas computed directly in NumPy?"""
    g = cr.seed_graph()
    for a, b in points:
        v = cr.forward(g, [a, b])
        expected = {"w1": a, "w2": b, "w3": a * b, "w4": np.sin(a), "w5": np.sin(a) + a * b}
        for k in expected:
            assert abs(v[k] - expected[k]) <= TOL
    # the seed's own check: f(x) = sqrt(2)/2 + 3π/4
    assert abs(cr.forward(g, cr.SEED_POINT)["w5"] - (math.sqrt(2) / 2 + 3 * math.pi / 4)) <= TOL


def test_symbolic_adjoints_are_the_seed_derivation():
    """Does the chain rule give w̄5 = w̄4 = w̄3 = 1, w̄2 = w1, w̄1 = cos(w1) + w2, and do they equal sympy.diff?"""
    g = cr.seed_graph()
    bars = cr.adjoint_exprs(g)
    expected = {"w5": 1, "w4": 1, "w3": 1, "w2": w1, "w1": sp.cos(w1) + w2}
    for k, e in expected.items():
        assert sp.simplify(bars[k] - e) == 0, k
    y = g.expanded()["w5"]
    assert sp.simplify(g.to_inputs(bars["w1"]) - sp.diff(y, x1)) == 0
    assert sp.simplify(g.to_inputs(bars["w2"]) - sp.diff(y, x2)) == 0


def test_contributions_are_one_term_per_child():
    """Is w̄1 made of one chain-rule term per child, w̄3·∂w3/∂w1 = w2 and w̄4·∂w4/∂w1 = cos(w1)?"""
    terms = cr.contributions(cr.seed_graph())
    assert [c for c, _ in terms["w1"]] == ["w3", "w4"]
    assert sp.simplify(terms["w1"][0][1] - w2) == 0
    assert sp.simplify(terms["w1"][1][1] - sp.cos(w1)) == 0
    assert terms["w5"] == []


def test_numeric_adjoints_match_tape_on_every_node(points):
    """Are the numeric adjoints of all five nodes those of tf.GradientTape (float64) on the intermediate tensors?"""
    g = cr.seed_graph()
    for p in points:
        mine, tape = cr.adjoints(g, p), seed_tape_adjoints(p)
        for k in g.names:
            assert abs(mine[k] - tape[k]) <= TOL, (k, p)


def test_numeric_adjoints_match_symbolic_adjoints(points):
    """Do the node-by-node numbers equal the symbolic adjoints evaluated at the forward values?"""
    g = cr.seed_graph()
    bars = cr.adjoint_exprs(g)
    for p in points:
        values = cr.forward(g, p)
        numbers = cr.adjoints(g, p)
        subs = {sp.Symbol(k): v for k, v in values.items()}
        for k in g.names:
            assert abs(numbers[k] - float(sp.sympify(bars[k]).evalf(subs=subs))) <= 1e-10


def test_gradient_matches_three_references(points):
    """Does gradient() agree with sympy.diff and the tape to 1e-12 and with finite differences to 1e-7?"""
    g = cr.seed_graph()
    for p in points:
        grad = cr.gradient(g, p)
        refs = cr.reference_gradients(g, p)
        assert set(refs) == set(cr.REFERENCES)
        np.testing.assert_allclose(grad, [np.cos(p[0]) + p[1], p[0]], atol=TOL, rtol=0)
        np.testing.assert_allclose(refs["sympy.diff"], grad, atol=TOL, rtol=0)
        np.testing.assert_allclose(refs["GradientTape"], grad, atol=TOL, rtol=0)
        np.testing.assert_allclose(refs["finite differences"], grad, atol=1e-7, rtol=0)


def test_seed_correct_gradient_is_accepted():
    """Is [cos(π/4) + 3, π/4] accepted, as numbers, as SymPy values, and as the seed's float32 tape result?"""
    good = cr.check_gradient([math.cos(math.pi / 4) + 3, math.pi / 4])
    assert good.ok, good.text
    assert good.text == (
        "gradient check at x = [0.7854, 3]: ok\n"
        "  max |Δ| vs sympy.diff: < 1e-06, < 1e-06\n"
        "  max |Δ| vs GradientTape: < 1e-06, < 1e-06\n"
        "  max |Δ| vs finite differences: < 1e-06, < 1e-06"
    )
    assert cr.check_gradient([sp.cos(sp.pi / 4) + 3, sp.pi / 4]).ok
    x = tf.Variable([math.pi / 4, 3])
    with tf.GradientTape() as tape:
        y = tf.sin(x[0]) + x[0] * x[1]
    report = cr.check_gradient(tape.gradient(y, x))
    assert report.ok, report.text
    assert all(np.all(e < 1e-5) for e in report.errors.values())


def test_seed_wrong_gradient_is_rejected():
    """Is the seed's [cos(π/4 + 3), π/4] rejected, with only the first component blamed, in a readable message?"""
    report = cr.check_gradient([sp.cos(sp.pi / 4 + 3), sp.pi / 4])
    assert not report.ok
    wrong = math.cos(math.pi / 4 + 3)
    right = math.cos(math.pi / 4) + 3
    for r in cr.REFERENCES:
        assert abs(report.errors[r][0] - abs(wrong - right)) < 1e-6
        assert report.errors[r][1] < 1e-6
    assert report.problems == [
        "∂y/∂x1 is wrong at x = [0.7854, 3]: expected 3.70711 (sympy.diff, GradientTape, finite differences), "
        "found -0.799817."
    ]
    assert report.text.startswith("gradient check at x = [0.7854, 3]: FAILED")
    with pytest.raises(AssertionError, match="∂y/∂x1 is wrong"):
        report.assert_ok()


def test_symbolic_claims_are_checked_at_random_points():
    """Is a formula that is right only at x2 = 3 caught by the seeded random points, and the true one accepted?"""
    assert cr.check_gradient(["cos(w1) + w2", "w1"]).ok
    assert cr.check_gradient([sp.cos(x1) + x2, x1], n_random=10, seed=7).ok
    lucky = cr.check_gradient([sp.cos(x1) + 3, x1])  # equals the truth at the seed point only
    assert not lucky.ok
    assert "[0.7854, 3]" not in "".join(lucky.problems)
    assert len(lucky.points) == 4


def test_check_gradient_messages():
    """Do wrong shapes, None and unknown symbols give messages that say what was expected and found?"""
    with pytest.raises(ValueError, match=r"must have 2 components \(one per input x1, x2\), found 3"):
        cr.check_gradient([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="tf.Variable or call tape.watch"):
        cr.check_gradient(None)
    with pytest.raises(ValueError, match=r"uses z, which is neither an input \(x1, x2\) nor a node"):
        cr.check_gradient(["z", "w1"])


def test_from_expr_decomposes_the_seed_expression_into_the_seed_graph():
    """Does decomposing sin(x1) + x1*x2 give exactly the seed graph?"""
    assert cr.Graph.from_expr(sp.sin(x1) + x1 * x2) == cr.seed_graph()
    assert cr.Graph.from_expr("sin(x1) + x1*x2") == cr.seed_graph()


def test_another_graph_from_an_expression(points):
    """For y = x1*x2*sin(x2), do adjoints match the tape on every node and the gradient match sympy.diff?"""
    expr = x1 * x2 * sp.sin(x2)
    g = cr.Graph.from_expr(expr)
    assert g.inputs == (x1, x2)
    assert len(g.nodes) == 5
    assert all(len(n.parents) <= 2 for n in g.nodes)
    assert sp.simplify(g.expanded()[g.output.name] - expr) == 0
    dfdx = [sp.lambdify((x1, x2), sp.diff(expr, v)) for v in (x1, x2)]
    for p in points:
        np.testing.assert_allclose(cr.gradient(g, p), [d(*p) for d in dfdx], atol=TOL, rtol=0)
        # the tape, node by node: each node's value as a tf tensor, then the gradient w.r.t. all of them
        xv = tf.Variable(p, dtype=tf.float64)
        with tf.GradientTape() as tape:
            vals = {}
            for n in g.nodes:
                if n.is_input:
                    vals[n.name] = xv[g.inputs.index(n.expr)]
                else:
                    f = sp.lambdify([sp.Symbol(q) for q in n.parents], n.expr, modules="tensorflow")
                    vals[n.name] = f(*(vals[q] for q in n.parents))
        tape_bars = tape.gradient(vals[g.output.name], [vals[k] for k in g.names])
        mine = cr.adjoints(g, p)
        for k, t in zip(g.names, tape_bars):
            assert abs(mine[k] - float(t)) <= TOL
    assert cr.check_gradient([sp.diff(expr, x1), sp.diff(expr, x2)], g).ok
    assert not cr.check_gradient([x2 * sp.sin(x2), x1 * sp.cos(x2)], g).ok


def test_from_expr_handles_constants_powers_and_shared_subexpressions():
    """Are numbers kept in their node, n-ary sums chained in binary nodes and a repeated subexpression one node?"""
    expr = 3 * x1**2 + sp.exp(x1 * x2) + x1 * x2 + x3
    g = cr.Graph.from_expr(expr)
    assert g.inputs == (x1, x2, x3)
    assert sp.simplify(g.expanded()[g.output.name] - expr) == 0
    products = [n for n in g.nodes if sp.simplify(g.expanded()[n.name] - x1 * x2) == 0]
    assert len(products) == 1
    assert g.children(products[0].name) and len(g.children(products[0].name)) == 2
    rng = np.random.default_rng(3)
    for p in rng.uniform(-1, 1, size=(4, 3)):
        want = [float(sp.diff(expr, v).evalf(subs=dict(zip(g.inputs, p)))) for v in g.inputs]
        np.testing.assert_allclose(cr.gradient(g, p), want, atol=1e-10, rtol=0)
        refs = cr.reference_gradients(g, p)
        np.testing.assert_allclose(refs["GradientTape"], want, atol=1e-10, rtol=0)
        np.testing.assert_allclose(refs["finite differences"], want, atol=1e-6, rtol=0)


def test_graph_by_listing_nodes():
    """Does a graph listed node by node (y = exp(w1*w2) - w2) give the gradient sympy.diff gives?"""
    g = cr.Graph.from_nodes({"w1": "x1", "w2": "x2", "w3": "w1*w2", "w4": "exp(w3)", "w5": "w4 - w2"})
    assert [n.parents for n in g.nodes][2:] == [("w1", "w2"), ("w3",), ("w2", "w4")]
    y = sp.exp(x1 * x2) - x2
    p = np.array([0.3, -0.7])
    want = [float(sp.diff(y, v).subs({x1: p[0], x2: p[1]})) for v in (x1, x2)]
    np.testing.assert_allclose(cr.gradient(g, p), want, atol=TOL, rtol=0)
    assert cr.check_gradient([sp.diff(y, x1), sp.diff(y, x2)], g).ok


def test_graph_construction_errors():
    """Do badly listed graphs fail with a message naming the node and the fix?"""
    with pytest.raises(ValueError, match="w3 uses w4, which is not defined before it; list the nodes parents first"):
        cr.Graph.from_nodes({"w1": "x1", "w3": "w1*w4", "w4": "sin(w1)"})
    with pytest.raises(ValueError, match=r"w2 := w1\*x2 uses x2, which is not a node; give every input its own node"):
        cr.Graph.from_nodes({"w1": "x1", "w2": "w1*x2"})
    with pytest.raises(ValueError, match=r"w1 := 3 is neither an input"):
        cr.Graph.from_nodes({"w1": "3"})
    with pytest.raises(KeyError, match="no node 'w9'"):
        cr.seed_graph().node("w9")
    with pytest.raises(ValueError, match=r"x must have 2 components \(one per input x1, x2\), found 3"):
        cr.forward(cr.seed_graph(), [1, 2, 3])


def test_derivation_text():
    """Does derivation() write the seed's chain rule, one line per node from the output back?"""
    assert cr.derivation(cr.seed_graph()).splitlines() == [
        "w̄5 = 1  (by definition)",
        "w̄4 = w̄5·∂w5/∂w4 = 1",
        "w̄3 = w̄5·∂w5/∂w3 = 1",
        "w̄2 = w̄3·∂w3/∂w2 = w1",
        "w̄1 = w̄3·∂w3/∂w1 + w̄4·∂w4/∂w1 = w2 + cos(w1)",
    ]


def test_check_adjoints_accepts_the_seed_adjoints():
    """Are the seed's per-node adjoints accepted, in w-symbols, in x-symbols and as strings?"""
    claimed = {"w5": 1, "w4": 1, "w3": 1, "w2": w1, "w1": sp.cos(w1) + w2}
    report = cr.check_adjoints(claimed)
    assert report.ok and report.wrong == [], report.text
    assert max(report.errors.values()) < 1e-12
    report.assert_ok()
    assert cr.check_adjoints({"w1": "cos(x1) + x2", "w̄2": "x1"}).ok


def test_check_adjoints_names_the_missing_path():
    """Is w̄1 = cos(w1) flagged as adjoint-missing-path through w3, and w̄1 = w2 as missing w4?"""
    report = cr.check_adjoints({"w2": w1, "w1": sp.cos(w1)})
    assert not report.ok
    assert report.wrong == ["w1"]
    assert report.codes == {"w1": "adjoint-missing-path"}
    assert report.messages["w1"] == (
        "w̄1 = cos(w1) leaves out the path through w3; "
        "w̄1 must add up one term w̄c·∂c/∂w1 for every child c of w1 (w3, w4)."
    )
    with pytest.raises(Hint) as err:
        report.assert_ok()
    assert err.value.code == "adjoint-missing-path"
    assert MISTAKES["adjoint-missing-path"][1] in str(err.value)
    other = cr.check_adjoints({"w1": w2})
    assert other.codes == {"w1": "adjoint-missing-path"}
    assert "leaves out the path through w4" in other.messages["w1"]


def test_check_adjoints_names_the_wrong_node():
    """Is a wrong w̄2 (not a missing path) named, with a plain AssertionError and no code?"""
    report = cr.check_adjoints({"w1": sp.cos(w1) + w2, "w2": w2, "w3": 1})
    assert report.wrong == ["w2"]
    assert report.codes == {}
    assert report.errors["w1"] < 1e-12 and report.errors["w3"] < 1e-12
    assert report.messages["w2"] == (
        "w̄2 is wrong: at x = [0.7854, 3] expected 0.785398, found w2 = 3; "
        "check the children of w2 (w3) and their local derivatives."
    )
    with pytest.raises(AssertionError, match="FAILED at w2") as err:
        report.assert_ok()
    assert not isinstance(err.value, Hint)
    with pytest.raises(KeyError, match="claimed adjoint for 'w7'"):
        cr.check_adjoints({"w7": 1})


def test_check_adjoints_missing_path_on_another_graph():
    """On y = x1*x2*sin(x2), is dropping one of w2's two paths recognised?"""
    g = cr.Graph.from_expr(x1 * x2 * sp.sin(x2))
    w2_kids = g.children("w2")
    assert len(w2_kids) == 2
    terms = dict(cr.contributions(g)["w2"])
    one = terms[w2_kids[0]]
    report = cr.check_adjoints({"w2": one}, g)
    assert report.codes == {"w2": "adjoint-missing-path"}
    assert f"leaves out the path through {w2_kids[1]}" in report.messages["w2"]
    assert cr.check_adjoints(cr.adjoint_exprs(g), g).ok


def test_numbers_are_claims_about_the_given_point_only():
    """Are numbers checked at x = at only and formulas everywhere, with missing paths still found?"""
    a, b = cr.SEED_POINT
    numeric = {"w1": math.cos(a) + b, "w2": a, "w3": 1.0}
    assert cr.check_adjoints(numeric).ok
    missing = cr.check_adjoints({"w1": math.cos(a)})
    assert missing.codes == {"w1": "adjoint-missing-path"}
    assert "leaves out the path through w3" in missing.messages["w1"]
    # mixed gradient: the number is right at the seed point, the formula right everywhere
    assert cr.check_gradient([math.cos(a) + b, x1]).ok
    # a number at another point
    p = [0.3, -1.2]
    assert cr.check_gradient([math.cos(0.3) - 1.2, 0.3], at=p).ok
    assert not cr.check_gradient([math.cos(a) + b, a], at=p).ok
    assert cr.check_adjoints({"w1": math.cos(0.3) - 1.2}, at=p).ok
    head = cr.check_adjoints({"w1": w2}).text.splitlines()[0]
    assert head == "adjoint check at x = [0.7854, 3] and 3 random points (seed 0): FAILED at w1"


def test_wrong_adjoint_message_uses_a_point_where_it_is_wrong():
    """Is w̄1 = cos(w1) + 3 (right only at x2 = 3) reported at a random point where it differs?"""
    report = cr.check_adjoints({"w1": sp.cos(w1) + 3})
    assert report.wrong == ["w1"]
    assert "[0.7854, 3]" not in report.messages["w1"]
    rng = np.random.default_rng(0)
    p = rng.uniform(-2, 2, size=(3, 2))[0]
    assert report.messages["w1"].startswith(
        f"w̄1 is wrong: at x = [{p[0]:.4g}, {p[1]:.4g}] expected {np.cos(p[0]) + p[1]:.6g}, "
        f"found cos(w1) + 3 = {np.cos(p[0]) + 3:.6g}; check the children of w1 (w3, w4)"
    )


def test_symbols_are_matched_by_name():
    """Is a claim written with Symbol('x1', real=True) checked as if it used the graph's x1?"""
    rx1, rx2 = sp.symbols("x1 x2", real=True)
    assert cr.check_gradient([sp.cos(rx1) + rx2, rx1]).ok
    assert not cr.check_gradient([sp.cos(rx1), rx1]).ok
    assert cr.check_adjoints({"w2": sp.Symbol("w1", positive=True)}).ok


def test_more_messages_are_pinned():
    """Do direct Graph construction, constant expressions and stray symbols in adjoints give clear messages?"""
    n1, n2 = cr.Node("w1", x1), cr.Node("w2", w1 * 2, ("w1",))
    with pytest.raises(ValueError, match="^node w1 is defined twice; every node needs its own name.$"):
        cr.Graph((n1, cr.Node("w1", x1)), (x1,))
    with pytest.raises(ValueError, match=r"^input node w1 := x1 must be one of the inputs \(x2,\).$"):
        cr.Graph((n1, n2), (x2,))
    with pytest.raises(ValueError, match=r"^w3 := 2\*w1 uses w1, which is not among its parents.$"):
        cr.Graph((n1, cr.Node("w2", w1 * 2, ("w1",)), cr.Node("w3", w1 * 2, ("w2",))), (x1,))
    with pytest.raises(ValueError, match=r"^w2 := 2\*w1 has no parents; list the nodes it uses \(w1\) as its"):
        cr.Graph((n1, cr.Node("w2", w1 * 2)), (x1,))
    with pytest.raises(ValueError, match="^3 is a constant; it cannot be a node.$"):
        cr.Graph.from_expr(sp.Integer(3))
    with pytest.raises(ValueError) as err:
        cr.check_adjoints({"w1": "z + w2"})
    assert str(err.value) == (
        "w̄ of w1 uses z; write adjoints in the node symbols w1, w2, w3, w4, w5 or the inputs x1, x2."
    )
    assert str(cr.Graph((n1, n2), (x1,))) == "w1 := x1\nw2 := y = 2·w1"


def test_local_derivatives_are_the_parents_partials():
    """Is node.local_derivative(p) ∂node/∂p in the parents' symbols, and an unknown parent named?"""
    g = cr.seed_graph()
    assert g.node("w3").local_derivative("w1") == w2
    assert g.node("w3").local_derivative("w2") == w1
    assert g.node("w4").local_derivative("w1") == sp.cos(w1)
    values = cr.forward(g, cr.SEED_POINT)
    assert float(g.node("w4").local_derivative("w1").subs(values)) == pytest.approx(math.cos(math.pi / 4), abs=TOL)
    with pytest.raises(KeyError, match="'w2' is not a parent of w4; its parents are w1."):
        g.node("w4").local_derivative("w2")


def test_tape_adjoints_are_the_tapes_on_every_node(points):
    """Does tape_adjoints give the tape's w̄ of every node, equal to the chain rule's, on two graphs?"""
    g = cr.seed_graph()
    for p in points:
        got = cr.tape_adjoints(g, p)
        assert got == pytest.approx(seed_tape_adjoints(p), abs=TOL)
    other = cr.Graph.from_nodes({"w1": "x1", "w2": "x2", "w3": "x3", "w4": "w1*w2", "w5": "sin(w1)",
                                 "w6": "w3/(1 + w1**2)", "w7": "exp(w4)", "w8": "w4*w5", "w9": "w6 + w7 + w8"})
    for p in np.random.default_rng(5).uniform(-1, 1, size=(3, 3)):
        assert cr.tape_adjoints(other, p) == pytest.approx(cr.adjoints(other, p), abs=1e-12)
    dead = cr.Graph.from_nodes({"w1": "x1", "w2": "sin(w1)", "w3": "2*w1"})
    assert cr.tape_adjoints(dead, [0.5]) == {"w1": 2.0, "w2": 0.0, "w3": 1.0}


def _honest_backward(graph, x):
    values = cr.forward(graph, x)
    wbar = {name: 0.0 for name in graph.names}
    wbar[graph.output.name] = 1.0
    for child in reversed(graph.nodes):
        for parent in child.parents:
            wbar[parent] += wbar[child.name] * float(child.local_derivative(parent).subs(values))
    return wbar


def test_withheld_lets_an_honest_reverse_pass_run_and_refuses_the_library():
    """Inside withheld(), does a hand-written reverse pass run while adjoints & co. raise, and come back after?"""
    g = cr.seed_graph()
    with cr.withheld():
        got = _honest_backward(g, cr.SEED_POINT)
        assert cr.forward(g, cr.SEED_POINT)["w5"] == pytest.approx(math.sin(math.pi / 4) + 3 * math.pi / 4)
        for name in ("adjoints", "gradient", "tape_adjoints", "reference_gradients"):
            with pytest.raises(AssertionError, match=f"^backward must compute the adjoints itself, actual: it "
                                                     f"called chainrule.{name}, which computes them; use "
                                                     "chainrule.forward for the values and "
                                                     r"node.local_derivative\(p\) for the local derivatives.$"):
                getattr(cr, name)(g, cr.SEED_POINT)
        for call in (lambda: cr.adjoint_exprs(g), lambda: cr.derivation(g), lambda: cr.contributions(g),
                     lambda: cr.check_adjoints({"w1": 0.0}, g), lambda: cr.check_gradient([0.0, 0.0], g)):
            with pytest.raises(AssertionError, match="^backward must compute the adjoints itself"):
                call()
    assert got == pytest.approx(cr.adjoints(g, cr.SEED_POINT), abs=TOL)
    with pytest.raises(ZeroDivisionError):
        with cr.withheld():
            1 / 0
    assert cr.gradient(g, cr.SEED_POINT) == pytest.approx([math.cos(math.pi / 4) + 3, math.pi / 4])
    assert cr.adjoints.__name__ == "adjoints" and cr.adjoints.__doc__.startswith("w̄ = ∂y/∂w for every node at x")


def test_withheld_refuses_the_library_under_any_name():
    """Is chainrule.adjoints refused through an alias, a default and a partial (the check is in the function)?"""
    import functools

    alias = cr.adjoints

    def through_default(graph, x, f=cr.gradient):
        return f(graph, x)

    calls = {"adjoints": [lambda g, x: alias(g, x), functools.partial(cr.adjoints)], "gradient": [through_default]}
    for name, functions in calls.items():
        for fn in functions:
            with cr.withheld():
                with pytest.raises(AssertionError, match=f"it called chainrule.{name}, which computes them"):
                    fn(cr.seed_graph(), cr.SEED_POINT)
    assert cr.adjoints(cr.seed_graph(), (0.0, 1.0))["w2"] == 0.0


def test_withheld_is_a_context_variable_that_a_student_cannot_reset(monkeypatch):
    """Is withheld() per context and put back by its token, so that resetting the guard does not switch it off?"""
    import contextvars

    g, refused = cr.seed_graph(), "^backward must compute the adjoints itself, actual: it called chainrule."
    assert isinstance(cr._WITHHELD, contextvars.ContextVar) and not hasattr(cr, "_WITHHOLDING")
    with cr.withheld():
        with cr.withheld():
            cr._WITHHELD.set(False)  # a body that switches the guard off: the inner block puts back its token's value
        with pytest.raises(AssertionError, match=refused + "adjoints"):
            cr.adjoints(g, cr.SEED_POINT)
        with pytest.raises(AssertionError, match=refused + "gradient"):  # a copy of the context is withheld too
            contextvars.copy_context().run(cr.gradient, g, cr.SEED_POINT)
    assert cr._WITHHELD.get() is False and cr.adjoints(g, cr.SEED_POINT)["w2"] == pytest.approx(math.pi / 4)
    # a guard switched off, or replaced by another variable, before the test's block: the block switches it on
    cr._WITHHELD.set(False)
    monkeypatch.setattr(cr, "_WITHHELD", contextvars.ContextVar("a student's", default=False))
    with cr.withheld():
        for name, call in (("adjoints", lambda: cr.adjoints(g, cr.SEED_POINT)),
                           ("reference_gradients", lambda: cr.reference_gradients(g, cr.SEED_POINT)),
                           ("_symbolic", lambda: cr.check_adjoints({"w1": 0.0}, g))):
            with pytest.raises(AssertionError, match=refused + name):
                call()
    assert cr.tape_adjoints(g, cr.SEED_POINT)["w2"] == pytest.approx(math.pi / 4)


def test_chainrule_still_provides_every_name_the_course_uses():
    """Are the graph, the references and the checks, now in their own modules, still chainrule.X (the same objects)?"""
    from tapelab import chaincheck, chainrefs, compgraph

    homes = {compgraph: ["Node", "Graph", "seed_graph", "SEED_POINT"],
             chainrefs: ["REFERENCES", "reference_gradients", "tape_adjoints"],
             chaincheck: ["check_gradient", "check_adjoints", "GradientReport", "AdjointReport"]}
    for module, names in homes.items():
        for name in names:
            assert getattr(cr, name) is getattr(module, name), name
    own = ["forward", "contributions", "adjoint_exprs", "adjoints", "gradient", "derivation", "withheld"]
    assert sorted(cr.__all__) == sorted(own + [n for names in homes.values() for n in names])
    assert all(callable(getattr(cr, name)) for name in own)


def test_numeric_claims_are_reported_as_numbers():
    """Are numbers reported as numbers (one, at the point), with no random points in the head?"""
    a, b = cr.SEED_POINT
    report = cr.check_adjoints({"w1": b, "w2": 0.5}, n_random=0)
    assert report.text.splitlines()[0] == "adjoint check at x = [0.7854, 3]: FAILED at w1, w2"
    assert report.messages["w1"] == (
        "w̄1 = 3 at x = [0.7854, 3] leaves out the path through w4; "
        "w̄1 must add up one term w̄c·∂c/∂w1 for every child c of w1 (w3, w4)."
    )
    assert report.messages["w2"] == (
        "w̄2 is wrong: at x = [0.7854, 3] expected 0.785398, found 0.5; "
        "check the children of w2 (w3) and their local derivatives."
    )
