"""A process that has imported nbgrader once and forks one grading process per job.

Starting Python and importing nbgrader, nbconvert and jupyter_client costs a few
seconds, more than grading a small notebook. Each worker therefore keeps one
zygote: a single-threaded process (forking is safe) that imports the grading
code once and, for each job, forks a child that becomes its own session and
process group, takes the job's environment and working directory, runs
:func:`tapelab.grading.runner.main` and exits. Protocol on stdin/stdout, one JSON
line each: ``{"dir": JOB_DIR, "env": {...}}`` -> ``{"pid": PID}``. The child
writes its exit status to ``JOB_DIR/exit``. Before each fork the zygote freezes
its objects out of the garbage collector's reach (``gc.freeze``), so a child's
collections do not walk everything nbgrader imported (about 0.15 s of CPU per job).

When the worker goes away (stdin closes) the zygote kills every child it forked,
with their kernels, and exits; a child whose zygote is gone stops too.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sys


def _kill_family(pids: set[int]) -> None:
    import psutil

    for pid in pids:
        try:
            family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            continue
        for proc in family:
            try:
                proc.kill()
            except psutil.Error:
                pass


def _child(job_dir: str, env: dict[str, str]) -> None:
    """In the forked child: become a session, take the job's env and cwd, grade, exit."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
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
    """Validate and render a small notebook to HTML once, as every job will.

    Children then start with nbformat's schema validator built and the HTML
    exporter's modules imported, its syntax highlighters and regular expressions
    compiled (a few tenths of a second per job otherwise), and matplotlib's font
    list at hand for the kernels.
    """
    import nbformat
    from nbconvert.exporters import HTMLExporter

    from tapelab.grading import sandbox
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    error = new_output("error", ename="AssertionError", evalue="x", traceback=["AssertionError: x"])
    nb = new_notebook(cells=[
        new_markdown_cell("# A *title*\n\nSome `code` and $x^2$."),
        new_code_cell("import math\nprint(math.pi)  # comment",
                      outputs=[new_output("stream", name="stdout", text="3.14\n"), error]),
    ])
    nbformat.validate(nb)
    HTMLExporter(template_name="classic").from_notebook_node(nb)
    sandbox.matplotlib_font_list()  # each kernel gets a copy (built here once if missing)


def main() -> int:
    # Import once what every job needs; children inherit it.
    import nbgrader.apps.api  # noqa: F401
    import nbgrader.converters  # noqa: F401
    import psutil  # noqa: F401

    from tapelab.grading import runner, schema  # noqa: F401

    schema.install()  # read nbgrader's gradebook revision once; every child inherits it
    try:
        _warm_up()
    except Exception:  # noqa: BLE001 - a speed-up only; a job that hits the same problem reports it
        pass

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    children: set[int] = set()
    stdin = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], 1.0)
        if not ready:
            continue
        line = stdin.readline()
        if not line:  # the worker is gone
            _kill_family(children)
            return 0
        request = json.loads(line)
        gc.freeze()  # the child's collections skip what the zygote holds (and leave its pages shared)
        pid = os.fork()
        if pid == 0:
            _child(request["dir"], request["env"])
        children = {p for p in children if _alive(p)} | {pid}
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
