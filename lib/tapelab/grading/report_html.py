"""The class report as one self-contained HTML page: inline CSS, plots as PNG data URIs, no scripts.

:func:`render` takes the :class:`~tapelab.grading.report.CourseReport` that
:mod:`tapelab.grading.report` gathers and returns the page; it opens offline, from a
file or a mail attachment. Links to the students' feedback pages are relative, so the
page works where ``autograder/`` is copied whole.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

from tapelab.grading import similarity
from tapelab.grading.report import AssignmentReport, CourseReport, Link

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1b1f24; }
h1 { margin-bottom: .2em; } h2 { border-top: 2px solid #d0d7de; padding-top: .8em; margin-top: 2em; }
h3 { margin: 1.4em 0 .4em; font-size: 1.05em; }
table { border-collapse: collapse; margin: .3em 0 1em; } th, td { padding: .25em .6em; text-align: left;
  vertical-align: top; border-bottom: 1px solid #e6e8eb; } th { background: #f4f6f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { background: #e6e8eb; width: 10em; height: .8em; display: inline-block; vertical-align: middle; }
.bar > span { background: #2f7d4f; height: 100%; display: block; } .low > span { background: #c2410c; }
.muted { color: #57606a; } .none { color: #57606a; font-style: italic; } code { font-size: .92em; }
.pair { margin: 1em 0 1.6em; } .side { display: grid; grid-template-columns: 1fr 1fr; gap: .6em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: .82em; margin: 0; white-space: pre-wrap; }
mark { background: #fde68a; } nav a { margin-right: 1em; } .rule { background: #f6f8fa; padding: .6em 1em; }
"""


def _n(x: float) -> str:
    return f"{round(x, 2):g}"


def histogram_png(scores: list[float], max_score: float) -> bytes:
    """A histogram of `scores` (0..`max_score` points) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = max(max_score, max(scores, default=0.0), 1.0)
    edges = np.arange(0, np.floor(top) + 2) - 0.5 if top <= 40 else np.linspace(0, top, 21)
    fig, ax = plt.subplots(figsize=(6, 2.4), dpi=100)
    ax.hist(scores, bins=edges, color="#2f7d4f", edgecolor="white")
    ax.set_xlabel(f"points (of {_n(max_score)})")
    ax.set_ylabel("students")
    ax.set_xlim(edges[0], edges[-1])
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def anchor(assignment: str) -> str:
    """The id of an assignment's section (an id that is also a CSS selector)."""
    return "a-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in assignment)


def _link(link: Link) -> str:
    name = escape(link.student)
    return f'<a href="{escape(link.href)}">{name}</a>' if link.href else name


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _none(text: str) -> str:
    return f'<p class="none">{escape(text)}</p>'


def _bar(rate: float) -> str:
    low = " low" if rate < 0.5 else ""
    return (f'<span style="white-space:nowrap"><span class="bar{low}"><span style="width:{100 * rate:.0f}%">'
            f"</span></span> {100 * rate:.0f}%</span>")


def _code(code: str, spans: similarity.Slices) -> str:
    from copydetect.utils import highlight_overlap

    if not spans:
        return f"<pre>{escape(code)}</pre>"
    slices = np.array([[s for s, _ in spans], [e for _, e in spans]])
    marked, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return f"<pre>{marked}</pre>"


def _pairs(a: AssignmentReport) -> str:
    if not a.pairs:
        return _none("No pair of similar submissions.")
    parts = []
    for p in a.pairs:
        what = ("identical notebooks" if p.identical else
                f"{100 * p.similarity:.0f}% of one student's own code in common ({p.shared} characters)")
        cells = "".join(f"<h4><code>{escape(m.notebook)}</code> · answer cell <code>{escape(m.grade_id)}</code></h4>"
                        f'<div class="side"><div><b>{escape(p.a)}</b>{_code(m.left, m.left_spans)}</div>'
                        f"<div><b>{escape(p.b)}</b>{_code(m.right, m.right_spans)}</div></div>" for m in p.cells)
        parts.append(f'<div class="pair"><h3>{escape(p.a)} and {escape(p.b)}: {escape(what)}</h3>{cells}</div>')
    return "".join(parts)


