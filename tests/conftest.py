"""Shared pytest setup: quiet TensorFlow, repository paths, the `slow` marker, the graded sample class."""

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
