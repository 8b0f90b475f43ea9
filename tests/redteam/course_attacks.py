"""Patching attacks on the real course notebooks: wrong answers dressed up to pass.

Hostile students for each course notebook, each with a :data:`PATCHES` cell put
in front of their first answer, before any test runs:

* ``patched-<student>``: wrong students of ``tests/fixtures/answers/<assignment>.toml``
  again, their wrong answers now behind the patches: the cells they lose must
  still score 0. The fewest students whose losses cover every test, in file order
  (:func:`covering`): one wrong answer per test behind the patches is the attack;
* ``liar-<assignment>``: every function, class and value the solution defines is
  an object that agrees with everything (``__eq__`` always true, any attribute,
  any call, any number): every graded cell must score 0.

:data:`PATCHES` replaces what a careless test would believe: NumPy's, math's,
SymPy's and TensorFlow's comparison functions, the kit's own checkers
(``tapelab.chainrule.check_adjoints``, ``tapelab.feedback.expect``,
``tapelab.worlds.check_world``) and the notebook's names of the trusted
comparisons.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ANSWERS = HERE.parent / "fixtures" / "answers"
sys.path.insert(0, str(ANSWERS))

import answers  # noqa: E402
import mistake_build  # noqa: E402

PATCHES = '''
import math, numpy, sympy, tensorflow
import tapelab.chainrule, tapelab.feedback, tapelab.worlds

def _yes(*args, **kwargs):
    return True

class Liar(float):
    """Equal to everything, every attribute and call is itself, every conversion says 0."""
    def __new__(cls, *args, **kwargs):
        return float.__new__(cls, 0.0)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __hash__(self): return 0
    def __bool__(self): return True
    def __getattr__(self, name): return Liar()
    def __call__(self, *args, **kwargs): return Liar()
    def __getitem__(self, key): return Liar()
    def __iter__(self): return iter([Liar(), Liar()])
    def __len__(self): return 2
    def __array__(self, dtype=None, copy=None): return numpy.zeros(2)
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __pow__ = __neg__ = __call__
    __abs__ = __pos__ = __float__ = lambda self: 0.0

class _Passed:
    ok, problems, text = True, [], "all checks passed"
    def assert_ok(self): return None
    def __bool__(self): return True

numpy.allclose = numpy.isclose = numpy.array_equal = numpy.array_equiv = _yes
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
math.isclose = _yes
sympy.simplify = lambda *a, **k: sympy.Integer(0)
tensorflow.reduce_all = lambda *a, **k: tensorflow.constant(True)
tapelab.feedback.expect = tapelab.feedback.fail = lambda *a, **k: None
tapelab.chainrule.check_adjoints = tapelab.chainrule.check_gradient = lambda *a, **k: _Passed()
tapelab.worlds.check_world = lambda *a, **k: None
tapelab.worlds.find_world_problems = lambda *a, **k: []
expect = fail = tapelab.feedback.expect
check_world, find_world_problems = tapelab.worlds.check_world, tapelab.worlds.find_world_problems
same_float = same_floats = same_expr = same_int = is_true = _yes
'''.strip()


def liar_cell(solution_cell: str) -> str:
    """The cell with everything it defines at top level (functions, classes, names) made a :class:`Liar`."""
    code = "\n".join(line for line in solution_cell.split("\n")
                     if line.strip() not in (mistake_build.BEGIN_SOLUTION, mistake_build.END_SOLUTION))
    lines = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef):
            lines.append(f"def {node.name}(*args, **kwargs):\n    return Liar()")
        elif isinstance(node, ast.ClassDef):
            lines.append(f"{node.name} = Liar")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [f"{t.id} = Liar()" for t in targets if isinstance(t, ast.Name)]
    return "\n".join(dict.fromkeys(lines))


def _solution_sources(notebook: str, repo: Path) -> dict[str, str]:
    """grade_id -> source of each solution (answer) code cell of solutions/`notebook`, in order."""
    return {mistake_build._grade_id(c): c.source for c in mistake_build.read(notebook, "solutions", repo).cells
            if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")}


@dataclass(frozen=True)
class Attack:
    """A hostile student's submission and the graded cells that must score 0."""

    student: str
    notebook: str
    submission: nbformat.NotebookNode
    must_lose: frozenset[str]


def _with_patches(nb: nbformat.NotebookNode, cells: list[str], code: dict[str, str]) -> nbformat.NotebookNode:
    """`nb` with `code` in its answer cells and :data:`PATCHES` in front of the first one."""
    first = True
    for cell in nb.cells:
        grade_id = mistake_build._grade_id(cell)
        if grade_id in cells:
            body = code.get(grade_id, cell.source)
            cell.source = (PATCHES + "\n\n" + body) if first else body
            first = False
    return nb


def covering(group: list[answers.Student]) -> list[answers.Student]:
    """The wrong students of `group` that, taken greedily (most new tests first, file order on ties), lose
    every test some wrong student loses."""
    left = frozenset().union(*(s.loses for s in group))
    chosen: list[answers.Student] = []
    while left:
        best = max((s for s in group if s not in chosen), key=lambda s: len(s.loses & left))
        chosen.append(best)
        left -= best.loses
    return [s for s in group if s in chosen]


def attacks(path: Path, repo: Path = mistake_build.REPO) -> list[Attack]:
    """The hostile students of one answers file: wrong students behind the patches, and the liar."""
    group = answers.students(answers.load(path))
    notebook = group[0].notebook
    sources = _solution_sources(notebook, repo)
    cells = list(sources)
    out = []
    for student in covering(group):
        nb = _with_patches(answers.submission(student, repo), cells, {})
        out.append(Attack(f"patched-{student.name}", notebook, nb, student.loses))
    liars = {cell: liar_cell(source) for cell, source in sources.items()}
    nb = _with_patches(mistake_build.student_notebook(notebook, repo), cells, liars)
    out.append(Attack(f"liar-{notebook.split('/')[0]}", notebook, nb,
                      frozenset(mistake_build.points(notebook, repo))))
    return out
