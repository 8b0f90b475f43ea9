"""Drive one notebook in JupyterLab through Playwright, the way a student does.

Commands go through JupyterLab's own menus and keyboard; waiting is on JupyterLab's state
(the kernel connected and idle, execution counts filled, no cell queued or running), never on a
fixed sleep. What the student sees is read from the page (rendered headings, <img> plots,
progress-bar widgets, error text); which cell is an exercise and what each cell raised is
read from the notebook model JupyterLab holds (nbgrader metadata, error outputs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .server import LabServer

# Installed in every page: small read-only views of JupyterLab's state, by notebook path.
HELPERS_JS = r"""
window.__tapelab = {
  panel(path) {
    const app = window.jupyterapp;
    if (!app) return null;
    for (const w of app.shell.widgets('main')) {
      if (w.context && w.context.path === path && w.content && w.content.model) return w;
    }
    return null;
  },
  ready(path) {
    const w = this.panel(path);
    const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!(w && w.context.isReady && w.sessionContext.isReady && k
              && k.connectionStatus === 'connected' && k.status === 'idle');
  },
  pending(path) {
    // the model, not the page: a windowed notebook keeps cells out of view out of the DOM,
    // so a queued cell far below would not show its [*] prompt there
    const cells = this.panel(path).content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type === 'code' && c.executionState === 'running') return true;
    }
    return false;
  },
  watch(path, index) {
    // remember when cell `index` starts running: a run whose first cell the kernel aborts
    // (an error still being handled when the run was sent) ends without an execution count
    const cell = this.panel(path).content.model.cells.get(index);
    const mark = { started: false };
    cell.stateChanged.connect((_, change) => {
      if (change.name === 'executionState' && change.newValue === 'running') mark.started = true;
    });
    this.marks = this.marks || {};
    this.marks[path + '#' + index] = mark;
  },
  settled(path, index, after) {
    const w = this.panel(path);
    const count = w.content.model.cells.get(index).executionCount;
    const mark = (this.marks || {})[path + '#' + index];
    const started = (count !== null && count > after) || !!(mark && mark.started);
    return this.ready(path) && started && !this.pending(path);
  },
  counts(path) {
    // [type, execution count] of every cell: what deciding where a run starts needs, without the outputs
    const cells = this.panel(path).content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      out.push([c.type, c.type === 'code' ? (c.executionCount ?? null) : null]);
    }
    return out;
  },
  cells(path) {
    const w = this.panel(path);
    const cells = w.content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
      const j = cells.get(i).toJSON();
      out.push({
        type: j.cell_type,
        source: Array.isArray(j.source) ? j.source.join('') : j.source,
        nbgrader: (j.metadata && j.metadata.nbgrader) || null,
        count: j.execution_count === undefined ? null : j.execution_count,
        outputs: (j.outputs || []).map(o => ({
          type: o.output_type,
          ename: o.ename ?? null,
          evalue: o.evalue ?? null,
          traceback: (o.traceback || []).join('\n'),
          mimes: Object.keys(o.data || {}),
          name: o.name || null,
          text: Array.isArray(o.text) ? o.text.join('') : (o.text || ''),
        })),
      });
    }
    return out;
  },
  seen(path) {
    const w = this.panel(path);
    return w.content.widgets.map(cell => {
      const n = cell.node;
      const outs = Array.from(n.querySelectorAll('.jp-OutputArea-output'));
      return {
        headings: n.querySelectorAll('.jp-RenderedMarkdown h1, .jp-RenderedMarkdown h2, .jp-RenderedMarkdown h3').length,
        outputText: outs.map(o => o.textContent).join('\n'),
        images: outs.flatMap(o => Array.from(o.querySelectorAll('img')).map(i => i.complete && i.naturalWidth > 0)),
        progressBars: outs.reduce((s, o) => s + o.querySelectorAll('.widget-hprogress, .widget-vprogress').length, 0),
        widgets: outs.reduce((s, o) => s + o.querySelectorAll('.jupyter-widgets').length, 0),
      };
    });
  },
};
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Output:
    """One output of a cell, as the notebook model holds it after the browser ran the cell."""

    type: str
    ename: str | None
    evalue: str | None
    traceback: str
    mimes: list[str]
    name: str | None
    text: str


