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


def _share_compiled_templates() -> None:
    """Keep the HTML exporter's compiled jinja templates in this process, for every exporter and fork.

    nbconvert builds a new jinja environment per exporter, so each job's feedback HTML
    would parse and compile the same templates again. A compiled template is reused
    only while its source is unchanged (jinja checks a checksum).
    """
    import jinja2
    from nbconvert.exporters.templateexporter import TemplateExporter

    class Compiled(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.store: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.store[bucket.key] = bucket.bytecode_to_string()

    if getattr(TemplateExporter, "_tapelab_compiled", None) is not None:
        return
    compiled, create = Compiled(), TemplateExporter._create_environment

    def create_environment(self: TemplateExporter) -> jinja2.Environment:
        env = create(self)
        env.bytecode_cache = compiled
        return env

    TemplateExporter._create_environment = create_environment
    TemplateExporter._tapelab_compiled = compiled


def _warm_up() -> None:
    """Validate a small notebook and render it as feedback HTML once, as every job will.

    Children then start with nbformat's schema validator built, the HTML exporter's
    modules imported, the feedback templates compiled, its syntax highlighters and
    regular expressions too (a few tenths of a second per job otherwise), and
    matplotlib's font list at hand for the kernels.
    """
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    from tapelab.grading import sandbox

    error = new_output("error", ename="AssertionError", evalue="x", traceback=["AssertionError: x"])
    nb = new_notebook(cells=[
        new_markdown_cell("# A *title*\n\nSome `code` and $x^2$."),
        new_code_cell("import math\nprint(math.pi)  # comment",
                      outputs=[new_output("stream", name="stdout", text="3.14\n"), error]),
    ])
    nbformat.validate(nb)
    _share_compiled_templates()
    feedback = GenerateFeedback(coursedir=CourseDirectory())  # its exporter settings: the feedback template
    resources = {"nbgrader": {"notebook": "warm-up", "score": 0, "max_score": 1, "late_penalty": 0}}
    HTMLExporter(config=feedback.config).from_notebook_node(nb, resources=resources)
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
