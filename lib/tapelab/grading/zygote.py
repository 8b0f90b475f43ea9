"""A process that has imported nbgrader once and forks one grading process per job.

Starting Python and importing nbgrader, nbconvert and jupyter_client costs a few
seconds, more than grading a small notebook. Each worker therefore keeps one
zygote: a single-threaded process (forking is safe) that imports the grading
code once and, for each job, forks a child that becomes its own session and
process group, takes the job's environment and working directory, runs
:func:`tapelab.grading.runner.main` and exits. The child writes its exit status to
``JOB_DIR/exit``. Before each fork the zygote freezes its objects out of the garbage
collector's reach (``gc.freeze``), so a child's collections do not walk everything
nbgrader imported (about 0.15 s of CPU per job).

Protocol, over a Unix socket: the worker sends one JSON line ``{"dir": JOB_DIR, "env":
{...}}``; the zygote forks and answers ``{"pid": PID}`` with a pidfd of the child attached.
The worker waits on that pidfd, which Linux makes readable when the child exits: no
polling, and no other process mistaken for the child (the zygote reaps its children only
after it has opened their pidfds).

When the worker goes away (the socket closes) the zygote kills every child it forked,
with their kernels, and exits; a child whose zygote is gone stops too.
:class:`Zygote` is the worker's side.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import select
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tapelab.grading import processes

# ----------------------------------------------------------------------------- the worker's side


@dataclasses.dataclass
class Forked:
    """A grading process the zygote forked: its pid and a pidfd that becomes readable when it exits."""

    pid: int
    pidfd: int

    def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` seconds for the process to exit; whether it did."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(max(0, round(timeout_s * 1000))))

    def close(self) -> None:
        os.close(self.pidfd)


class Zygote:
    """The worker's handle on its zygote, started on the first :meth:`fork` (and again if it died).

    `env` is the zygote's environment; each job brings its own. :meth:`close` ends the zygote
    and the grading processes it forked.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None

    def fork(self, job_dir: Path, env: dict[str, str]) -> Forked:
        """Start the grading process of `job_dir` with `env`."""
        request = json.dumps({"dir": str(job_dir), "env": env}).encode() + b"\n"
        with self._lock:
            for attempt in (1, 2):
                if self._process is None or self._process.poll() is not None:
                    self._start()
                try:
                    self._socket.sendall(request)
                    reply, fds, _, _ = socket.recv_fds(self._socket, 1024, 1)
                    return Forked(int(json.loads(reply)["pid"]), fds[0])
                except (OSError, ValueError, KeyError, IndexError):
                    self._stop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tapelab.grading.zygote", str(theirs.fileno())], pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env,
                start_new_session=True)
        self._socket = ours

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()  # the zygote kills its children and exits
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                processes.kill_tree(self._process.pid)
                self._process.wait()
            self._process = None


# ----------------------------------------------------------------------------- the zygote's side


def _child(job_dir: str, env: dict[str, str]) -> None:
    """In the forked child: become a session, take the job's env and cwd, grade, exit."""
    code = 1
    try:
        os.setsid()
        os.environ.clear()
        os.environ.update(env)
        os.chdir(job_dir)
        log = os.open(os.path.join(job_dir, "runner.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from tapelab.grading import runner

        code = runner.main([job_dir])
    except BaseException:  # noqa: BLE001 - report anything, then leave without running the zygote's code
        import traceback

        traceback.print_exc()
    finally:
        try:
            with open(os.path.join(job_dir, "exit"), "w") as f:
                f.write(str(code))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _warm_up() -> None:
    """Validate a small notebook and render it as feedback HTML once, as every job will.

    Children then start with nbformat's schema validator built, the HTML exporter's
    modules imported, the feedback templates compiled (:mod:`tapelab.grading.templates`),
    its syntax highlighters and regular expressions too (a few tenths of a second per job
    otherwise), nbgrader's gradebook revision read, and matplotlib's font list at hand for
    the kernels.
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    from tapelab.grading import sandbox, schema
    from tapelab.grading.templates import FeedbackExporter

    error = new_output("error", ename="AssertionError", evalue="x", traceback=["AssertionError: x"])
    nb = new_notebook(cells=[
        new_markdown_cell("# A *title*\n\nSome `code` and $x^2$."),
        new_code_cell("import math\nprint(math.pi)  # comment",
                      outputs=[new_output("stream", name="stdout", text="3.14\n"), error]),
    ])
    nbformat.validate(nb)
    feedback = GenerateFeedback(coursedir=CourseDirectory())  # its exporter settings: the feedback template
    resources = {"nbgrader": {"notebook": "warm-up", "score": 0, "max_score": 1, "late_penalty": 0}}
    FeedbackExporter(config=feedback.config).from_notebook_node(nb, resources=resources)
    schema.alembic_head()
    sandbox.matplotlib_font_list()  # each kernel gets a copy (built here once if missing)


def _read_line(sock: socket.socket) -> bytes:
    """One request line (b"" when the worker is gone); the worker sends the next only after the answer."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        line += chunk
    return line


def _reap(children: set[int]) -> None:
    """Collect the exit status of every child that has ended (their pidfds already told the worker)."""
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    # Import once what every job needs; children inherit it.
    import nbgrader.apps.api  # noqa: F401
    import nbgrader.converters  # noqa: F401
    import psutil  # noqa: F401

    from tapelab.grading import runner  # noqa: F401

    try:
        _warm_up()
    except Exception:  # noqa: BLE001 - a speed-up only; a job that hits the same problem reports it
        pass

    children: set[int] = set()
    while True:
        ready, _, _ = select.select([sock], [], [], 1.0)
        _reap(children)
        if not ready:
            continue
        line = _read_line(sock)
        if not line:  # the worker is gone
            for pid in children:
                processes.kill_tree(pid)
            return 0
        request = json.loads(line)
        gc.freeze()  # the child's collections skip what the zygote holds (and leave its pages shared)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(request["dir"], request["env"])
        children.add(pid)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
