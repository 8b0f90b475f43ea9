"""Grading on an existing Dask cluster: real `dask scheduler` and `dask worker` processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading_support import ASSIGNMENT, graded_class, make_course, make_submissions

from tapelab.grading import gradebook
from tapelab.grading.cluster import CONNECT_TIMEOUT_S, SchedulerUnreachable
from tapelab.grading.driver import grade_class
from tapelab.grading.provenance import VersionMismatch, check_same_kit, kit_fingerprint

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONDONTWRITEBYTECODE="1")


class Cluster:
    """A scheduler and workers, each its own process group in its own working directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                                  "--no-dashboard"])

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        cwd = self.root / name
        cwd.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([str(BIN / "dask"), *args], cwd=cwd, env=_env(), start_new_session=True,
                                stdout=(cwd / "log").open("wb"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def add_worker(self, name: str, *extra: str) -> subprocess.Popen:
        proc = self._start(name, ["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--name", name,
                                  "--no-dashboard", "--local-directory", str(self.root / name), *extra])
        self.workers.append(proc)
        return proc

    def client(self, workers: int):
        from distributed import Client

        client = Client(self.address, timeout="60s", set_as_default=False)
        client.wait_for_workers(workers, timeout=120)
        return client

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    c.add_worker("w1")
    c.add_worker("w2")
    c.client(2).close()
    yield c
    c.stop()


def _course(root: Path, students: list[str]) -> Path:
    from grading_support import STUDENTS

    make_course(root)
    make_submissions(root / "submissions", {s: STUDENTS[s] for s in students})
    return root / "autograder" / "nbgrader_config.py"


@pytest.mark.slow
def test_cluster_grades_equal_local_grades(cluster, tmp_path):
    """Do a scheduler and two worker processes give every grade the local cluster gives?"""
    _, local = graded_class()
    config = _course(tmp_path, ["ada", "bob", "cyd", "dee"])
    report = grade_class(tmp_path / "submissions", config=config, scheduler=cluster.address, allow_unsandboxed=True)
    assert report.workers == 2
    assert {k: r.cells for k, r in report.results.items()} == {k: local.results[k].cells for k in report.results}
    assert len({r.worker for r in report.results.values()}) == 2  # both workers graded


@pytest.mark.slow
def test_killed_worker_loses_no_grade(cluster, tmp_path):
    """When one worker's process group is SIGKILLed mid-job, does the batch finish with the same grades, once each?"""
    _, local = graded_class()
    config = _course(tmp_path, ["ada", "bob", "cyd"])
    cli = subprocess.Popen([sys.executable, "-m", "tapelab.grading.cli", str(tmp_path / "submissions"),
                            "--scheduler", cluster.address, "--config", str(config), "--allow-unsandboxed",
                            "--no-progress"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = cluster.client(2)
    try:
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if any(str(k).startswith("grade-") for k in keys)]
            if busy:
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                time.sleep(2)  # the job's grading process is running now
                import psutil

                ancestors = {p.pid for p in psutil.Process(pid).parents()}
                victim = next(w for w in cluster.workers if w.pid in ancestors)
                os.killpg(victim.pid, signal.SIGKILL)
            time.sleep(0.2)
        assert victim is not None, "no grading job started"
    finally:
        client.close()
    out, _ = cli.communicate(timeout=300)
    assert cli.returncode == 0, out.decode()[-2000:]
    assert victim.wait(timeout=10) == -signal.SIGKILL
    stored = gradebook.scores(tmp_path / "autograder" / "gradebook.db")
    assert stored == {k: (local.results[k].score, local.results[k].max_score) for k in stored}
    assert sorted(stored) == [(s, ASSIGNMENT) for s in ("ada", "bob", "cyd")]
    rows = (tmp_path / "autograder" / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + 3


@pytest.mark.slow
def test_worker_with_another_kit_is_refused(tmp_path):
    """Is a cluster whose worker runs another tapelab version refused, naming both versions, with nothing written?"""
    other = Cluster(tmp_path / "dask")
    try:
        preload = tmp_path / "other_kit.py"
        preload.write_text("import tapelab\ntapelab.__version__ = '0.0.0+other'\n")
        other.add_worker("w1", "--preload", str(preload))
        other.client(1).close()
        config = _course(tmp_path / "course", ["ada"])
        with pytest.raises(VersionMismatch) as err:
            grade_class(tmp_path / "course" / "submissions", config=config, scheduler=other.address,
                        allow_unsandboxed=True)
    finally:
        other.stop()
    ours = kit_fingerprint()
    assert "runs tapelab 0.0.0+other" in str(err.value)
    assert f"the driver runs tapelab {ours['tapelab']} (pins {ours['pins']})" in str(err.value)
    assert sorted(p.name for p in (tmp_path / "course" / "autograder").iterdir()) == ["nbgrader_config.py"]


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    """Does an address where no scheduler listens give a clear error within 10 s, with nothing written?"""
    config = _course(tmp_path, ["ada"])
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachable) as err:
        grade_class(tmp_path / "submissions", config=config, scheduler=address, allow_unsandboxed=True)
    assert time.monotonic() - started < 10
    assert str(err.value) == (
        f"could not reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s (OSError): check that "
        "`dask scheduler` runs there and that this machine can open its port; nothing was graded or written.")
    assert sorted(p.name for p in (tmp_path / "autograder").iterdir()) == ["nbgrader_config.py"]


def test_version_mismatch_message_names_both():
    """Does the mismatch message name the worker's and the driver's version and pins, and the fix?"""
    with pytest.raises(VersionMismatch) as err:
        check_same_kit({"tapelab": "0.2.0", "pins": "aaa"}, {"tapelab": "0.1.0", "pins": "bbb"}, "tcp://w:1")
    assert str(err.value) == (
        "worker tcp://w:1 runs tapelab 0.1.0 (pins bbb) but the driver runs tapelab 0.2.0 (pins aaa): grades must "
        "not depend on which worker ran them, so install the same kit on every worker "
        "(pip install -c constraints.txt -e 'lib[course]') and start it again.")
    check_same_kit({"tapelab": "0.1.0", "pins": "a"}, {"tapelab": "0.1.0", "pins": "a"}, "w")


def test_local_workers_do_not_profile_the_jobs():
    """Do the kit's local workers run jobs without Dask's statistical profiler taking samples?"""
    import dask

    from tapelab.grading import cluster as grading_cluster

    def busy(seconds: float) -> int:
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            n += 1
        return n

    with grading_cluster.connect(workers=1) as client:
        assert set(client.run(lambda: dask.config.get("distributed.worker.profile.enabled")).values()) == {False}
        assert client.submit(busy, 1.0, pure=False).result() > 0
        assert client.profile()["count"] == 0
