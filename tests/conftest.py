"""Shared pytest setup: quiet TensorFlow, repository paths, the graded sample class, the notebooks run in process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tapelab import environment  # noqa: E402

environment.apply()  # before anything imports TensorFlow

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def graded(repo, tmp_path_factory):
    """(course root, ClassReport): the samples graded once per session, in a copy of the course (the
    repository's gradebook stays untouched), with its limits; the grading and report tests share it."""
    from tapelab.grading.driver import grade_class

    root = tmp_path_factory.mktemp("course")
    shutil.copytree(repo / "solutions", root / "solutions")
    (root / "autograder").mkdir()
    shutil.copy(repo / "autograder" / "nbgrader_config.py", root / "autograder")
    report = grade_class(repo / "autograder" / "samples" / "submissions",
                         config=root / "autograder" / "nbgrader_config.py", workers=2, allow_unsandboxed=True)
    return root, report


@pytest.fixture(scope="session")
def notebook_runs(repo):
    """The solution notebooks run in this process (tests/notebook_runs.py), each once per session;
    afterwards, the process-wide settings they changed are restored."""
    import matplotlib
    import matplotlib.pyplot as plt
    import tensorflow as tf
    from notebook_runs import NotebookRuns

    backend, tf_level = matplotlib.get_backend(), tf.get_logger().level
    yield NotebookRuns(repo)
    plt.close("all")
    tf.get_logger().setLevel(tf_level)
    matplotlib.use(backend)
