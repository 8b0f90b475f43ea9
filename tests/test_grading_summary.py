"""The grade table and the result cache (no grading runs here)."""

from __future__ import annotations

from dataclasses import replace

from tapelab.grading import cache, summary
from tapelab.grading.jobs import FAILED, GRADED, NOT_GRADABLE, CellScore, JobResult, stop_message
from tapelab.grading.limits import cpu_stop


def _result(student, assignment, score, best, status=GRADED, messages=(), key="k", stops=()):
    return JobResult(student=student, assignment=assignment, status=status, score=score, max_score=best,
                     cells=[CellScore("nb", "t", score, best)], messages=list(messages), key=key, stops=list(stops))


def test_table_rows_columns_and_reasons():
    """Does the table show points/max per assignment, totals, '-' where nothing was submitted, and short reasons?"""
    stop = replace(cpu_stop("test_x", 60.04, 60), notebook="nb")
    assert stop_message(stop) == "nb: test_x used 60 s of CPU of its 60 s"
    results = {
        ("s1", "a1"): _result("s1", "a1", 3, 4),
        ("s1", "a2"): _result("s1", "a2", 0, 5, NOT_GRADABLE, ["a2.ipynb is not valid JSON"]),
        ("s2", "a1"): _result("s2", "a1", 2.5, 4, GRADED, ["nb: test_x used 60 s of CPU of its 60 s"], stops=[stop]),
    }
    lines = summary.table(results).splitlines()
    assert lines[0].split() == ["student", "a1", "a2", "total"]
    assert lines[2].split()[:2] == ["s1", "3/4"] and lines[2].endswith("3/9")
    assert "0/5 (a2.ipynb is not valid JSON)" in lines[2]
    long = "nb: test_x used 60 s of CPU of its 60 s"  # longer than a cell's reason: cut
    assert f"2.5/4 ({long[:summary.REASON_WIDTH - 1]}…)" in lines[3]
    assert lines[3].split()[-2:] == ["-", "2.5/4"]


def test_long_reasons_are_shortened():
    """Is a reason longer than the column limit cut with an ellipsis?"""
    text = summary.cell(_result("s", "a", 0, 1, FAILED, ["x" * 100]))
    assert text == "0/1 (" + "x" * (summary.REASON_WIDTH - 1) + "…)"
    assert summary.cell(None) == "-"
    assert summary.cell(_result("s", "a", 1, 1, GRADED, ["extra files ignored: notes.txt"])) == "1/1"


def test_cache_keeps_results_but_not_failures(tmp_path):
    """Does the cache return a saved result by key, refuse failed jobs, and ignore a corrupt file?"""
    good = _result("s", "a", 1, 2, key="abc")
    assert cache.save(tmp_path, good) and cache.load(tmp_path, "abc") == good
    assert not cache.save(tmp_path, _result("s", "a", 0, 2, FAILED, key="def"))
    assert cache.load(tmp_path, "def") is None
    cache.path_of(tmp_path, "bad").write_bytes(b"not a pickle")
    assert cache.load(tmp_path, "bad") is None