@dataclass
class Cell:
    """One cell: the model's view (type, source, nbgrader metadata, count, outputs) and what the page shows."""

    index: int
    type: str
    source: str
    nbgrader: dict | None
    count: int | None
    outputs: list[Output]
    headings: int = 0
    output_text: str = ""
    images: list[bool] = field(default_factory=list)
    progress_bars: int = 0
    widgets: int = 0

    @property
    def is_exercise(self) -> bool:
        """A code cell the student writes (nbgrader solution cell)."""
        return self.type == "code" and bool((self.nbgrader or {}).get("solution"))

    @property
    def is_test(self) -> bool:
        """A code cell that grades (nbgrader grade cell)."""
        return self.type == "code" and bool((self.nbgrader or {}).get("grade"))

    @property
    def errors(self) -> list[Output]:
        return [o for o in self.outputs if o.type == "error"]

    def failures(self) -> list[str]:
        """Each error of the cell as "cell i failed: Name: message"."""
        return [f"cell {self.index} failed: {e.ename}" + (f": {e.evalue}" if e.evalue else "") for e in self.errors]


class LabNotebook:
    """One notebook open in JupyterLab in `page`, served by `server` at `path` (relative to its root)."""

    def __init__(self, page: Page, server: LabServer, path: str, timeout_s: float = 240):
        self.page, self.server, self.path = page, server, path
        self.timeout_ms = timeout_s * 1000

    # -- opening and closing -------------------------------------------------------------
    def open(self) -> "LabNotebook":
        """Open the notebook; return once its kernel is connected and idle.

        The first notebook opens by its address (JupyterLab loads); later ones open in the
        same JupyterLab, as a double click in the file browser would.
        """
        loaded = self.page.url.startswith(self.server.url) and self.page.evaluate("() => !!window.jupyterapp")
        if loaded:
            if self.page.locator(".jp-Dialog").count():  # left open by an earlier failure
                self.page.keyboard.press("Escape")
            self.page.evaluate(
                "async p => { await window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", self.path
            )
        else:
            self.page.goto(self.server.lab_url(self.path))
        try:
            self.page.wait_for_function(
                "p => window.__tapelab && window.__tapelab.ready(p)", arg=self.path, timeout=self.timeout_ms
            )
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{self.path}: JupyterLab did not open the notebook with a connected, idle kernel within "
                f"{self.timeout_ms / 1000:.0f} s{self._dialog_text()}.\nServer log:\n{self.server.log_tail()}"
            ) from None
        return self

    def close(self) -> None:
        """Close the notebook's tab without saving, and shut its kernel down in the background."""
        session = self.page.evaluate(
            """p => { const w = window.__tapelab.panel(p); if (!w) return null;
                      const s = w.sessionContext.session; w.dispose(); return s ? s.id : null; }""",
            self.path,
        )
        if session:
            self.server.delete_session(session)

    # -- running ---------------------------------------------------------------------------
    def menu(self, menu: str, item: str) -> None:
        """Click `menu` in the menu bar, then its item labelled `item` (as a student does)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
        label = self.page.locator(".lm-MenuBar-menu .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
        label.click()

    def clear_outputs(self) -> None:
        """Edit > Clear Outputs of All Cells (solution notebooks are stored with outputs)."""
        self.menu("Edit", "Clear Outputs of All Cells")
        self.page.wait_for_function(
            "p => window.__tapelab.cells(p).every(c => c.type !== 'code' || (c.count === null && c.outputs.length === 0))",
            arg=self.path,
            timeout=self.timeout_ms,
        )

    def run_all(self) -> None:
        """Run > Run All Cells; return when the run has ended (finished, or stopped at an error)."""
        self._run(self._first_code_index(0), lambda: self.menu("Run", "Run All Cells"))

    def run_from(self, index: int) -> None:
        """Select cell `index`, then Run > Run Selected Cell and All Below; return when it has ended."""
        # Select the cell as a click on its prompt does: active, command mode, and the DOM focus in
        # it. With the focus left in another cell, JupyterLab would make that one active again
        # when the menu hands the focus back, and the run would start there.
        selected = self.page.evaluate(
            """async ([p, i]) => { const nb = window.__tapelab.panel(p).content;
                                   await nb.scrollToItem(i);
                                   nb.mode = 'command'; nb.activeCellIndex = i; nb.deselectAll();
                                   nb.activeCell.node.focus();
                                   return nb.activeCellIndex; }""",
            [self.path, index],
        )
        assert selected == index, f"{self.path}: cell {index} could not be selected (cell {selected} is active)"
        self._run(self._first_code_index(index), lambda: self.menu("Run", "Run Selected Cell and All Below"))

    def run_cell_and_advance(self, index: int) -> None:
        """Press Shift+Enter on the selected cell `index` (as a student does); wait for it to finish."""
        kind = self._counts()[index][0]
        before = self._max_count()
        self.page.keyboard.press("Shift+Enter")
        if kind == "code":
            self._wait_settled(index, before)

    def type_into(self, index: int, code: str) -> None:
        """Click into cell `index`'s editor, select everything in it, and type `code` in its place."""
        editor = self.cell_locator(index).locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+A")
        # insert_text types the text as one input event, so the editor's auto-indent and
        # bracket closing do not change what the student meant to type
        self.page.keyboard.insert_text(code)

    def _run(self, first_code: int | None, click) -> None:
        before = self._max_count()
        if first_code is not None:
            self.page.evaluate("([p, i]) => window.__tapelab.watch(p, i)", [self.path, first_code])
        click()
        if first_code is not None:
            self._wait_settled(first_code, before)

    def _wait_settled(self, index: int, before: int) -> None:
        try:
            self.page.wait_for_function(
                "([p, i, n]) => window.__tapelab.settled(p, i, n)", arg=[self.path, index, before], timeout=self.timeout_ms
            )
        except PlaywrightTimeoutError:
            running = [c.index for c in self.cells() if c.type == "code" and c.count is None]
            raise AssertionError(
                f"{self.path}: the run from cell {index} had not finished after {self.timeout_ms / 1000:.0f} s "
                f"(cells without an execution count: {running[:10]}){self._dialog_text()}"
            ) from None

    def _dialog_text(self) -> str:
        dialog = self.page.locator(".jp-Dialog")
        return f"; JupyterLab shows a dialog: {dialog.first.inner_text()!r}" if dialog.count() else ""

    def _counts(self) -> list[tuple[str, int | None]]:
        return [tuple(c) for c in self.page.evaluate("p => window.__tapelab.counts(p)", self.path)]

    def _max_count(self) -> int:
        return max([count or 0 for _, count in self._counts()], default=0)

    def _first_code_index(self, start: int) -> int | None:
        return next((i for i, (kind, _) in enumerate(self._counts()) if i >= start and kind == "code"), None)

    # -- reading -----------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        """The notebook's cells now: model state plus what the page renders for each."""
        self.page.wait_for_function(  # plots are data URLs the browser decodes in the background
            "p => Array.from(window.__tapelab.panel(p).node.querySelectorAll('.jp-OutputArea-output img')).every(i => i.complete)",
            arg=self.path,
        )
        model = self.page.evaluate("p => window.__tapelab.cells(p)", self.path)
        seen = self.page.evaluate("p => window.__tapelab.seen(p)", self.path)
        cells = []
        for i, (m, s) in enumerate(zip(model, seen, strict=True)):
            outputs = [Output(**{**o, "traceback": _ANSI.sub("", o["traceback"])}) for o in m["outputs"]]
            cells.append(
                Cell(
                    index=i, type=m["type"], source=m["source"], nbgrader=m["nbgrader"], count=m["count"],
                    outputs=outputs, headings=s["headings"], output_text=s["outputText"], images=s["images"],
                    progress_bars=s["progressBars"], widgets=s["widgets"],
                )
            )
        return cells

    def cell_locator(self, index: int):
        """The Playwright locator of cell `index` in this notebook's panel."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)

    def screenshot(self, path: Path, whole: bool = True) -> None:
        """Save a PNG of the page; `whole` makes the window as tall as the notebook, so every cell shows."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not whole:
            self.page.screenshot(path=str(path))
            return
        size = self.page.viewport_size
        height_js = """p => { const w = window.__tapelab.panel(p);
                               const scroller = w.content.node.querySelector('.jp-WindowedPanel-outer') || w.content.node;
                               scroller.scrollTop = 0;
                               const cells = w.content.widgets; const last = cells[cells.length - 1].node;
                               return Math.ceil(last.getBoundingClientRect().bottom - scroller.getBoundingClientRect().top); }"""
        try:
            # Cells out of view are laid out with estimated heights; grow the window until the
            # notebook's real height stops changing (two or three rounds).
            height = 0
            for _ in range(5):
                needed = self.page.evaluate(height_js, self.path)
                if needed <= height:
                    break
                height = needed
                self.page.set_viewport_size({"width": size["width"], "height": min(needed + 200, 16000)})
            self.page.wait_for_function(
                "p => Array.from(window.__tapelab.panel(p).node.querySelectorAll('.jp-OutputArea-output img')).every(i => i.complete)",
                arg=self.path,
            )
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)
