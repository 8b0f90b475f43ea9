"""The kit grades any nbgrader course: tests/fixtures/othercourse, graded by the CLI and by plain nbgrader.

The course (course id ``words101``) is laid out as nbgrader's documentation describes, with
nothing of the kit in it: nbgrader_config.py at its root setting only the course id, and
source/ps1/problem1.ipynb, which reads source/ps1/data/words.txt. problem1 has two autograded
exercises (``test_count_words``, 2 points, and ``test_longest_word``, 1 point, each with hidden
tests), a manually graded code answer (``length_histogram``, 2 points), a manually graded
markdown answer (``explain``, 1 point) and a task (``task_style``, 1 point).

Four students answer the release notebook (``nbgrader generate_assignment ps1`` run in the course):

- ``ada``: every answer right (and hands data/ back too)       -> 3 autograded points
- ``bob``: ``longest_word`` wrong (fails the visible test)      -> 2
- ``cyd``: the release notebook untouched (stubs)               -> 0, only the task left to a grader
- ``dan``: ``count_words`` passes the visible test only,        -> 1, only the task left to a grader
  the answers graded by hand left as released

ada and bob also hand in a ``timestamp.txt``, as ``nbgrader collect`` leaves one.

The class is graded once per module by ``python -m tapelab.grading --course COURSE SUBS`` in a
subprocess, and once by sequential plain ``nbgrader autograde ps1`` in a second copy of the course;
the tests compare the two gradebooks, read the kit's gradebook as nbgrader's formgrader does
(:class:`nbgrader.apps.api.NbGraderAPI`), check the kit's extras, and that a second run reuses
every result (in copies of the graded course, so the tests do not depend on their order). Two fast
tests check the kit's pieces behind this: the kernel's folder gets the files nbgrader puts next to
the notebook, and merging a reused result keeps what a grader did.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "othercourse"
ASSIGNMENT = "ps1"
NOTEBOOK = "problem1"
COURSE_ID = "words101"

#: the cells graded automatically, by hand, and the task.
AUTO = ("test_count_words", "test_longest_word")
MANUAL = ("length_histogram", "explain")
TASK = "task_style"
MAX_SCORE = 7.0  # 2 + 1 autograded, 2 + 1 by hand, 1 the task

COUNT_WORDS = ("def count_words(words):\n    counts = {}\n    for word in words:\n"
               "        counts[word] = counts.get(word, 0) + 1\n    return counts")
LONGEST_WORD = "def longest_word(words):\n    return max(words, key=len) if words else None"
HISTOGRAM = ("def length_histogram(words):\n    lengths = sorted(len(w) for w in words)\n"
             "    for n in sorted(set(lengths)):\n        print(n, '#' * lengths.count(n))\n\n"
             "length_histogram(WORDS)")

#: student -> grade_id -> the cell's new source (cells not named keep the release version).
ANSWERS: dict[str, dict[str, str]] = {
    "ada": {"count_words": COUNT_WORDS, "longest_word": LONGEST_WORD, "length_histogram": HISTOGRAM,
            "explain": "Each word costs one dict lookup and one update, whatever came before it."},
    "bob": {"count_words": "from collections import Counter\n\ndef count_words(words):\n"
                           "    return dict(Counter(words))",
            "longest_word": "def longest_word(words):\n    return min(words, key=len)",
            "length_histogram": "def length_histogram(words):\n    print(len(words))\n\nlength_histogram(WORDS)",
            "explain": "Because dicts are fast."},
    "cyd": {},
    "dan": {"count_words": "def count_words(words):\n    if not words:\n        return None\n"
                           "    return {w: words.count(w) for w in words}",
            "longest_word": LONGEST_WORD},
}

#: student -> autograded points of (test_count_words, test_longest_word)
EXPECTED_AUTO = {"ada": (2.0, 1.0), "bob": (2.0, 0.0), "cyd": (0.0, 0.0), "dan": (0.0, 1.0)}

#: students with a timestamp.txt next to their notebook, as `nbgrader collect` leaves it
TIMESTAMPS = {"ada": "2026-03-02 09:15:00.000000 UTC", "bob": "2026-03-02 23:59:00.000000 UTC"}


REPO = Path(__file__).resolve().parents[1]


def _env(site: Path | None = None) -> dict[str, str]:
    """The environment of nbgrader and the kit's CLI: this venv's scripts first (nbgrader runs alembic);
    with `site`, tapelab imported from there (a wheel installed into it) before the checkout's."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def install_wheel(dest: Path) -> Path:
    """The kit built as a wheel (``pip wheel lib``) and unpacked into `dest`, as pip installs a pure wheel."""
    import zipfile

    source = dest / "src"  # built from a copy: the build writes its scratch folders next to the sources
    shutil.copytree(REPO / "lib", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                            "-w", str(dest / "dist")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (dest / "dist").glob("tapelab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(dest / "site")
    return dest / "site"


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def copy_course(dest: Path, *, generate: bool = True) -> Path:
    """A copy of the fixture course at `dest` (its config and source/ only), ps1 generated (`generate`)."""
    dest.mkdir(parents=True)
    shutil.copy(FIXTURE / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(FIXTURE / "source", dest / "source")
    if generate:
        _nbgrader(dest, "generate_assignment", ASSIGNMENT)
    return dest


def make_submissions(course: Path, folder: Path) -> Path:
    """<student>/ps1/problem1.ipynb under `folder` for every student of ANSWERS, from the course's release."""
    release = course / "release" / ASSIGNMENT
    for student, answers in ANSWERS.items():
        nb = nbformat.read(release / f"{NOTEBOOK}.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        where = folder / student / ASSIGNMENT
        where.mkdir(parents=True)
        nbformat.write(nb, where / f"{NOTEBOOK}.ipynb")
        if student == "ada":  # a student who hands the data back too; nbgrader puts the source's copy in place
            shutil.copytree(release / "data", where / "data")
        if student in TIMESTAMPS:
            (where / "timestamp.txt").write_text(TIMESTAMPS[student])
    return folder


def grade_with_cli(course: Path, submissions: Path, site: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m tapelab.grading --course COURSE SUBMISSIONS --workers 2 --no-progress``, sandboxed if possible,
    with tapelab from `site` when given."""
    from tapelab.grading.sandbox import probe

    args = ["--course", str(course), str(submissions), "--workers", "2", "--no-progress"]
    if probe() is not None:  # no working bubblewrap here: grade the trusted test class without it
        args.append("--allow-unsandboxed")
    return subprocess.run([sys.executable, "-m", "tapelab.grading", *args], cwd=course, env=_env(site),
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """(kit course, plain-nbgrader course, submissions, the CLI's first run, the wheel's site folder): the class
    graded both ways, the kit installed from its wheel."""
    tmp = tmp_path_factory.mktemp("othercourse")
    site = install_wheel(tmp / "wheel")
    kit = copy_course(tmp / "kit" / "course")
    submissions = make_submissions(kit, tmp / "kit" / "submissions")
    first = grade_with_cli(kit, submissions, site)
    plain = copy_course(tmp / "plain" / "course")
    shutil.copytree(submissions, plain / "submitted")
    _nbgrader(plain, "autograde", ASSIGNMENT)
    return kit, plain, submissions, first, site


def _grades(db: Path) -> dict[tuple[str, str], tuple[float | None, bool]]:
    """(student, cell) -> (auto_score, needs_manual_grade) of every grade of ps1 in the gradebook `db`."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {(g.student.id, g.name): (g.auto_score, bool(g.needs_manual_grade))
                for s in gb.assignment_submissions(ASSIGNMENT) for nb in s.notebooks for g in nb.grades}


def _totals(db: Path) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {d["student"]: (float(d["score"]), float(d["max_score"])) for d in gb.submission_dicts(ASSIGNMENT)}


def _course_ids(db: Path) -> dict[str, str]:
    """assignment -> the course it belongs to, in the gradebook `db`."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {a.name: a.course_id for a in gb.assignments}


def _api(course: Path):
    """nbgrader's formgrader API on `course`, configured from its nbgrader_config.py as the formgrader is."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    exchange = course.parent / "exchange"  # a private exchange: the machine's shared one may be missing
    exchange.mkdir(exist_ok=True)
    config.Exchange.root = str(exchange)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _copy_graded(kit: Path, dest: Path) -> Path:
    """A copy of the graded course `kit` (gradebook, outputs and the cache of results) at `dest`."""
    shutil.copytree(kit, dest)
    return dest


@pytest.mark.slow
def test_cli_grades_the_course(classes):
    """Does the CLI grade every student of a plain nbgrader course, exit 0 and print the table?"""
    kit, _, _, first, _ = classes
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("student")))
    assert lines[header].split() == ["student", ASSIGNMENT, "total"]
    rows = {line.split()[0]: line.split()[1] for line in lines[header + 2: header + 2 + len(ANSWERS)]}
    assert rows == {s: f"{sum(points):g}/{MAX_SCORE:g}" for s, points in EXPECTED_AUTO.items()}
    assert f"graded {len(ANSWERS)}, reused 0" in first.stdout
    assert "class report:" in first.stdout
    from tapelab.grading.sandbox import probe

    if probe() is None:  # bubblewrap works here: the course's kernels ran in it
        assert "kernels:        sandboxed" in first.stdout


@pytest.mark.slow
def test_the_kit_ran_from_its_wheel(classes):
    """Was the class graded by the kit installed from its wheel, which finds the course from --course alone?"""
    kit, _, _, _, site = classes
    found = subprocess.run([sys.executable, "-c", "import tapelab.grading.cli as m; print(m.__file__)"],
                           cwd=kit, env=_env(site), capture_output=True, text=True, timeout=60)
    assert Path(found.stdout.strip()).is_relative_to(site), found.stdout + found.stderr
    assert not (kit / "autograder").exists()  # nothing of this kit's own layout in the course


@pytest.mark.slow
def test_same_grades_as_plain_nbgrader(classes):
    """Per student and cell: the same auto scores and manual-grading flags as `nbgrader autograde`, same totals?"""
    kit, plain, _, _, _ = classes
    ours, theirs = _grades(kit / "gradebook.db"), _grades(plain / "gradebook.db")
    assert ours == theirs
    assert set(ours) == {(s, c) for s in ANSWERS for c in (*AUTO, *MANUAL, TASK)}
    for student, points in EXPECTED_AUTO.items():
        assert tuple(ours[(student, c)][0] for c in AUTO) == points
        assert not any(ours[(student, c)][1] for c in AUTO)
    for student in ("ada", "bob"):  # answered: waits for a grader
        assert all(ours[(student, c)] == (None, True) for c in MANUAL), student
    assert all(ours[("cyd", c)] == (0.0, False) for c in MANUAL)  # left the stubs: 0, nothing to read
    assert ours[("dan", "length_histogram")] == (0.0, False) and ours[("dan", "explain")] == (0.0, False)
    assert all(ours[(s, TASK)] == (None, True) for s in ANSWERS)  # a task is always graded by hand
    assert _totals(kit / "gradebook.db") == _totals(plain / "gradebook.db")
    assert _course_ids(kit / "gradebook.db") == _course_ids(plain / "gradebook.db") == {ASSIGNMENT: COURSE_ID}


def _formgrader_view(course: Path) -> dict:
    """What the formgrader's pages show of ps1 in `course`, through the NbGraderAPI calls they make."""
    api = _api(course)
    keys = ("score", "max_score", "code_score", "written_score", "task_score", "needs_manual_grade", "autograded",
            "submitted", "timestamp")
    nb_keys = ("score", "max_score", "needs_manual_grade", "failed_tests", "flagged")
    [assignment] = api.get_assignments()
    return {
        "assignment": {k: assignment[k] for k in ("name", "num_submissions", "max_score", "max_code_score",
                                                  "max_written_score", "max_task_score", "average_score")},
        "notebooks": [{k: nb[k] for k in ("name", "num_submissions", "max_score", "needs_manual_grade")}
                      for nb in api.get_notebooks(ASSIGNMENT)],
        "submissions": {s["student"]: {k: s[k] for k in keys} for s in api.get_submissions(ASSIGNMENT)},
        "each": {s: {k: api.get_submission(ASSIGNMENT, s)[k] for k in keys} for s in ANSWERS},
        "notebook_submissions": {s: [{k: nb[k] for k in nb_keys} | {"opens": nb["id"] is not None}
                                     for nb in api.get_student_notebook_submissions(s, ASSIGNMENT)]
                                 for s in ANSWERS},
        "grading_queue": sorted(n["student"] for n in api.get_notebook_submissions(ASSIGNMENT, NOTEBOOK)
                                if n["index"] is not None),
        "students": {s["id"]: s["score"] for s in api.get_students()},
    }


@pytest.mark.slow
def test_formgrader_sees_the_kit_grades(classes):
    """Does nbgrader's formgrader API show the assignment, each submission autograded and ready for manual
    grading, as it shows the course graded by plain nbgrader?"""
    kit, plain, _, _, _ = classes
    view = _formgrader_view(kit)
    assert view == _formgrader_view(plain)
    assert view["assignment"]["name"] == ASSIGNMENT
    assert (view["assignment"]["num_submissions"], view["assignment"]["max_score"]) == (len(ANSWERS), MAX_SCORE)
    assert [(nb["name"], nb["num_submissions"]) for nb in view["notebooks"]] == [(NOTEBOOK, len(ANSWERS))]
    for student, points in EXPECTED_AUTO.items():
        for shown in (view["submissions"][student], view["each"][student]):
            # autograded, and ready for manual grading: the task if nothing else waits for a grader
            assert (shown["autograded"], shown["needs_manual_grade"], shown["score"], shown["max_score"]) == \
                (True, True, sum(points), MAX_SCORE), student
        [nb] = view["notebook_submissions"][student]
        assert nb["opens"] and nb["needs_manual_grade"]  # the formgrader opens its autograded notebook
    assert view["submissions"]["ada"]["timestamp"].startswith("2026-03-02T09:15:00")
    assert view["submissions"]["cyd"]["timestamp"] is None
    assert view["grading_queue"] == sorted(ANSWERS)
    assert view["students"] == {s: sum(p) for s, p in EXPECTED_AUTO.items()}


@pytest.mark.slow
def test_extras_next_to_the_gradebook(classes):
    """Are grades.csv, grades_canvas.csv, report/index.html and the feedback HTML where the course's gradebook is?"""
    kit, _, _, _, _ = classes
    rows = list(csv.DictReader((kit / "grades.csv").open()))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {s: sum(p) for s, p in EXPECTED_AUTO.items()}
    assert {float(r["max_score"]) for r in rows} == {MAX_SCORE}
    assert (kit / "grades_canvas.csv").read_text().strip()
    page = (kit / "report" / "index.html").read_text()
    assert ASSIGNMENT in page and COURSE_ID in page
    for student in ANSWERS:
        html = (kit / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
        assert "<html" in html.lower()
        assert (kit / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()
    ada = (kit / "feedback" / "ada" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "whatever came before it" in ada  # the markdown answer is in the feedback


@pytest.mark.slow
def test_manual_grades_count_and_survive_a_rerun(classes, tmp_path):
    """Does a grader's manual grade update the total, and does a second run reuse every result and keep it?"""
    from nbgrader.api import Gradebook

    kit, _, submissions, _, _ = classes
    course = _copy_graded(kit, tmp_path / "course")
    db = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db, COURSE_ID) as gb:
        before = gb.find_submission(ASSIGNMENT, "ada").score
        for cell, points in (("length_histogram", 1.5), ("explain", 1.0), (TASK, 1.0)):
            grade = gb.find_grade(cell, NOTEBOOK, ASSIGNMENT, "ada")
            grade.manual_score = points
            grade.needs_manual_grade = False  # what the formgrader sets with a grade
        gb.db.commit()
        assert gb.find_submission(ASSIGNMENT, "ada").score == before + 3.5
    ada = next(s for s in _api(course).get_submissions(ASSIGNMENT) if s["student"] == "ada")
    assert (ada["score"], ada["needs_manual_grade"]) == (before + 3.5, False)

    again = grade_with_cli(course, submissions)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"graded 0, reused {len(ANSWERS)}" in again.stdout
    with Gradebook(db, COURSE_ID) as gb:
        ada = gb.find_submission(ASSIGNMENT, "ada")
        assert (ada.score, ada.needs_manual_grade) == (before + 3.5, False)
        assert gb.find_grade("length_histogram", NOTEBOOK, ASSIGNMENT, "ada").manual_score == 1.5
        assert gb.find_submission(ASSIGNMENT, "bob").needs_manual_grade
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader((course / "grades.csv").open())}
    assert rows["ada"] == before + 3.5


@pytest.mark.slow
def test_resumed_into_a_course_never_generated(classes, tmp_path):
    """From the cached results alone, does the kit fill the gradebook of a course nbgrader never ran in as
    plain nbgrader filled its own (same grades, same course id), with no cluster started?"""
    kit, plain, submissions, _, _ = classes
    course = copy_course(tmp_path / "course", generate=False)
    shutil.copytree(kit / ".jobs", course / ".jobs")
    again = grade_with_cli(course, submissions)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"graded 0, reused {len(ANSWERS)}" in again.stdout
    assert not any(line.startswith("grading ") for line in again.stdout.splitlines())  # no cluster started
    assert _grades(course / "gradebook.db") == _grades(plain / "gradebook.db")
    assert _totals(course / "gradebook.db") == _totals(plain / "gradebook.db")
    assert _course_ids(course / "gradebook.db") == {ASSIGNMENT: COURSE_ID}
    for student in ANSWERS:
        assert (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").is_file()


def test_kernel_folder_gets_the_files_nbgrader_puts_next_to_the_notebook(tmp_path):
    """Are the autograded folder's files, but no notebook and no course-folder name, copied for the kernel?"""
    from tapelab.grading import runner

    folder, scratch = tmp_path / "autograded" / "ada" / ASSIGNMENT, tmp_path / "scratch"
    for rel in ("data/words.txt", "helpers.py", f"{NOTEBOOK}.ipynb", "other.ipynb", "source/x.txt",
                "gradebook.db"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(rel)
    scratch.mkdir()
    assert runner.copy_assignment_files(folder, scratch) == ["data/words.txt", "helpers.py"]
    assert (scratch / "data" / "words.txt").read_text() == "data/words.txt"
    assert sorted(p.name for p in scratch.iterdir()) == ["data", "helpers.py"]
    config = runner._course_config({"assignment": ASSIGNMENT, "config": {}}, tmp_path / "course")
    assert runner.AssignmentExecute in config.Autograde.autograde_preprocessors


def test_merging_a_reused_result_keeps_a_graders_review(tmp_path):
    """A grader's manual scores and cleared flags survive merging the same result again; a new grading flags
    the graded cells for review as nbgrader autograde does; new assignments belong to the course's course_id."""
    from nbgrader.api import Gradebook
    from synthetic_class import toy_result

    from tapelab.grading import gradebook

    path = tmp_path / "gradebook.db"
    result = toy_result("ada", 2.0, 1.0)
    # test_draw stands for a manually graded answer: no auto score, waiting for a grader
    [draw] = [g for g in result.records["notebooks"][0]["grades"] if g["name"] == "test_draw"]
    draw.update(auto_score=None, needs_manual_grade=True)
    gradebook.merge(path, result, course_id=COURSE_ID)

    def state():
        with Gradebook(gradebook.db_url(path)) as gb:
            grades = [gb.find_grade(cell, "toy", "toy", "ada") for cell in ("test_square", "test_draw")]
            return [(g.auto_score, g.manual_score, g.needs_manual_grade) for g in grades] + \
                [gb.find_submission("toy", "ada").score]

    assert state() == [(2.0, None, False), (None, None, True), 2.0]
    with Gradebook(gradebook.db_url(path)) as gb:
        assert gb.find_assignment("toy").course_id == COURSE_ID
        for cell, points in (("test_square", 1.5), ("test_draw", 1.0)):  # as the formgrader saves a grade
            grade = gb.find_grade(cell, "toy", "toy", "ada")
            grade.manual_score, grade.needs_manual_grade = points, False
        gb.db.commit()
    gradebook.merge(path, result, reused=True, course_id=COURSE_ID)  # a resumed run
    assert state() == [(2.0, 1.5, False), (None, 1.0, False), 2.5]
    gradebook.merge(path, result, course_id=COURSE_ID)  # graded anew (--regrade): to be reviewed
    assert state() == [(2.0, 1.5, True), (None, 1.0, True), 2.5]
