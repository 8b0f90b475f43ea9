"""Does the student's JupyterLab work in a real browser?

One JupyterLab server (started by scripts/lab.sh, as `make lab` does) serves a temporary copy
of course/ and solutions/; one headless Chromium (Debian's, driven by Playwright) opens each
notebook, runs it through JupyterLab's menus and checks what a student sees. A notebook whose
checks fail leaves a whole-page screenshot in tests/.screenshots/ (git-ignored); TAPELAB_SCREENSHOTS=1
keeps one of every notebook (each costs a few seconds of rendering).

Without Chromium the browser tests are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from browser.jupyterlab import HELPERS_JS, Cell, LabNotebook, Output
from browser.server import LabServer, start_lab

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "tests" / ".screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A progress bar printed as text (tqdm without widgets), e.g. " 45%|████▌     | 45/100".
TEXT_PROGRESS = re.compile(r"\d+%\|")
CALLS_TQDM = re.compile(r"\b(tqdm|trange)\(")


def notebooks(folder: str) -> list[str]:
    """The notebooks `<assignment>/<name>.ipynb` under `folder` of the repository, sorted."""
    return sorted(
        p.relative_to(REPO / folder).as_posix()
        for p in (REPO / folder).glob("*/*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


COURSE = notebooks("course")
SOLUTIONS = notebooks("solutions")


def draws_progress_bars(path: str) -> bool:
    """Whether solutions/`path` calls tqdm (directly or through the kit's training loops)."""
    text = (REPO / "solutions" / path).read_text(encoding="utf-8")
    return bool(CALLS_TQDM.search(text)) or "train(" in text or "train_batched(" in text or "train_dqn(" in text


#: Course notebooks whose demonstrations of the kit's reference learner draw progress bars (widgets)
#: whatever the student wrote; their course run in the browser must show one.
COURSE_DRAWS_PROGRESS_BARS = {"04_qlearner/qlearner.ipynb"}
#: The solutions run whole in the browser: those whose training draws progress bars that their course
#: version never shows (its only training is the student's, which fails on the stubs). Every solution
#: is run whole by nbval, and its course version in the browser.
BROWSER_SOLUTIONS = [p for p in SOLUTIONS if draws_progress_bars(p) and p not in COURSE_DRAWS_PROGRESS_BARS]


def find_chromium() -> str | None:
    """Debian's Chromium (/usr/bin/chromium), else a `chromium` on PATH, else None."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def screenshot_name(kind: str, notebook: str) -> Path:
    return SCREENSHOTS / f"{kind}-{notebook.replace('/', '-').removesuffix('.ipynb')}.png"


def keep_screenshot(nb: LabNotebook, kind: str, notebook: str, problems: list[str]) -> None:
    """A screenshot of the whole notebook when its checks found `problems`, or always with TAPELAB_SCREENSHOTS=1."""
    if problems or os.environ.get("TAPELAB_SCREENSHOTS", "").strip() == "1":
        nb.screenshot(screenshot_name(kind, notebook))


# -- fixtures: one server, one browser for the whole module --------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = (
            "Chromium is not installed (looked for /usr/bin/chromium and `chromium` on PATH); "
            "install it with `sudo apt-get install chromium`, or run `make setup` as root"
        )
        if in_ci():
            pytest.fail(reason + ". CI must run the browser test.")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium) -> Iterator[LabServer]:
    """JupyterLab on a copy of course/ and solutions/; nothing of the repository is modified."""
    scratch = tmp_path_factory.mktemp("lab")
    root = scratch / "root"
    for folder in ("course", "solutions"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    server = start_lab(REPO, root, scratch)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, lab) -> Iterator[Page]:
    """One tab for all notebooks: JupyterLab loads once, each test opens its notebook in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(HELPERS_JS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def open_notebook(page: Page, lab: LabServer, path: str) -> LabNotebook:
    return LabNotebook(page, lab, path).open()


# -- checks (return problems as sentences, so a failure names every one) ------------------


def render_problems(cells: list[Cell], ran: set[int]) -> list[str]:
    """Is the prose rendered, is every plot an <img> that loaded, is no progress bar printed as text?

    `ran` holds the indices of the cells that were run in the browser.
    """
    problems = []
    if not any(c.headings for c in cells if c.type == "markdown"):
        problems.append("no markdown heading is rendered (expected a '# Title' cell shown as a heading)")
    for c in cells:
        if c.index not in ran:
            continue
        n_png = sum("image/png" in o.mimes for o in c.outputs)
        shown = sum(c.images)
        if n_png and shown < n_png:
            problems.append(f"cell {c.index}: {n_png} plot(s) in the output, {shown} shown as a loaded <img>")
        texts = " ".join(o.text for o in c.outputs if o.type == "stream")
        if TEXT_PROGRESS.search(texts):
            problems.append(
                f"cell {c.index}: a progress bar is printed as text lines, not drawn as a widget "
                "(use `from tqdm.auto import tqdm` and make sure ipywidgets is installed)"
            )
        widget_outputs = sum("application/vnd.jupyter.widget-view+json" in o.mimes for o in c.outputs)
        if widget_outputs and not c.widgets:
            problems.append(f"cell {c.index}: {widget_outputs} widget output(s), none rendered as a widget")
    return problems


def exercise_problems(cells: list[Cell]) -> list[str]:
    """Do the cells before the first exercise run cleanly, and does every exercise fail with NotImplementedError?

    An exercise that defines a function fails where the function is first called (usually
    its test cell): the NotImplementedError's traceback then passes through the exercise's
    `Cell In[n]`. Either way the student sees the error as soon as they run that far.
    """
    exercises = [c for c in cells if c.is_exercise]
    if not exercises:
        return ["no exercise cell (an nbgrader solution cell) in the student notebook"]
    problems = []
    for c in cells[: exercises[0].index]:
        if c.type == "code" and c.count is None:
            problems.append(f"cell {c.index} (before the first exercise) did not run")
        problems += [f"{failure} (before the first exercise)" for failure in c.failures()]
    raised = [(c, e) for c in cells for e in c.errors]
    for ex in exercises:
        name = (ex.nbgrader or {}).get("grade_id", f"cell {ex.index}")
        if ex.count is None:
            problems.append(f"exercise {name} (cell {ex.index}) never ran")
            continue
        where = f"Cell In[{ex.count}]"
        hits = [
            (c, e)
            for c, e in raised
            if c.index >= ex.index and e.ename == "NotImplementedError" and (c is ex or where in e.traceback)
        ]
        if not hits:
            found = [f"cell {c.index}: {e.ename}: {e.evalue[:80]}" for c, e in raised if c.index >= ex.index][:3]
            problems.append(
                f"exercise {name} (cell {ex.index}) never raised NotImplementedError when the notebook ran "
                f"(errors after it: {', '.join(found) or 'none'}); a student would not see that it is unfinished"
            )
            continue
        shown_in, _ = hits[0]
        if "NotImplementedError" not in shown_in.output_text:
            problems.append(f"cell {shown_in.index}: NotImplementedError is in the model but not shown on the page")
    return problems


def solution_problems(cells: list[Cell], stored: list[dict]) -> list[str]:
    """Did every cell run without an error, did the plots and progress bars the stored notebook has appear?

    `stored` is the notebook file's list of cells, with the outputs saved when it was last executed.
    """
    problems = []
    for c in cells:
        if c.type == "code" and c.count is None:
            problems.append(f"cell {c.index} did not run")
        problems += c.failures()
    stored_plots = sum("image/png" in o.get("data", {}) for c in stored for o in c.get("outputs", []))
    if stored_plots and not any(any(c.images) for c in cells):
        problems.append(f"the stored notebook has {stored_plots} plot(s); none appeared as an <img> in the browser")
    for c, s in zip(cells, stored, strict=True):
        stored_widget = any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in s.get("outputs", []))
        if (stored_widget or CALLS_TQDM.search(c.source)) and not c.progress_bars:
            problems.append(f"cell {c.index} shows a progress bar, but no progress-bar widget appeared")
    return problems


def next_to_run(cells: list[Cell]) -> int | None:
    """The first code cell with something in it that has no execution count: where a student runs on from.

    Run All stops at an error, and the kernel aborts the requests queued behind it. The abort
    is a race: a request that reaches the kernel after the abort has ended runs anyway, so a
    cell far below an error can run while cells above it were aborted. Going on from the
    first cell without a count (not from below the last error) runs those skipped cells again,
    in order, and every cell below them with them.
    """
    return next((c.index for c in cells if c.type == "code" and c.source.strip() and c.count is None), None)


def run_course_notebook(nb: LabNotebook) -> tuple[list[Cell], list[str]]:
    """Run All; then, while a code cell has not run, Run Selected Cell and All Below from the first such cell.

    Returns the cells after the last run, and one line per run saying where it started and which cells it left without a count.
    """
    runs = []
    nb.run_all()
    start = None
    for _ in range(len(nb.cells())):
        cells = nb.cells()
        not_run = [c.index for c in cells if c.type == "code" and c.count is None]
        runs.append(f"run from {'the top' if start is None else f'cell {start}'}: no count in cells {not_run or 'none'}")
        start = next_to_run(cells)
        if start is None:
            return cells, runs
        nb.run_from(start)
    return nb.cells(), runs


# -- the tests --------------------------------------------------------------------------------


class RacyKernelNotebook:
    """A stand-in for LabNotebook whose kernel runs code cells in order and stops at an error, except
    that on the first Run All the requests for `late` arrive after the abort has ended, so they run."""

    def __init__(self, sources: list[str], late: set[int]):
        self.sources, self.late, self.counts, self.errors, self.n = sources, late, {}, {}, 0
        self.scope: set[str] = set()

    def _execute(self, i: int) -> bool:
        self.n += 1
        self.counts[i] = self.n
        src = self.sources[i]
        needs, _, defines = src.partition("->")
        missing = [name for name in needs.split() if name not in self.scope]
        if src.startswith("raise") or missing:
            self.errors[i] = "NotImplementedError" if src.startswith("raise") else "NameError"
            return False
        self.errors.pop(i, None)
        self.scope.update(defines.split())
        return True

    def _run(self, start: int, late: set[int]) -> None:
        for i in range(start, len(self.sources)):
            self.counts.pop(i, None)
        stopped = False
        for i in range(start, len(self.sources)):
            if not stopped or i in late:
                stopped = not self._execute(i) or stopped
        self.late = set()

    def run_all(self) -> None:
        self._run(0, self.late)

    def run_from(self, index: int) -> None:
        self._run(index, set())

    def cells(self) -> list[Cell]:
        return [
            Cell(index=i, type="code", source=src, nbgrader=None, count=self.counts.get(i),
                 outputs=[Output("error", self.errors[i], "", "", [], None, "")] if i in self.errors else [])
            for i, src in enumerate(self.sources)
        ]


def test_the_driver_runs_again_the_cells_an_early_abort_skipped():
    """After a Run All whose abort let a later cell run out of order, does every cell end up run, in order, from the first one skipped?"""
    sources = ["-> a", "raise", "a -> b", "raise", "-> layer", "layer b -> c", "c -> d", "raise"]
    nb = RacyKernelNotebook(sources, late={5, 6})
    nb.run_all()
    assert next_to_run(nb.cells()) == 2, "the first cell the abort skipped"
    nb = RacyKernelNotebook(sources, late={5, 6})
    cells, runs = run_course_notebook(nb)
    assert [c.errors[0].ename if c.errors else None for c in cells] == [
        None, "NotImplementedError", None, "NotImplementedError", None, None, None, "NotImplementedError"
    ], runs
    assert all(c.count is not None for c in cells), runs
    assert [c.count for c in cells[4:]] == sorted(c.count for c in cells[4:]), "the cells below ran again in order"


def test_every_solution_notebook_has_a_student_version():
    """Does course/ hold a student notebook for every solution notebook, and no other notebook?"""
    missing = sorted(set(SOLUTIONS) - set(COURSE))
    extra = sorted(set(COURSE) - set(SOLUTIONS))
    assert not missing and not extra, (
        f"course/ and solutions/ differ: no student version of {missing or 'none'}, "
        f"no solution for {extra or 'none'}; regenerate course/ with `make release`"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", COURSE)
def test_course_notebook_in_the_browser(page, lab, path):
    """Does a student notebook render, run up to its first exercise, and fail with NotImplementedError at each exercise?"""
    nb = open_notebook(page, lab, f"course/{path}")
    try:
        cells, runs = run_course_notebook(nb)
        ran = {c.index for c in cells if c.count is not None}
        problems = render_problems(cells, ran) + exercise_problems(cells)
        if path in COURSE_DRAWS_PROGRESS_BARS and not any(c.progress_bars for c in cells):
            problems.append("no progress-bar widget appeared, so nothing in the browser shows one: remove "
                            f"{path} from COURSE_DRAWS_PROGRESS_BARS, and its solution runs whole in the browser")
        keep_screenshot(nb, "course", path, problems)
    finally:
        nb.close()
    assert not problems, f"course/{path}:\n  " + "\n  ".join(problems) + "\nThe runs:\n  " + "\n  ".join(runs)


@pytest.mark.slow
@pytest.mark.parametrize("path", BROWSER_SOLUTIONS)
def test_solution_notebook_in_the_browser(page, lab, path):
    """Does a solution notebook run from top to bottom in JupyterLab without an error, with its plots shown?"""
    stored = json.loads((lab.root / "solutions" / path).read_text())["cells"]
    nb = open_notebook(page, lab, f"solutions/{path}")
    try:
        nb.clear_outputs()
        nb.run_all()
        cells = nb.cells()
        problems = render_problems(cells, {c.index for c in cells}) + solution_problems(cells, stored)
        keep_screenshot(nb, "solutions", path, problems)
    finally:
        nb.close()
    assert not problems, f"solutions/{path}:\n  " + "\n  ".join(problems)


def first_exercise(root: Path) -> tuple[str, int, int, str] | None:
    """The first course notebook's first exercise: (notebook, exercise index, test cell index, answer).

    The answer is the solution notebook's code for that exercise (same nbgrader grade_id),
    without the `### BEGIN/END SOLUTION` marker lines; the test cell is the first grade cell after it.
    """
    for path in COURSE:
        course = json.loads((root / "course" / path).read_text())["cells"]
        solution = json.loads((root / "solutions" / path).read_text())["cells"]
        meta = [c.get("metadata", {}).get("nbgrader", {}) for c in course]
        exercise = next((i for i, c in enumerate(course) if c["cell_type"] == "code" and meta[i].get("solution")), None)
        if exercise is None:
            continue
        test = next((i for i in range(exercise + 1, len(course)) if course[i]["cell_type"] == "code" and meta[i].get("grade")), None)
        answers = [
            c for c in solution if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == meta[exercise].get("grade_id")
        ]
        if test is None or not answers:
            continue
        source = "".join(answers[0]["source"])
        answer = "\n".join(line for line in source.splitlines() if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))
        return path, exercise, test, answer
    return None


@pytest.mark.slow
def test_a_student_fills_in_an_exercise_and_its_test_passes(page, lab):
    """Does typing the answer into an exercise cell, then running down to its test cell, make that test pass?"""
    choice = first_exercise(lab.root)
    if choice is None:
        pytest.skip("no course notebook with an exercise followed by a test cell")
    path, exercise, test, answer = choice
    nb = open_notebook(page, lab, f"course/{path}")
    try:
        toolbar = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar")
        assert toolbar.get_by_text("Validate", exact=True).is_visible(), "nbgrader's Validate button is missing"
        nb.run_all()
        before = nb.cells()[test]
        assert before.count is None or before.errors, f"course/{path}: test cell {test} passed before the exercise was done"
        nb.type_into(exercise, answer)
        for index in range(exercise, test + 1):
            nb.run_cell_and_advance(index)
        cells = nb.cells()
        nb.cell_locator(test).scroll_into_view_if_needed()
        nb.screenshot(screenshot_name("workflow", path), whole=False)
    finally:
        nb.close()
    assert cells[exercise].source.strip() == answer.strip(), "what was typed is not what the cell holds"
    ran = cells[exercise : test + 1]
    failed = [failure for c in ran for failure in c.failures()]
    assert not failed, f"course/{path}: after typing the answer to cell {exercise}: " + "; ".join(failed)
    assert all(c.count is not None for c in ran if c.type == "code"), f"course/{path}: not every cell up to the test ran"


def write_toy_notebook(path: Path) -> list[dict]:
    """A small student notebook for checking the checks: one exercise its test catches, one nothing calls,
    a plot, a progress bar drawn as a widget and one printed as text."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    def exercise(grade_id: str, head: str) -> dict:
        meta = {"solution": True, "grade": False, "locked": False, "grade_id": grade_id, "schema_version": 3, "task": False}
        return new_code_cell(f"{head}\n    # YOUR CODE HERE\n    raise NotImplementedError()", metadata={"nbgrader": meta})

    test_meta = {"solution": False, "grade": True, "locked": True, "grade_id": "test_square", "points": 1, "schema_version": 3, "task": False}
    cells = [
        new_markdown_cell("# A toy lesson\nSquares and cubes."),
        new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\nfrom tqdm.auto import tqdm"),
        new_code_cell("x = np.linspace(0, 1, 20)\nplt.plot(x, x ** 2)\nplt.show()"),
        exercise("square", "def square(x):"),
        new_code_cell('"""Does square(3) give 9?"""\nassert square(3) == 9', metadata={"nbgrader": test_meta}),
        new_code_cell("total = sum(i for i in tqdm(range(200)))"),
        exercise("cube", "def cube(x):"),
        new_code_cell("from tqdm import tqdm as text_tqdm\nfor _ in text_tqdm(range(3)):\n    pass"),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    notebook = new_notebook(cells=cells, metadata={"kernelspec": kernelspec})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return json.loads(path.read_text())["cells"]


@pytest.mark.slow
def test_the_browser_checks_catch_an_exercise_that_never_fails_and_a_failing_cell(page, lab):
    """Do the checks flag an exercise no cell calls, a failing cell and a text progress bar, while passing plots and widgets?"""
    stored = write_toy_notebook(lab.root / "selfcheck" / "toy.ipynb")
    nb = open_notebook(page, lab, "selfcheck/toy.ipynb")
    try:
        cells, _ = run_course_notebook(nb)
    finally:
        nb.close()
    assert [c.count is not None for c in cells if c.type == "code"] == [True] * 7, "every code cell runs once"
    assert render_problems(cells, {c.index for c in cells}) == [
        "cell 7: a progress bar is printed as text lines, not drawn as a widget "
        "(use `from tqdm.auto import tqdm` and make sure ipywidgets is installed)"
    ]
    assert exercise_problems(cells) == [
        "exercise cube (cell 6) never raised NotImplementedError when the notebook ran (errors after it: none); "
        "a student would not see that it is unfinished"
    ]
    assert solution_problems(cells, stored) == ["cell 4 failed: NotImplementedError"]


#: What nbgrader's Validate handler does to find its configuration (working folder first, then
#: the Jupyter config path), printing the course root it finds.
LOAD_CONFIG_LIKE_VALIDATE = """
import os
from jupyter_core.paths import jupyter_config_path
from nbgrader.apps import NbGrader
paths = jupyter_config_path()
paths.insert(0, os.getcwd())
app = NbGrader()
app.config_file_paths.append(paths)
app.load_config_file()
print(app.config.CourseDirectory.root)
"""


def test_the_students_lab_finds_the_course_nbgrader_config(tmp_path):
    """Does the lab's environment (scripts/lab-env.sh, used by `make lab` and Binder's ./start) let nbgrader find autograder/nbgrader_config.py?"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "TAPELAB_", "REPO_DIR"))}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path)  # not the user's ~/.jupyter
    run = subprocess.run(
        [str(REPO / "start"), sys.executable, "-c", LOAD_CONFIG_LIKE_VALIDATE],
        cwd=REPO / "course", env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()) == REPO, f"nbgrader found course root {run.stdout.strip()!r}, expected {REPO}"


@pytest.mark.slow
def test_the_validate_button_reports_the_failing_test_cell(page, lab):
    """Does nbgrader's Validate button in the notebook toolbar run the notebook and name the test cell that fails?"""
    write_toy_notebook(lab.root / "selfcheck" / "validate" / "toy.ipynb")
    nb = open_notebook(page, lab, "selfcheck/validate/toy.ipynb")
    try:
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
        result = page.locator(".jp-Dialog #validation-message")
        result.wait_for(timeout=120_000)
        text = result.inner_text()
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
    finally:
        nb.close()
    assert "The following cell failed" in text and "Does square(3) give 9?" in text, text
    assert "NotImplementedError" in text, text