def _assignment(a: AssignmentReport) -> str:
    n = len(a.scores)
    mean = f"{_n(sum(a.scores) / n)}" if n else "–"
    median = f"{_n(float(np.median(a.scores)))}" if n else "–"
    due = f" Due {a.duedate:%Y-%m-%d %H:%M} UTC; {a.late} late (−{_n(a.penalty)} points in all)." if a.duedate else ""
    out = [f'<h2 id="{anchor(a.name)}">{escape(a.name)}</h2>',
           f"<p>{n} submission(s); mean {mean}, median {median} of {_n(a.max_score)} points.{escape(due)}</p>"]
    if n:
        out.append(_img(histogram_png(a.scores, a.max_score), f"histogram of the scores of {a.name}"))
    out.append("<h3>Tests: points earned over points available</h3>")
    out.append(_table(["test", "what it checks", "points", "pass rate", "earned / available"],
                      [[f"<code>{escape(t.grade_id)}</code>", escape(t.question), _n(t.points), _bar(t.rate),
                        f"{_n(t.earned)} / {_n(t.available)}"] for t in a.tests], {2, 4})
               if a.tests else _none("No graded test cells."))
    out.append("<h3>Named mistakes</h3>")
    out.append(_table(["mistake", "", "students", "tests", "feedback"],
                      [[f"<code>[{escape(m.code)}]</code>", escape(m.name), str(len(m.students)),
                        ", ".join(f"<code>{escape(t)}</code>" for t in m.tests),
                        ", ".join(_link(s) for s in m.students)] for m in a.mistakes], {2})
               if a.mistakes else _none("No named mistake in the failed tests."))
    out.append("<h3>Stopped cells</h3>")
    out.append(_table(["student", "notebook", "cell", "stopped for", "what happened"],
                      [[_link(s.link), escape(s.notebook), f"<code>{escape(s.cell)}</code>", escape(s.kind),
                        escape(s.summary)] for s in a.stops]) if a.stops else _none("No cell was stopped."))
    out.append("<h3>Not graded</h3>")
    out.append(_table(["student", "status", "reason"], [[escape(u.student), escape(u.status), escape(u.reason)]
                                                         for u in a.ungraded])
               if a.ungraded else _none("Every submission was graded."))
    t = a.timing
    out.append("<h3>Grading time</h3>")
    out.append(_table(["jobs timed", "per notebook p50", "per notebook p95", "core-hours"],
                      [[str(t.jobs), f"{t.p50:.1f} s", f"{t.p95:.1f} s", f"{t.core_hours:.3f}"]], {0, 1, 2, 3}))
    if a.without_findings:
        out.append(f'<p class="muted">{a.without_findings} submission(s) in the gradebook were not graded by the '
                   "kit's grader: their scores count above, their messages and times are unknown.</p>")
    out.append(f"<h3>No submission ({len(a.missing)})</h3>")
    out.append(f"<p>{', '.join(escape(s) for s in a.missing)}</p>" if a.missing else _none("Everyone submitted."))
    out.append("<h3>Similar submissions</h3>")
    out.append(_pairs(a))
    return "\n".join(out)


def _rule(settings: similarity.Settings) -> str:
    return ("<p class=\"rule\">Similar submissions are listed when two students' notebooks are byte-identical "
            "(and hold an answer), or when the code they wrote themselves in the answer cells overlaps: cells are "
            "compared with copydetect's fingerprints of the tokenized code (renaming hides nothing), leaving out "
            "the starter code, the instructor's solution and fingerprints more than "
            f"{settings.common} students share; a pair is listed when it shares at least {settings.min_shared} "
            f"characters of such code and that is at least {100 * settings.threshold:.0f}% of either student's "
            "own code. Two students who both write the solution are not listed. A listing is a reason to look "
            "at both notebooks, not a finding.</p>")


def render(report: CourseReport) -> str:
    """The HTML page of `report`."""
    files = " · ".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in report.files.items())
    nav = "".join(f'<a href="#{anchor(a.name)}">{escape(a.name)}</a>' for a in report.assignments)
    body = "\n".join(_assignment(a) for a in report.assignments) or _none("The gradebook has no assignment yet.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report: {escape(report.course_id)}</title><style>{CSS}</style></head>
<body>
<h1>Class report: {escape(report.course_id)}</h1>
<p class="muted">{report.students} students in the gradebook, {len(report.assignments)} assignment(s);
grading took {report.core_hours:.3f} core-hours. Generated {report.generated:%Y-%m-%d %H:%M} UTC from the gradebook.
{("Grades: " + files) if files else ""}</p>
<nav>{nav}</nav>
{body}
<h2>How similar submissions are found</h2>
{_rule(report.settings)}
</body></html>
"""
