"""The red-team cases: each hostile or broken submission and what grading must do with it.

A case turns the correct student notebook into its submission (``edit``), or gives the
raw bytes of a broken file (``raw``). ``score`` is the expected total out of 3 (None:
not gradable), ``messages`` regular expressions that must each match one message of
the grading result (intake, integrity, the sandbox, or the error a graded cell shows).
``@@NAME@@`` placeholders in hostile code are filled in by the test with real paths
(another student's notebook, the course gradebook, the instructor's source notebook).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbformat import NotebookNode, writes

from tapelab.grading.limits import Limits

NOTEBOOK = "tiny.ipynb"
#: tight limits, so the batch takes seconds per case; the per-process CPU backstop stays above the budgets.
#: A cell's 5 s leave the memory bomb time to reach memory_mb first even on a slow machine (at 2 s it did not).
LIMITS = Limits(cpu_seconds_per_cell=5, cpu_seconds_per_notebook=30, memory_mb=1024, process_cpu_s=40, nproc=64,
                fsize_mb=16)
ASSIGNMENT = "redteam"
CORRECT = {"add": "def add(a, b):\n    return a + b",
           "norm": "def norm(v):\n    return math.sqrt(sum(x * x for x in v))",
           "step": "def step(w, g, lr):\n    return [wi - lr * gi for wi, gi in zip(w, g)]"}


def student_version(release: NotebookNode, solved: bool = True) -> NotebookNode:
    """What a student hands in: the release notebook (from nbgrader generate_assignment), answered or not."""
    nb = copy.deepcopy(release)
    if solved:
        for grade_id, code in CORRECT.items():
            _cell(nb, grade_id).source = code
    return nb


def _cell(nb: NotebookNode, grade_id: str) -> NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def solution(grade_id: str, code: str) -> Callable[[NotebookNode], NotebookNode]:
    """An edit that replaces the student's answer `grade_id` by `code`."""
    def edit(nb: NotebookNode) -> NotebookNode:
        _cell(nb, grade_id).source = code
        return nb
    return edit


def prepend(grade_id: str, code: str) -> Callable[[NotebookNode], NotebookNode]:
    """An edit that puts `code` before the correct answer `grade_id`, in the same cell."""
    return solution(grade_id, code + "\n" + CORRECT[grade_id])


@dataclass
class Case:
    name: str
    about: str
    score: float | None
    messages: list[str] = field(default_factory=list)
    edit: Callable[[NotebookNode], NotebookNode] | None = None
    raw: bytes | None = None
    filename: str = NOTEBOOK
    extra: dict[str, bytes] = field(default_factory=dict)
    solved: bool = True
    kernel: bool = True  # False: decided before any kernel starts (intake)
    committed: bool = True  # False: too big to keep in git, made by the test

    def files(self, release: NotebookNode) -> dict[str, bytes]:
        """The submitted files, relative to ``<student>/<assignment>/``."""
        if self.raw is not None:
            data = self.raw
        else:
            nb = student_version(release, self.solved)
            if self.edit is not None:
                nb = self.edit(nb)
            data = writes(nb).encode()
        return {self.filename: data, **self.extra}

    def write(self, folder: Path, release: NotebookNode) -> None:
        for rel, data in self.files(release).items():
            path = folder / ASSIGNMENT / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _reorder(nb: NotebookNode) -> NotebookNode:
    i, j = (nb.cells.index(_cell(nb, g)) for g in ("test_add", "test_norm"))
    nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
    return nb


def _delete(nb: NotebookNode) -> NotebookNode:
    nb.cells.remove(_cell(nb, "test_step"))
    return nb


def _duplicate(nb: NotebookNode) -> NotebookNode:
    nb.cells.append(copy.deepcopy(_cell(nb, "test_add")))
    return nb


def _points(nb: NotebookNode) -> NotebookNode:
    _cell(nb, "test_add").metadata["nbgrader"]["points"] = 100
    return nb


def _edit_test(nb: NotebookNode) -> NotebookNode:
    _cell(nb, "test_norm").source = '"""Does norm return the Euclidean length of a vector?"""\npass'
    nb = solution("norm", "def norm(v):\n    return 0.0")(nb)
    return nb


def _fake_test(nb: NotebookNode) -> NotebookNode:
    fake = copy.deepcopy(_cell(nb, "test_step"))
    fake.source = "pass"
    nb.cells.insert(1, fake)
    return nb


def _unlock(nb: NotebookNode) -> NotebookNode:
    meta = _cell(nb, "test_norm").metadata["nbgrader"]
    meta["grade"] = False
    meta["locked"] = False
    return nb


def _transformer(nb: NotebookNode) -> NotebookNode:
    code = ("ip = get_ipython()\nip.input_transformers_cleanup.append(\n"
            "    lambda lines: [] if any('same_float' in l for l in lines) else lines)\n"
            "def add(a, b):\n    return 0")
    return solution("add", code)(nb)


