"""`make demo` (``python -m tapelab.demo``): the course's autodiff results, computed and checked.

:func:`autodiff_demo` shows the seed notebook's chain rule for y = sin(x1) + x1·x2 checked three
ways (sympy.diff, tf.GradientTape in float64, central finite differences), the seed's wrong
gradient [cos(π/4 + 3), π/4] rejected with the check's message, and the seed Jacobian
[[1, 1], [3, 2]] checked against SymPy and the tape. :func:`main` runs the whole demo: those
checks, then the sample class of ``autograder/samples/`` graded in parallel, sandboxed, with
the grade table and where the feedback and the CSV are (:func:`tapelab.grading.cli.demo`).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from tapelab import chainrule, jacobians


def autodiff_demo() -> None:
    """Print the chain-rule and Jacobian checks of the first two assignments."""
    graph = chainrule.seed_graph()
    x = chainrule.SEED_POINT
    print("== The chain rule by hand: y = sin(x1) + x1·x2 at x = [π/4, 3] ==")
    print(graph)
    print()
    print(chainrule.derivation(graph))
    print()
    grad = chainrule.gradient(graph, x)
    print(f"reverse mode, node by node:   ∂y/∂x = [{grad[0]:.6f}, {grad[1]:.6f}]")
    for name, ref in chainrule.reference_gradients(graph, x).items():
        print(f"{name + ':':<30}∂y/∂x = [{ref[0]:.6f}, {ref[1]:.6f}]")
    print()
    print("Claimed ∂y/∂x = [cos(π/4) + 3, π/4]:")
    print(chainrule.check_gradient([sp.cos(sp.pi / 4) + 3, sp.pi / 4]).text)
    print()
    print("Claimed ∂y/∂x = [cos(π/4 + 3), π/4] (the slip in the seed notebook's derivation):")
    print(chainrule.check_gradient([math.cos(math.pi / 4 + 3), math.pi / 4]).text)
    print()
    print("Claimed w̄1 = cos(w1) (one path only):")
    print(chainrule.check_adjoints({"w1": "cos(w1)"}).text)
    print()
    exprs, symbols, point = jacobians.seed_example()
    print(f"== The Jacobian of f(x) = [{exprs[0]}, {exprs[1]}] at x = [2, 3] ==")
    check = jacobians.check_jacobian(exprs, symbols, point)
    with np.printoptions(precision=6, suppress=True):
        print("tape.jacobian (float64):", np.array2string(check.tape, prefix=" " * 24))
    print(check.report())


def main() -> int:
    """The whole demo; returns the grading step's exit status."""
    autodiff_demo()
    print()
    print("== Grading the sample class (autograder/samples/) ==", flush=True)
    from tapelab.grading.cli import demo

    return demo()


if __name__ == "__main__":
    raise SystemExit(main())
