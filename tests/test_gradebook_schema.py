"""Tests for tapelab.grading.schema: new gradebooks are stamped as nbgrader stamps them, without a child process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbgrader.api
from nbgrader.dbutil import write_alembic_ini

from tapelab.grading import schema


def test_alembic_head_is_what_alembic_heads_prints(tmp_path):
    """Is the revision read in-process the one nbgrader's `alembic heads` child process reports?"""
    ini = tmp_path / "alembic.ini"
    write_alembic_ini(str(ini), f"sqlite:///{tmp_path / 'gradebook.db'}")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    printed = subprocess.run(["alembic", "-c", str(ini), "heads"], capture_output=True, text=True, env=env,
                             check=True).stdout
    assert printed.split()[:2] == [schema.alembic_head(), "(head)"]


def test_new_gradebook_is_stamped_without_a_child_process(tmp_path, monkeypatch):
    """After install(), does creating a gradebook stamp the head revision and start no `alembic` process?"""
    schema.install()

    def no_child(*args, **kwargs):
        raise AssertionError(f"nbgrader started a child process: {args}")

    monkeypatch.setattr(nbgrader.api.sp, "check_output", no_child)
    path = tmp_path / "gradebook.db"
    with nbgrader.api.Gradebook(f"sqlite:///{path}") as gb:
        gb.add_student("ada")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.alembic_head(),)]


def test_unreadable_revision_leaves_nbgrader_its_own_way(monkeypatch):
    """When the revision cannot be read in-process, does install() leave nbgrader's `alembic heads` in place?"""
    def broken() -> str:
        raise RuntimeError("no migrations here")

    monkeypatch.setattr(schema, "alembic_head", broken)
    monkeypatch.setattr(nbgrader.api, "get_alembic_version", "nbgrader's own")
    assert schema.install() is None
    assert nbgrader.api.get_alembic_version == "nbgrader's own"
