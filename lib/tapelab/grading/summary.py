"""The grade table an instructor reads after grading: student x assignment."""

from __future__ import annotations

from tapelab.grading.jobs import GRADED, JobResult

#: longest reason shown in a cell of the table.
REASON_WIDTH = 30  # five assignments side by side still fit a wide terminal


def _points(value: float) -> str:
    return f"{value:g}"


def cell(result: JobResult | None) -> str:
    """'7/10', or '0/10 (why)' when the notebook was not graded or the grader stopped a cell."""
    if result is None:
        return "-"
    text = f"{_points(result.score)}/{_points(result.max_score)}"
    why = result.reason
    if why and (result.status != GRADED or result.stops):
        short = why if len(why) <= REASON_WIDTH else why[: REASON_WIDTH - 1] + "…"
        text += f" ({short})"
    return text


def table(results: dict[tuple[str, str], JobResult]) -> str:
    """A plain-text table: one row per student, one column per assignment, a total column."""
    students = sorted({s for s, _ in results})
    assignments = sorted({a for _, a in results})
    header = ["student", *assignments, "total"]
    rows = [header]
    for student in students:
        mine = [results.get((student, a)) for a in assignments]
        score = sum(r.score for r in mine if r)
        best = sum(r.max_score for r in mine if r)
        rows.append([student, *(cell(r) for r in mine), f"{_points(score)}/{_points(best)}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
