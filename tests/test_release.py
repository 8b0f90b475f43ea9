"""Tests of autograder/release.py and of the generated student notebooks in course/.

One fresh generation (a temporary folder with its own gradebook) is shared by
the module; the expensive checks run each nbgrader command once for all
assignments: `nbgrader validate` on the solutions, the kit's grading job on the
unmodified student notebooks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.validator import Validator

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tapelab_release", REPO / "autograder" / "release.py")
release = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = release
_spec.loader.exec_module(release)

ASSIGNMENTS = release.assignments()
SOLUTION_NOTEBOOKS = sorted(REPO.glob("solutions/*/*.ipynb"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME")
REGION = re.compile(r"^\s*#+\s*BEGIN (SOLUTION|HIDDEN TESTS)\s*$(.*?)^\s*#+\s*END \1\s*$", re.M | re.S)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A course root holding a fresh generation in course/ and its gradebook."""
    root = tmp_path_factory.mktemp("release")
    release.generate(root / "course", db_url=f"sqlite:///{root / 'gradebook.db'}")
    return root


def test_committed_course_is_a_fresh_generation(fresh: Path) -> None:
    """Is the committed course/ byte-identical to a fresh generation from solutions/?"""
    assert ASSIGNMENTS, "solutions/ holds no assignment"
    diff = release.compare(fresh / "course", REPO / "course")
    assert not diff, "course/ is out of date; run `make release` and commit course/:\n" + "\n".join(diff.lines())


