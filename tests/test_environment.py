"""Is the environment pinned in one place, and do environment.yml and the lock file agree?"""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement


def _lock(repo) -> dict[str, str]:
    pins = {}
    for line in (repo / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _conda_pip_requirements(repo) -> list[str]:
    env = yaml.safe_load((repo / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    return [r for r in pip if not r.startswith("-e")]


def _pyproject_names(repo) -> set[str]:
    project = tomllib.loads((repo / "lib" / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["course"]
    return {_norm(Requirement(r).name) for r in reqs}


def test_every_lock_line_is_an_exact_pin(repo):
    """Is every line of constraints.txt `name==version`?"""
    for line in (repo / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), line


def test_environment_yml_pins_match_the_lock(repo):
    """Does environment.yml pin each package at the version constraints.txt locks?"""
    lock = _lock(repo)
    for text in _conda_pip_requirements(repo):
        req = Requirement(text)
        pinned = [s.version for s in req.specifier if s.operator == "=="]
        assert pinned, f"environment.yml: {text!r} must be pinned with =="
        assert lock.get(_norm(req.name)) == pinned[0], (
            f"environment.yml pins {req.name}=={pinned[0]}, constraints.txt has {lock.get(_norm(req.name))}"
        )


def test_environment_yml_lists_the_same_packages_as_the_library(repo):
    """Does environment.yml list exactly the packages lib/pyproject.toml depends on?"""
    in_conda = {_norm(Requirement(r).name) for r in _conda_pip_requirements(repo)}
    assert in_conda == _pyproject_names(repo)


def test_environment_yml_installs_the_library(repo):
    """Does environment.yml install ./lib, so Binder's kernel can import tapelab?"""
    env = yaml.safe_load((repo / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert "-e ./lib" in pip


def test_tensorflow_is_pinned_for_every_platform(repo):
    """Is TensorFlow pinned for macOS (tensorflow) as well as Linux/Windows (tensorflow-cpu), at one version?"""
    lock = _lock(repo)
    assert lock["tensorflow"] == lock["tensorflow-cpu"]
