"""Tests for tapelab.grading.schema: new gradebooks are stamped as nbgrader stamps them, without a child process."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import nbgrader.api
from nbgrader.dbutil import write_alembic_ini

from tapelab import environment
from tapelab.grading import schema


def _tables(path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return dict(rows)


def _no_child(*args, **kwargs):
    raise AssertionError(f"nbgrader started a child process: {args}")


def test_alembic_head_is_what_alembic_heads_prints(tmp_path):
    """Is the revision read in-process the one nbgrader's `alembic heads` child process reports?"""
    ini = tmp_path / "alembic.ini"
    write_alembic_ini(str(ini), f"sqlite:///{tmp_path / 'gradebook.db'}")
    env = environment.apply(dict(os.environ))
    printed = subprocess.run(["alembic", "-c", str(ini), "heads"], capture_output=True, text=True, env=env,
                             check=True).stdout
    assert printed.split()[:2] == [schema.alembic_head(), "(head)"]


def test_new_gradebook_is_stamped_without_a_child_process(tmp_path, monkeypatch):
    """After create_gradebook(), does nbgrader open the gradebook, with the head revision, starting no process?"""
    path = tmp_path / "gradebook.db"
    assert schema.create_gradebook(path)
    monkeypatch.setattr(subprocess, "check_output", _no_child)
    with nbgrader.api.Gradebook(f"sqlite:///{path}") as gb:
        gb.add_student("ada")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.alembic_head(),)]
        assert db.execute("SELECT id FROM student").fetchall() == [("ada",)]


def test_the_gradebook_is_the_one_nbgrader_makes(tmp_path, monkeypatch):
    """Does a gradebook stamped here have exactly the tables (and revision) of one nbgrader makes itself?"""
    monkeypatch.setenv("PATH", environment.scripts_first(os.environ.get("PATH")))
    theirs, ours = tmp_path / "theirs.db", tmp_path / "ours.db"
    with nbgrader.api.Gradebook(f"sqlite:///{theirs}"):
        pass
    schema.create_gradebook(ours)
    with nbgrader.api.Gradebook(f"sqlite:///{ours}"):
        pass
    assert _tables(ours) == _tables(theirs)
    for path in (theirs, ours):
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.alembic_head(),)]


def test_an_existing_gradebook_is_left_alone(tmp_path):
    """Does create_gradebook leave a gradebook that exists (a job's template) as it is?"""
    path = tmp_path / "gradebook.db"
    path.write_bytes(b"a gradebook")
    assert not schema.create_gradebook(path)
    assert path.read_bytes() == b"a gradebook"


def test_unreadable_revision_leaves_nbgrader_its_own_way(tmp_path, monkeypatch):
    """When the revision cannot be read in-process, does create_gradebook create nothing (nbgrader stamps it)?"""
    def broken() -> str:
        raise RuntimeError("no migrations here")

    monkeypatch.setattr(schema, "alembic_head", broken)
    assert not schema.create_gradebook(tmp_path / "gradebook.db")
    assert not (tmp_path / "gradebook.db").exists()
