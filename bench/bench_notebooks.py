"""Each solution notebook run top to bottom, as nbval and the browser test run it.

``notebook_seconds`` maps each solution notebook to its wall-clock seconds in a
fresh kernel (goal: at most 60 s each on 2 cores). The floor every notebook
pays is ``kernel_start_tf_seconds``: starting a kernel and importing TensorFlow
in it, measured in the same run.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> float:
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return time.perf_counter() - start


def run() -> dict:
    floor = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import tensorflow as tf")])
    figures: dict[str, object] = {"kernel_start_tf_seconds": round(_execute(floor, REPO), 2)}
    seconds = {}
    for path in sorted(REPO.glob("solutions/*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        seconds[path.parent.name] = round(_execute(nb, path.parent), 1)
    figures["notebook_seconds"] = seconds
    figures["notebook_seconds_max"] = max(seconds.values()) if seconds else 0.0
    return figures