def test_check_and_release_repair_a_stale_course(fresh: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """Does --check fail naming each stale file, and does a release restore the fresh generation?"""
    def copy_fresh(dest: Path, **_: object) -> list[str]:
        shutil.copytree(fresh / "course", dest, dirs_exist_ok=True)
        return ASSIGNMENTS

    monkeypatch.setattr(release, "generate", copy_fresh)
    course = tmp_path / "course"
    shutil.copytree(fresh / "course", course)
    notebook = next(course.glob("*/*.ipynb"))
    edited = notebook.relative_to(course).as_posix()
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("NotImplementedError", "Edited"), "utf-8")
    (course / "notes.txt").write_text("a stray file\n", encoding="utf-8")
    (course / "README.md").unlink()
    (course / ".ipynb_checkpoints").mkdir()

    assert release.main(["--check", "--course", str(course)]) == 1
    err = capsys.readouterr().err
    assert f"changed:    {edited}" in err
    assert "unexpected: notes.txt" in err and "missing:    README.md" in err
    assert "run `make release`" in err and ".ipynb_checkpoints" not in err

    assert release.main(["--course", str(course)]) == 0
    assert not release.compare(fresh / "course", course)
    assert not (course / "notes.txt").exists() and not (course / ".ipynb_checkpoints").exists()
    assert release.main(["--check", "--course", str(course)]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_generate_explains_an_empty_solutions_folder(tmp_path: Path) -> None:
    """Does generating from a folder without assignments say what was expected and where?"""
    (tmp_path / "solutions" / "notes").mkdir(parents=True)
    with pytest.raises(release.ReleaseError) as err:
        release.generate(tmp_path / "course", solutions=tmp_path / "solutions")
    assert str(err.value) == f"no assignment found: expected folders with a notebook in {tmp_path / 'solutions'}"
    assert release.assignments() == ASSIGNMENTS and "01_gradient_tape" in ASSIGNMENTS


def test_normalise_is_stable(fresh: Path, tmp_path: Path) -> None:
    """Does normalising an already normalised notebook leave its bytes unchanged, and fix a reformatted one?"""
    course = tmp_path / "course"
    shutil.copytree(fresh / "course", course)
    notebook = next(course.glob("*/*.ipynb"))
    before = notebook.read_bytes()
    release.normalise(course)
    assert notebook.read_bytes() == before
    notebook.write_text(json.dumps(json.loads(before), indent=4), encoding="utf-8")
    release.normalise(course)
    assert notebook.read_bytes() == before


def test_course_holds_no_solution_or_hidden_test(fresh: Path) -> None:
    """Does course/ contain no solution line, no hidden test line, no nbgrader marker and no output?"""
    assert SOLUTION_NOTEBOOKS
    for solution in SOLUTION_NOTEBOOKS:
        student = REPO / "course" / solution.relative_to(REPO / "solutions")
        assert student.exists(), f"{student.relative_to(REPO)} is missing: run `make release`"
        secret: set[str] = set()
        public: set[str] = set()
        for cell in _cells(solution):
            text = _source(cell)
            for match in REGION.finditer(text):
                secret.update(line.strip() for line in match.group(2).splitlines())
            public.update(line.strip() for line in REGION.sub("", text).splitlines())
        secret = {line for line in secret - public if len(line) > 3 and re.search(r"\w", line)}
        assert secret, f"{solution.name} has no solution or hidden-test region"
        course_text = student.read_text(encoding="utf-8")
        for marker in MARKERS:
            assert marker not in course_text, f"{student.name} contains the marker {marker!r}"
        course_lines = {line.strip() for cell in _cells(student) for line in _source(cell).splitlines()}
        leaked = sorted(secret & course_lines)
        assert not leaked, f"{student.name} shows solution or hidden-test lines: {leaked[:5]}"
        for cell in _cells(student):
            assert not cell.get("outputs"), f"{student.name} keeps the output of a cell: {_source(cell)[:60]!r}"


def test_solutions_pass_nbgrader_validate() -> None:
    """Does nbgrader's validator find every test cell of every solution notebook passing?

    The validator reads the stored outputs instead of executing the notebook again:
    they are real, and `pytest --nbval` (make test) checks that a fresh run reproduces them.
    """
    assert SOLUTION_NOTEBOOKS
    for notebook in SOLUTION_NOTEBOOKS:
        graded = [c for c in _cells(notebook) if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        assert graded, f"{notebook.name} has no graded cell"
        assert all(c.get("execution_count") for c in graded), f"{notebook.name} was not run top to bottom"
        results = Validator(preprocessors=[CheckCellMetadata]).validate(str(notebook))
        assert results == {}, f"{notebook.name} fails validation: {results}"


def test_student_cells_are_valid_python() -> None:
    """Does every code cell of the student notebooks parse, so a student sees a stub and not a SyntaxError?"""
    notebooks = sorted((REPO / "course").glob("*/*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        for cell in _cells(notebook):
            if cell["cell_type"] == "code":
                code = "\n".join(l for l in _source(cell).splitlines() if not l.lstrip().startswith(("%", "!")))
                try:
                    compile(code, notebook.name, "exec")
                except SyntaxError as err:
                    pytest.fail(f"{notebook.relative_to(REPO)}: a cell does not parse ({err}):\n{_source(cell)}")


@pytest.mark.slow
def test_unmodified_student_notebooks_fail_and_grade_zero(fresh: Path, tmp_path: Path) -> None:
    """Graded as make grade grades (nbgrader autograde in the kit's grading job), does every unmodified student
    notebook score 0 without crashing, failing every test cell?"""
    sys.path.insert(0, str(REPO / "tests" / "fixtures" / "mistakes"))
    import mistake_grade

    notebooks = [nb for assignment in ASSIGNMENTS for nb in sorted((fresh / "course" / assignment).glob("*.ipynb"))]
    specs = [mistake_grade.job_spec("unmodified", f"{nb.parent.name}/{nb.name}", nbformat.read(nb, as_version=4),
                                    REPO) for nb in notebooks]
    for notebook, result in zip(notebooks, mistake_grade.grade_specs(specs)):
        assignment = notebook.parent.name
        assert result.status == "graded", f"{assignment} was not graded: {result.messages}"
        assert result.max_score > 0, f"{assignment} has no points"
        assert result.score == 0, f"the unmodified {assignment} scored {result.score}"
        # validate the executed notebook (no second run): every graded cell fails, none passes
        graded_copy = tmp_path / assignment / notebook.name
        graded_copy.parent.mkdir()
        graded_copy.write_bytes(result.autograded[notebook.name])
        graded = sum(c.get("metadata", {}).get("nbgrader", {}).get("grade", False) for c in _cells(graded_copy))
        plain = Validator(preprocessors=[CheckCellMetadata]).validate(str(graded_copy))
        inverted = Validator(preprocessors=[CheckCellMetadata], invert=True).validate(str(graded_copy))
        assert len(plain.get("failed", [])) == graded > 0, f"{notebook.name}: {plain}"
        assert inverted == {}, f"{notebook.name} has test cells that pass unmodified: {inverted}"
