"""Tests for tapelab.grading.intake: one clear message per broken input, originals untouched."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tapelab.grading import intake


def _good(path: Path) -> Path:
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), path)
    return path


@pytest.mark.parametrize("data, message", [
    (b"", "tiny.ipynb is empty (0 bytes): the upload failed or the notebook was never saved"),
    (b'{"cells": [', "tiny.ipynb is not valid JSON (line 1, column 12: Expecting value): the file was cut off or "
                     "edited outside Jupyter; download it again from Jupyter (File > Download)"),
    ('{"x": "caf\u00e9"}'.encode("latin-1"), "tiny.ipynb is not UTF-8 text (byte 10): it was saved with another "
                                             "encoding or is not a notebook; save it from Jupyter again"),
    (b'{"cells": []}', "tiny.ipynb is JSON but not a notebook (no 'nbformat' field)"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}).encode(),
     "tiny.ipynb is in notebook format version 3; expected version 4: open and save it with a current JupyterLab "
     "or Notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode(), "tiny.ipynb has no cells"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "rocket"}]}).encode(),
     None),
])
def test_each_broken_notebook_gets_its_message(tmp_path, data, message):
    """Does every kind of broken notebook file get its own message, naming the file?"""
    path = tmp_path / "tiny.ipynb"
    path.write_bytes(data)
    got = intake.inspect_notebook(path)
    if message is None:
        assert got is not None and got.startswith("tiny.ipynb is not a valid version-4 notebook: ")
    else:
        assert got == message
    assert path.read_bytes() == data


def test_good_notebook_passes(tmp_path):
    """Is a plain valid notebook accepted?"""
    assert intake.inspect_notebook(_good(tmp_path / "tiny.ipynb")) is None


def test_huge_outputs_are_refused_with_the_limit(tmp_path):
    """Is a notebook carrying 100 MB of saved output refused, with its size, the limit and the fix?"""
    nb = new_notebook(cells=[new_code_cell("print('x')", outputs=[new_output("stream", text="x" * (100 << 20))])])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    assert intake.inspect_notebook(path) == (
        "tiny.ipynb is 100 MB, above the limit of 20 MB: it most likely holds huge saved outputs; clear them "
        "(Kernel > Restart Kernel and Clear Outputs) and save")


def test_wrong_name_and_extra_files(tmp_path):
    """Are a renamed notebook and files nobody asked for reported, and nothing graded under a guessed name?"""
    _good(tmp_path / "Tiny (1).ipynb")
    (tmp_path / "notes.txt").write_text("hi")
    found = intake.inspect_submission(tmp_path, ["tiny.ipynb"])
    assert found.gradable == []
    assert found.problems == [
        "expected tiny.ipynb, but it is not in the submission; found Tiny (1).ipynb: rename it to tiny.ipynb",
        "extra files ignored (only tiny.ipynb is graded): Tiny (1).ipynb, notes.txt"]


def test_expected_name_check(tmp_path):
    """Does inspect_notebook with an expected name say which name the grader looks for?"""
    path = _good(tmp_path / "Tiny.ipynb")
    assert intake.inspect_notebook(path, "tiny.ipynb") == (
        "Tiny.ipynb: expected tiny.ipynb; the grader only looks for that name, so rename the notebook back to it "
        "(downloads often add ' (1)' or change the case)")


def test_gradable_submission(tmp_path):
    """Is a submission with exactly the expected notebook gradable with no problems?"""
    _good(tmp_path / "tiny.ipynb")
    found = intake.inspect_submission(tmp_path, ["tiny.ipynb"])
    assert found.gradable == [tmp_path / "tiny.ipynb"] and found.problems == []


def test_safe_extract_skips_links_and_traversal(tmp_path):
    """Are '../' members, absolute names and symlinks skipped, each with a message, and the rest extracted?"""
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bob/redteam/tiny.ipynb", "{}")
        zf.writestr("bob/../../../outside.txt", "x")
        link = zipfile.ZipInfo("bob/link")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    dest = tmp_path / "out"
    assert intake.safe_extract(archive, dest) == [
        "class.zip: skipped 'bob/../../../outside.txt', a path that leaves the submission folder",
        "class.zip: skipped 'bob/link', a link or special file"]
    assert intake.fingerprint(dest) == {"bob/redteam/tiny.ipynb": intake.fingerprint(dest)["bob/redteam/tiny.ipynb"]}
    assert not (tmp_path / "outside.txt").exists()


def test_safe_extract_refuses_a_zip_bomb(tmp_path, monkeypatch):
    """Is an archive that would extract beyond the size limit refused whole?"""
    monkeypatch.setattr(intake, "MAX_ZIP_MB", 1)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", "0" * (3 << 20))
    assert intake.safe_extract(archive, tmp_path / "out") == [
        "bomb.zip holds 1 files and 3 MB once extracted, above the limits of 10000 files and 1 MB; "
        "nothing was extracted"]
    assert not any((tmp_path / "out").iterdir())


def test_safe_extract_not_a_zip(tmp_path):
    """Is a file that is not a zip reported instead of crashing?"""
    bad = tmp_path / "upload.zip"
    bad.write_bytes(b"not a zip")
    assert intake.safe_extract(bad, tmp_path / "out") == ["upload.zip is not a readable zip file (File is not a zip file)"]
