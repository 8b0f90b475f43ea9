"""Tests for tapelab.grading.sandbox: what a graded kernel can see, reach and use."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from tapelab.grading import sandbox
from tapelab.grading.budget import BudgetedExecute
from tapelab.grading.limits import NOT_RUN, Limits, describe_exit
from tapelab.grading.sandbox import SandboxUnavailable

REPO = Path(__file__).resolve().parents[1]

#: code run inside a sandboxed kernel; prints what the kernel can see and do, as JSON.
PROBE = f"""
import json, os, resource, socket
def attempt(action):
    try:
        action()
        return "ok"
    except Exception as err:
        return type(err).__name__
def connect():
    socket.create_connection(("1.1.1.1", 80), timeout=2).close()
limits = {{name: resource.getrlimit(getattr(resource, name))[0]
          for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE")}}
print(json.dumps({{
    "uid": os.getuid(), "cwd": os.getcwd(), "home": os.environ.get("HOME"),
    "secret": os.environ.get("GRADER_SECRET_TOKEN"), "seed": os.environ.get("PYTHONHASHSEED"),
    "repo_entries": sorted(os.listdir({str(REPO)!r})) if os.path.isdir({str(REPO)!r}) else [],
    "solutions": os.path.exists({str(REPO / "solutions")!r}),
    "write_repo": attempt(lambda: open({str(REPO / "sandbox-escape.txt")!r}, "w").write("x")),
    "write_usr": attempt(lambda: open("/usr/sandbox-escape.txt", "w").write("x")),
    "write_scratch": attempt(lambda: open("note.txt", "w").write("x")),
    "write_tmp": attempt(lambda: open("/tmp/note.txt", "w").write("x")),
    "network": attempt(connect), "limits": limits, "import_tapelab": attempt(lambda: __import__("tapelab")),
}}))
"""


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (tapelab)", "language": "python"}
    return nb


def _run(nb: nbformat.NotebookNode, scratch: Path, limits: Limits, sandboxed: bool = True):
    config = Config(sandbox.nbgrader_config(scratch, limits, sandboxed=sandboxed))
    nb, _ = BudgetedExecute(config=config).preprocess(nb, {})
    return nb


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]


@pytest.fixture(autouse=True)
def _fresh_probe():
    sandbox.probe.cache_clear()
    yield
    sandbox.probe.cache_clear()


def test_check_sandbox_reports_bubblewrap_here():
    """Does check_sandbox find a working bubblewrap on this machine (as in CI) and say so?"""
    check = sandbox.check_sandbox(False)
    assert check.sandboxed and check.note.startswith("sandboxed: each kernel runs in bubblewrap as ")
    assert str(check) == check.note


def test_check_sandbox_refuses_without_bubblewrap(monkeypatch):
    """Without bubblewrap and without an opt-out, does grading refuse with a message that says how to fix it?"""
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    monkeypatch.delenv(sandbox.OPT_OUT_ENV, raising=False)
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.check_sandbox(False)
    assert str(err.value) == (
        "Grading needs a sandbox for student code, but bubblewrap (bwrap) is not installed. Install bubblewrap "
        "(Debian/Ubuntu: apt-get install bubblewrap), or opt out explicitly with --allow-unsandboxed "
        "or TAPELAB_ALLOW_UNSANDBOXED=1 if you trust every submission.")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_check_sandbox_opt_out(monkeypatch, how):
    """Does an explicit opt-out (argument or TAPELAB_ALLOW_UNSANDBOXED=1) let grading go on, saying it is unsandboxed?"""
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    if how == "environment":
        monkeypatch.setenv(sandbox.OPT_OUT_ENV, "1")
    check = sandbox.check_sandbox(how == "argument")
    assert not check.sandboxed
    assert check.note == ("UNSANDBOXED: bubblewrap (bwrap) is not installed; student code runs with the grader's rights "
                    "(opted out with --allow-unsandboxed or TAPELAB_ALLOW_UNSANDBOXED=1)")


def test_nbgrader_config_is_plain_data_and_replaces_execute(tmp_path):
    """Is the config JSON-able, with BudgetedExecute in place of nbgrader's Execute and the limits given?"""
    limits = Limits(cpu_seconds_per_cell=7, cpu_seconds_per_notebook=70, wall_factor=3, memory_mb=700,
                    process_cpu_s=17, nproc=77, fsize_mb=7, output_mb=0.5)
    config = sandbox.nbgrader_config(tmp_path / "scratch", limits)
    assert json.loads(json.dumps(config)) == config
    pre = config["Autograde"]["autograde_preprocessors"]
    assert pre[0] == "tapelab.grading.budget.BudgetedExecute" and "nbgrader.preprocessors.execute.Execute" not in pre
    assert config["Execute"] == {"timeout": 21, "shutdown_kernel": "immediate"}
    assert config["BudgetedExecute"] == {"cpu_seconds_per_cell": 7.0, "cpu_seconds_per_notebook": 70.0,
                                         "wall_factor": 3.0, "max_output_bytes": 1 << 19}
    assert config["SandboxProvisioner"] == {
        "scratch": str((tmp_path / "scratch").resolve()), "sandboxed": True, "memory_mb": 700, "process_cpu_s": 17,
        "nproc": 77, "fsize_mb": 7, "notebook_wall_s": 240.0, "output_chars": 1 << 19}


def test_bwrap_command_binds_only_what_the_kernel_needs(tmp_path):
    """Is the network unshared, the scratch the only writable bind, and neither the repo nor /root bound whole?"""
    cmd = sandbox.bwrap_command([sys.executable, "-m", "ipykernel_launcher"], tmp_path / "s", tmp_path / "i",
                                Limits(), 123456, {"HOME": str(tmp_path / "s")})
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd and "--clearenv" in cmd
    writable = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--bind"]
    assert writable == [str(tmp_path / "s"), str(tmp_path / "i")]
    bound = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert str(REPO) not in bound and "/root" not in bound and "/" not in bound and "/home" not in bound
    assert str(REPO / "lib" / "tapelab") in bound or not (REPO / "lib" / "tapelab").is_dir()
    tail = cmd[cmd.index("--") + 1:]
    assert tail[:4] == [sys.executable, "-I", "-S", "-c"] and tail[5:10] == ["123456", str(4 * 2048 << 20), "900",
                                                                              "256", str(200 << 20)]


def test_scratch_holding_course_files_is_refused(tmp_path):
    """Is a scratch folder that holds a gradebook refused, since the kernel could change it?"""
    (tmp_path / "gradebook.db").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        sandbox.check_scratch(tmp_path)
    assert str(err.value) == (
        f"the kernel's scratch folder must be a folder of its own, but {tmp_path} holds gradebook.db, which the "
        "student's kernel could read and change; pass an empty folder (e.g. JOB_DIR/scratch)")


@pytest.mark.parametrize("code, words", [
    (-signal.SIGKILL, "the kernel was stopped, most likely by its limit of 900 s of CPU per process (or by the "
                      "system, out of memory)"),
    (128 + signal.SIGXCPU, "the kernel was stopped, most likely by its limit of 900 s of CPU per process (or by the "
                           "system, out of memory)"),
    (128 + signal.SIGSEGV, "the kernel crashed (signal SIGSEGV), most likely out of memory (its processes may "
                           "reserve 8192 MB each) or from too deep recursion"),
    (128 + signal.SIGXFSZ, "the kernel was stopped: it wrote a file larger than the limit of 200 MB"),
    (3, "the kernel exited with status 3 (os._exit, a crash, or running out of memory); cells after this one did "
        "not run"),
])
def test_describe_exit_names_the_limit(code, words):
    """Does each way a kernel ends that the grader did not stop get the sentence the student reads?"""
    assert describe_exit(code, Limits()) == words


@pytest.mark.slow
def test_sandboxed_kernel_sees_and_reaches_only_its_scratch(tmp_path, monkeypatch):
    """Does a sandboxed kernel run unprivileged, offline, with its limits, unable to see the repo or write outside?"""
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    limits = Limits(memory_mb=1500, process_cpu_s=60, nproc=80, fsize_mb=5)
    scratch = tmp_path / "scratch"
    nb = _run(_notebook(PROBE), scratch, limits)
    seen = json.loads(_stdout(nb.cells[0]))
    assert seen["uid"] != 0 and seen["cwd"] == seen["home"] == str(scratch.resolve())
    assert seen["secret"] is None and seen["seed"] == "7"
    assert not seen["solutions"] and "autograder" not in seen["repo_entries"] and ".git" not in seen["repo_entries"]
    assert seen["write_repo"] in ("PermissionError", "OSError", "FileNotFoundError")
    assert seen["write_usr"] in ("PermissionError", "OSError")
    assert seen["write_scratch"] == seen["write_tmp"] == seen["import_tapelab"] == "ok"
    assert seen["network"] == "OSError"
    assert seen["limits"] == {"RLIMIT_AS": 4 * 1500 << 20, "RLIMIT_CPU": 60, "RLIMIT_NPROC": 80,
                              "RLIMIT_FSIZE": 5 << 20}
    assert (scratch / "note.txt").read_text() == "x" and not (REPO / "sandbox-escape.txt").exists()


@pytest.mark.slow
def test_cpu_limit_stops_the_kernel_and_later_cells_are_not_run(tmp_path):
    """Is a kernel past its per-process CPU backstop stopped, with that reason on its cell and 'not run' next?"""
    limits = Limits(process_cpu_s=2)
    nb = _run(_notebook("x = 1", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass",
                        "print(x)"), tmp_path / "scratch", limits)
    assert _errors(nb.cells[0]) == []
    assert _errors(nb.cells[1]) == ["KernelStopped: the kernel was stopped, most likely by its limit of 2 s of CPU "
                                    "per process (or by the system, out of memory)"]
    assert _errors(nb.cells[2]) == [f"NotRun: {NOT_RUN}"]


@pytest.mark.slow
def test_cpu_budget_interrupts_and_the_next_cell_runs(tmp_path):
    """Does a cell past its CPU budget get interrupted (KeyboardInterrupt) while the following cells still run?"""
    nb = _run(_notebook("x = 41", "while True:\n    pass", "print(x + 1)"), tmp_path / "scratch",
              Limits(cpu_seconds_per_cell=3))
    assert [e.split(":")[0] for e in _errors(nb.cells[1])] == ["KeyboardInterrupt", "CellTimeoutError"]
    assert _stdout(nb.cells[2]) == "42\n"


@pytest.mark.slow
def test_kernel_is_stopped_after_its_last_cell_without_running_exit_hooks(tmp_path):
    """Is the kernel killed once its last cell has run, so a student's atexit hook cannot hold the grader?

    With nbgrader's graceful shutdown the hook would run (and sleep until the kernel is killed).
    """
    hook = "import atexit, time\natexit.register(lambda: (open('exit-hook-ran', 'w').write('x'), time.sleep(30)))"
    scratch = tmp_path / "scratch"
    nb = _run(_notebook(hook, "print('last cell')"), scratch, Limits(cpu_seconds_per_cell=30))
    assert _stdout(nb.cells[1]) == "last cell\n"
    assert not (scratch / "exit-hook-ran").exists()


@pytest.mark.slow
def test_unsandboxed_kernel_keeps_limits_and_scratch(tmp_path):
    """With the sandbox opted out, does the kernel still start in its scratch folder with its limits?"""
    nb = _run(_notebook("import os, resource\nprint(os.getcwd(), resource.getrlimit(resource.RLIMIT_NPROC)[0])"),
              tmp_path / "scratch", Limits(nproc=4000), sandboxed=False)
    assert _stdout(nb.cells[0]) == f"{(tmp_path / 'scratch').resolve()} 4000\n"


def test_grader_builds_the_font_list_the_kernels_load(tmp_path):
    """With no font list of its own, does the grader build one, named as a kernel's matplotlib loads it unchanged?"""
    import os
    import subprocess

    def python(code: str, config: Path) -> str:
        env = dict(os.environ, MPLCONFIGDIR=str(config))
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    grader, kernel = tmp_path / "grader", tmp_path / "kernel"
    grader.mkdir()
    built = Path(python("from tapelab.grading import sandbox; print(sandbox.matplotlib_font_list())", grader))
    assert built.parent == grader and built.is_file()
    kernel.mkdir()
    (kernel / built.name).write_bytes(built.read_bytes())
    stamp = (kernel / built.name).stat().st_mtime_ns
    python("import matplotlib.font_manager", kernel)  # a kernel's matplotlib rebuilds a list it cannot use
    assert [p.name for p in kernel.iterdir()] == [built.name]
    assert (kernel / built.name).stat().st_mtime_ns == stamp


def test_limits_defaults_match_the_contract():
    """Are the default limits those the grading pipeline documents (60 s of CPU a cell, 2 GB resident, ...)?"""
    assert Limits() == Limits(cpu_seconds_per_cell=60, cpu_seconds_per_notebook=600, wall_factor=5, memory_mb=2048,
                              process_cpu_s=900, nproc=256, fsize_mb=200)
    assert Limits().address_space_mb == 8192


def test_kernel_through_a_symlinked_venv_starts(tmp_path):
    """With the virtual environment reached through a symbolic link, does a sandboxed Python start and import tapelab?

    The sandbox binds the venv at its real path; the link the kernel command names is made again inside.
    """
    import os
    import subprocess

    link = tmp_path / "links" / "venv"
    link.parent.mkdir()
    link.symlink_to(sys.prefix)
    python = str(link / "bin" / Path(sys.executable).name)
    scratch, ipc = tmp_path / "scratch", tmp_path / "ipc"
    scratch.mkdir()
    ipc.mkdir()
    uid = sandbox.kernel_uid() if os.getuid() == 0 else -1
    if uid >= 0:
        os.chown(scratch, uid, uid)
    probe = [python, "-c", "import sys, tapelab; open('ok', 'w').write(sys.executable)"]
    cmd = sandbox.bwrap_command(probe, scratch, ipc, Limits(), uid, sandbox.kernel_env(dict(os.environ), scratch,
                                                                                        python))
    made = [cmd[i:i + 3] for i, arg in enumerate(cmd) if arg == "--symlink"]
    assert ["--symlink", str(Path(sys.prefix).resolve()), str(link)] in made
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (scratch / "ok").read_text() == python


def test_the_sandbox_provisioner_is_installed():
    """Can jupyter_client find the kernel provisioner of graded kernels under its name (the installed entry point)?"""
    from importlib.metadata import entry_points

    from tapelab.grading.kernel import PROVISIONER_NAME, SandboxProvisioner

    found = entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER_NAME)
    assert [ep.load() for ep in found] == [SandboxProvisioner], (
        "reinstall tapelab (make setup) so that its entry point tapelab-sandbox is registered")


def test_the_sandbox_provisioner_is_declared_in_pyproject():
    """Does lib/pyproject.toml declare the provisioner's entry point, so that every install registers it?"""
    import tomllib

    project = tomllib.loads((REPO / "lib" / "pyproject.toml").read_text())["project"]
    declared = project.get("entry-points", {}).get("jupyter_client.kernel_provisioners", {})
    assert declared == {"tapelab-sandbox": "tapelab.grading.kernel:SandboxProvisioner"}


def test_only_graded_kernels_get_the_sandbox_provisioner():
    """Does SandboxedKernelManager start the python3 kernel spec with the sandbox provisioner, a plain manager not?"""
    from jupyter_client.manager import AsyncKernelManager

    from tapelab.grading.kernel import PROVISIONER_NAME, SandboxedKernelManager

    graded = SandboxedKernelManager(kernel_name="python3").kernel_spec.metadata
    plain = AsyncKernelManager(kernel_name="python3").kernel_spec.metadata
    assert graded["kernel_provisioner"] == {"provisioner_name": PROVISIONER_NAME, "config": {}}
    assert "kernel_provisioner" not in plain
