"""Tests of tapelab.environment: the variables TensorFlow and nbgrader need, set in one place and used everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tapelab import environment
from tapelab.grading.jobs import grading_env

REPO = Path(__file__).resolve().parents[1]


def test_apply_sets_what_is_unset_and_puts_the_scripts_first():
    """Does apply() set each TensorFlow variable only where unset, and put this Python's scripts first on PATH?"""
    env = environment.apply({"TF_ENABLE_ONEDNN_OPTS": "1", "PATH": "/usr/bin"})
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert env["PATH"] == f"{Path(sys.executable).parent}{os.pathsep}/usr/bin"


def test_importing_tapelab_changes_no_environment_variable():
    """Does importing tapelab (and its learners) leave os.environ as it was?"""
    code = ("import os; before = dict(os.environ); import tapelab, tapelab.worlds, tapelab.grading; "
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_shell_exports_keep_what_is_set():
    """Do the lines for lab-env.sh export the defaults, and keep a value the user set?"""
    script = environment.shell_exports() + "\necho $TF_CPP_MIN_LOG_LEVEL $TF_ENABLE_ONEDNN_OPTS"
    env = {"PATH": os.environ["PATH"], "TF_ENABLE_ONEDNN_OPTS": "1"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2", "1"]


def test_the_kernel_spec_and_the_lab_take_them_from_here():
    """Do scripts/setup.sh (the kernel spec) and scripts/lab-env.sh read the variables from tapelab.environment?"""
    assert environment.ipykernel_args() == ["--env", "TF_CPP_MIN_LOG_LEVEL", "2", "--env", "TF_ENABLE_ONEDNN_OPTS", "0"]
    assert "-m tapelab.environment --ipykernel-args" in (REPO / "scripts" / "setup.sh").read_text()
    assert "-m tapelab.environment --shell" in (REPO / "scripts" / "lab-env.sh").read_text()
    for script in ("setup.sh", "lab-env.sh"):
        assert "TF_CPP_MIN_LOG_LEVEL" not in (REPO / "scripts" / script).read_text()
    out = subprocess.run([sys.executable, "-m", "tapelab.environment", "--shell"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == environment.shell_exports()


def test_grading_env_has_them_whatever_the_grader_set(tmp_path, monkeypatch):
    """Does every grading process get TensorFlow's variables as tapelab.environment has them, and alembic on PATH?"""
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    env = grading_env(7, 1, tmp_path)
    assert {k: env[k] for k in environment.TENSORFLOW} == environment.TENSORFLOW
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["PYTHONHASHSEED"] == env["TAPELAB_SEED"] == "7"