def _nbformat3() -> bytes:
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                       "worksheets": [{"cells": []}]}).encode()


CASES: list[Case] = [
    Case("correct", "every answer right", 3),
    Case("untouched", "the release notebook handed back unchanged", 0, [r"NotImplementedError"], solved=False),
    # cheating from inside the kernel ------------------------------------------------------------
    Case("eq-always-true", "add returns an object whose __eq__ is always True", 2,
         [r"add\(1\.5, 2\.0\) should be 3\.5"],
         edit=solution("add", "class Yes:\n    def __eq__(self, other):\n        return True\n"
                               "    __float__ = lambda self: 3.5\n\ndef add(a, b):\n    return Yes()")),
    Case("patched-math", "math.sqrt and math.isclose monkey-patched, norm returns nonsense", 2,
         [r"norm\(\[3, 4\]\) should be 5"],
         edit=solution("norm", "import math\nmath.isclose = lambda *a, **k: True\nmath.sqrt = lambda x: 5.0\n"
                                "def norm(v):\n    return -1.0")),
    Case("patched-numpy", "numpy.allclose / isclose patched to always agree, step wrong", 2,
         [r"step is not w - lr \* g"],
         edit=solution("step", "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                "np.isclose = lambda *a, **k: True\nnp.all = lambda *a, **k: True\n"
                                "def step(w, g, lr):\n    return [0.0, 0.0]")),
    Case("redefined-builtins", "abs, float, isinstance, type and round shadowed by liars, add wrong", 2,
         [r"add\(1\.5, 2\.0\) should be 3\.5"],
         edit=solution("add", "abs = lambda x: 0.0\nisinstance = lambda *a: True\nfloat = lambda x=0: 3.5\n"
                               "type = lambda x: float\nround = lambda *a: 3.5\n"
                               "def add(a, b):\n    return 'three and a half'")),
    Case("breaks-kernel", "builtins.isinstance replaced: the kernel itself stops working", 0,
         [r"broke the kernel itself"],
         edit=prepend("add", "import builtins\nbuiltins.isinstance = lambda *a: True")),
    Case("swallowed-exceptions", "a custom IPython exception handler that hides failures", 2,
         [r"add\(1\.5, 2\.0\) should be 3\.5"],
         edit=solution("add", "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
                               "def add(a, b):\n    return 0.0")),
    Case("stack-inspection", "step reads the expected answer from the test's frame", 2,
         [r"step is not w - lr \* g"],
         edit=solution("step", "import inspect\ndef step(w, g, lr):\n"
                                "    for info in inspect.stack():\n"
                                "        for name in ('want', 'expected', 'got'):\n"
                                "            if name in info.frame.f_locals:\n"
                                "                return info.frame.f_locals[name]\n"
                                "    return [0.0, 0.0]")),
    Case("input-transformer", "an IPython input transformer that blanks later test cells", 3,
         [r"review: .*input_transformers"], edit=_transformer),
    # resource exhaustion --------------------------------------------------------------------------
    Case("fork-bomb", "os.fork() in an endless loop before step", 2,
         # contained by whichever limit bites first: the process limit, the cell's CPU budget (the forks'
         # CPU counts), or the memory of all the forks together
         [r"BlockingIOError|Resource temporarily unavailable|stopped answering|s of CPU of its|MB of memory"],
         edit=prepend("step", "import os\nwhile True:\n    os.fork()")),
    Case("memory-bomb", "allocates 1 MB after 1 MB until something gives, before step", 2,
         [r"MemoryError|MB of memory, over its limit of 1024 MB"],
         edit=prepend("step", "hog = []\nwhile True:\n    hog.append(bytearray(1 << 20))")),
    Case("infinite-loop", "a loop that never ends in norm's cell", 2,
         [rf"CellTimeoutError: this cell used [\d.]+ s of CPU of its {LIMITS.cpu_seconds_per_cell:g} s and was interrupted"],
         edit=prepend("norm", "while True:\n    pass")),
    Case("ignores-interrupt", "a CPU loop that swallows KeyboardInterrupt: only the grader's kill stops it", 1,
         [r"kept running past its time limit although it was interrupted"],
         edit=prepend("norm", "while True:\n    try:\n        while True:\n            pass\n"
                              "    except BaseException:\n        pass")),
    Case("os-exit", "os._exit(0) in norm's cell kills the kernel", 1, [r"kernel exited with status 0"],
         edit=prepend("norm", "import os\nos._exit(0)")),
    Case("sys-exit", "sys.exit() before add", 2, [r"SystemExit"], edit=prepend("add", "import sys\nsys.exit(3)")),
    Case("kill-parent", "SIGKILL to the parent process, the process group's parent and init", 3, [],
         edit=prepend("add", "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n"
                             "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass")),
    Case("print-gigabytes", "prints 1 MB lines forever", 2, [r"output truncated|CellTimeoutError"],
         edit=prepend("add", "line = 'x' * (1 << 20)\nwhile True:\n    print(line)")),
    Case("big-file", "writes a file larger than the file-size limit", 2, [r"File too large|SIGXFSZ|file larger"],
         edit=prepend("add", "import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                             "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(bytes(1 << 20))")),
    # escaping the sandbox -------------------------------------------------------------------------
    Case("write-outside", "overwrites another student's notebook, the gradebook and the source", 2,
         [r"ESCAPE-BLOCKED all 5 writes"],
         edit=prepend("add", "blocked = 0\nfor p in ['@@OTHER@@', '@@GRADEBOOK@@', '@@SOURCE@@', '/usr/x', '/etc/x']:\n"
                             "    try:\n        open(p, 'w').write('pwned')\n"
                             "    except OSError:\n        blocked += 1\n"
                             "assert blocked == 5, 'ESCAPE-BLOCKED %d of 5' % blocked\n"
                             "raise RuntimeError('ESCAPE-BLOCKED all 5 writes')")),
    Case("read-gradebook", "looks for the gradebook, the source notebook and other students", 2,
         [r"NOTHING-FOUND"],
         edit=prepend("add", "import glob, os\nseen = [p for p in ['@@OTHER@@', '@@GRADEBOOK@@', '@@SOURCE@@']\n"
                             "        if os.path.exists(p)]\n"
                             "seen += glob.glob('/tmp/**/*.db', recursive=True) + glob.glob('/work/**/*.db', recursive=True)\n"
                             "seen += glob.glob('/root/*') + glob.glob('/home/*')\n"
                             "raise RuntimeError('NOTHING-FOUND' if not seen else 'FOUND %s' % seen)")),
    Case("open-socket", "connects to the internet and to a port on the grader's localhost", 2,
         [r"NO-NETWORK"],
         edit=prepend("add", "import socket\nreached = []\nfor host in [('1.1.1.1', 80), ('127.0.0.1', 22), ('10.0.0.1', 80)]:\n"
                             "    try:\n        socket.create_connection(host, timeout=2).close()\n"
                             "        reached.append(host)\n    except OSError:\n        pass\n"
                             "raise RuntimeError('NO-NETWORK' if not reached else 'REACHED %s' % reached)")),
    # tampering with the notebook ------------------------------------------------------------------
    Case("deleted-test", "the test cell of step removed", 2, [r"test_step.*(missing|deleted)"], edit=_delete),
    Case("edited-test", "the test of norm replaced by pass, norm wrong", 2, [r"test_norm.*(changed|edited)"],
         edit=_edit_test),
    Case("reordered-tests", "two test cells swapped: test_norm now runs before norm exists", 2,
         [r"different order", r"NameError: name 'norm' is not defined"], edit=_reorder),
    Case("duplicated-test", "the test cell of add copied to the end", 3, [r"test_add.*(twice|duplicate)"],
         edit=_duplicate),
    Case("changed-points", "test_add claims 100 points", 3, [r"test_add.*points"], edit=_points),
    Case("fake-test-cell", "a new cell carrying the grade_id of test_step, first in the notebook", 3,
         [r"test_step.*(twice|duplicate)"], edit=_fake_test),
    Case("unlocked-test", "test_norm's metadata changed to an ungraded, unlocked cell", 3,
         [r"test_norm.*metadata"], edit=_unlock),
    # broken input ---------------------------------------------------------------------------------
    Case("invalid-json", "a notebook cut off in the middle", None, [r"not valid JSON"],
         raw=b'{"cells": [{"cell_type": "code", "source": "def add(a, b):', kernel=False),
    Case("empty-file", "a file of zero bytes", None, [r"is empty"], raw=b"", kernel=False),
    Case("nbformat-3", "a notebook in the old format version 3", None, [r"format version 3"],
         raw=_nbformat3(), kernel=False),
    Case("not-utf8", "a notebook saved in Latin-1", None, [r"not UTF-8"],
         raw='{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "caf\u00e9"}'.encode("latin-1"),
         kernel=False),
    Case("huge-output", "100 MB of output saved in the notebook", None, [r"MB.*limit"], kernel=False,
         committed=False,
         edit=lambda nb: _huge(nb)),
    Case("wrong-name", "the notebook renamed", None, [r"expected tiny\.ipynb"], filename="Tiny (1).ipynb",
         kernel=False),
    Case("extra-files", "the notebook plus files nobody asked for", 3, [r"extra file.*notes\.txt"],
         extra={"notes.txt": b"hello", "data/big.csv": b"1,2,3\n"}),
]


def _huge(nb: NotebookNode) -> NotebookNode:
    from nbformat.v4 import new_output

    _cell(nb, "add").outputs = [new_output("stream", name="stdout", text="x" * (100 << 20))]
    return nb


BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES)
assert all(re.compile(m) for c in CASES for m in c.messages)
