"""Each graded kernel runs in a bubblewrap sandbox with resource limits.

A submission is untrusted code: its kernel must not reach the network, read
``solutions/``, the gradebook or other students' files, or write anywhere but
its own scratch folder. nbgrader starts kernels through jupyter_client, so the
sandbox is a kernel manager that wraps the kernel command:

    bwrap --unshare-net --unshare-pid ... --ro-bind <python> --bind <scratch> \\
        -- python -I -S -c <confine> <uid> <limits> -- python -m ipykernel_launcher -f <connection>

* The filesystem is an empty tmpfs with only what the kernel needs bound into
  it read-only (``/usr``, a few files of ``/etc``, the Python installation, the
  virtual environment, the ``tapelab`` package), plus the scratch folder
  (read-write; the kernel's cwd and HOME) and a private folder of IPC sockets.
* No network: the kernel lives in its own network namespace, so it talks to the
  grader over ZeroMQ ``ipc`` sockets (files), not TCP.
* ``confine`` runs inside the sandbox before any student code: it drops to an
  unprivileged uid (when the grader is root, a uid of its own per kernel, because
  Linux does not enforce RLIMIT_NPROC for root) and sets the limits of
  :class:`Limits` with ``setrlimit``: address space (memory), CPU seconds,
  processes and file size. Children inherit them.

:func:`check_sandbox` tells whether this machine can do all that and refuses to
grade without it unless the instructor opts out; :func:`nbgrader_config` gives
the nbgrader configuration that routes ``nbgrader autograde`` through it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

#: environment variable that opts out of the sandbox, like ``--allow-unsandboxed``.
OPT_OUT_ENV = "TAPELAB_ALLOW_UNSANDBOXED"

#: variables a kernel may inherit from the grader (these names, and names starting with these
#: prefixes); everything else (tokens, credentials, paths of the grader) stays outside.
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "CUDA_VISIBLE_DEVICES",
              "MPLBACKEND")
PASSED_ENV_PREFIXES = ("TF_", "TAPELAB_", "KERAS_", "OMP_", "MKL_", "OPENBLAS_")

#: files of /etc a Python kernel reads (dynamic loader, time zone, user names); none is secret.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "alternatives", "mime.types", "fonts", "ssl/certs")

#: first uid of the per-kernel range used when the grader runs as root.
UID_BASE = 100_000

#: the size of the sandbox's private /tmp (a tmpfs lives in memory, so it is small; scratch is on disk).
TMP_SIZE_MB = 64

# Runs inside the sandbox before the kernel: drop to the kernel's uid, set the limits, exec the kernel.
# It must not import anything that student code could have touched (it runs first, with -I -S).
_CONFINE = """
import os, resource, sys
uid, mem, cpu, nproc, fsize = (int(a) for a in sys.argv[1:6])
if uid >= 0 and os.getuid() == 0:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
for res, soft, hard in ((resource.RLIMIT_AS, mem, mem), (resource.RLIMIT_CPU, cpu, cpu + 2),
                        (resource.RLIMIT_NPROC, nproc, nproc), (resource.RLIMIT_FSIZE, fsize, fsize),
                        (resource.RLIMIT_CORE, 0, 0)):
    if soft > 0:
        resource.setrlimit(res, (soft, hard))
os.execv(sys.argv[7], sys.argv[7:])
"""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one graded kernel may use.

    cell_timeout_s: wall-clock seconds per cell (nbgrader's ``Execute.timeout``).
    notebook_timeout_s: wall-clock seconds for the whole notebook; the sandbox kills
        the kernel 30 s after it, whatever the kernel does.
    memory_mb: address space of each kernel process (RLIMIT_AS); an allocation beyond
        it raises MemoryError in the cell.
    cpu_s: CPU seconds of each kernel process (RLIMIT_CPU); the kernel is killed after it.
    nproc: processes and threads of the kernel's uid (RLIMIT_NPROC); stops fork bombs.
    fsize_mb: largest file the kernel may write (RLIMIT_FSIZE).
    """

    cell_timeout_s: int = 120
    notebook_timeout_s: int = 600
    memory_mb: int = 2048
    cpu_s: int = 900
    nproc: int = 256
    fsize_mb: int = 200


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here and the instructor did not opt out of the sandbox."""


# ----------------------------------------------------------------------------- the bwrap command


def _bwrap() -> str | None:
    return shutil.which("bwrap")


def _python_roots(python: str) -> list[Path]:
    """Directories the kernel's Python needs: its installation, its virtual environment, tapelab."""
    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix)}
    exe = Path(python)
    if (exe.parent.parent / "pyvenv.cfg").is_file():
        roots.add(exe.parent.parent)
    roots.add(Path(os.path.realpath(exe)).parent.parent)
    import tapelab

    roots.add(Path(tapelab.__file__).resolve().parent)
    roots = {r.resolve() for r in roots if r.exists()}
    # Binding /usr already covers a Python that lives there; drop roots inside another root.
    out = [r for r in roots if not any(o != r and o in r.parents for o in roots)]
    return sorted(r for r in out if Path("/usr") not in r.parents and r != Path("/usr"))


def _mkdirs(dest: Path, made: set[Path]) -> list[str]:
    """Create `dest`'s parents world-readable (bwrap would make them 0700, unreadable after the uid drop)."""
    args: list[str] = []
    for parent in reversed(dest.parents):
        if parent != Path("/") and parent not in made:
            made.add(parent)
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def bwrap_command(kernel_cmd: list[str], scratch: Path, ipc_dir: Path, limits: Limits, uid: int,
                  env: dict[str, str]) -> list[str]:
    """The full command line that runs `kernel_cmd` sandboxed (see the module docstring)."""
    bwrap = _bwrap()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    root = os.getuid() == 0
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv"]
    if not root:  # as root, confine drops to the kernel's own uid instead (it needs CAP_SETUID until then)
        args += ["--unshare-user", "--disable-userns"]
    args += ["--perms", "0755", "--tmpfs", "/", "--ro-bind", "/usr", "/usr"]
    made: set[Path] = {Path("/usr")}
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--perms", "0755", "--dir", "/etc"]
    made.add(Path("/etc"))
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += _mkdirs(path, made) + ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(TMP_SIZE_MB << 20), "--tmpfs", "/tmp"]
    made.add(Path("/tmp"))
    # After /tmp's tmpfs, so that a checkout (and its .venv) under /tmp stays visible.
    for path in _python_roots(kernel_cmd[0]):
        args += _mkdirs(path, made) + ["--ro-bind", str(path), str(path)]
    for path in (scratch, ipc_dir):
        args += _mkdirs(path, made) + ["--bind", str(path), str(path)]
    args += ["--chdir", str(scratch)]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args + ["--", *confine_command(kernel_cmd, limits, uid)]


def confine_command(kernel_cmd: list[str], limits: Limits, uid: int) -> list[str]:
    """`kernel_cmd` preceded by the uid drop and the setrlimit calls (see ``_CONFINE``)."""
    numbers = [uid, limits.memory_mb << 20, limits.cpu_s, limits.nproc, limits.fsize_mb << 20]
    return [kernel_cmd[0], "-I", "-S", "-c", _CONFINE, *map(str, numbers), "--", *kernel_cmd]


def kernel_env(base: dict[str, str], scratch: Path, python: str) -> dict[str, str]:
    """The kernel's whole environment: a few safe variables of the grader's, HOME and TMPDIR inside."""
    env = {k: v for k, v in base.items() if k in PASSED_ENV or k.startswith(PASSED_ENV_PREFIXES)}
    env.update(HOME=str(scratch), TMPDIR="/tmp", USER="student", LOGNAME="student",
               PATH=os.pathsep.join([str(Path(python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
               MPLCONFIGDIR=str(scratch / ".config" / "matplotlib"), PYTHONNOUSERSITE="1")
    env.setdefault("LANG", "C.UTF-8")
    return env


#: names that mark an nbgrader course folder; none may be inside a kernel's scratch folder.
COURSE_NAMES = ("gradebook.db", "source", "release", "submitted", "autograded", "feedback", "course")


def matplotlib_font_list() -> Path | None:
    """This process's matplotlib font list (built now if missing), as the kernels' matplotlib names it."""
    try:
        import matplotlib
        from matplotlib import font_manager
    except ImportError:  # pragma: no cover - matplotlib is part of the course
        return None
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return path if path.is_file() else None


def check_scratch(scratch: Path) -> None:
    """Refuse a scratch folder that holds grading material: the kernel can read and change all of it."""
    for name in COURSE_NAMES:
        if (scratch / name).exists():
            raise ValueError(
                f"the kernel's scratch folder must be a folder of its own, but {scratch} holds {name}, "
                "which the student's kernel could read and change; pass an empty folder (e.g. JOB_DIR/scratch)")


_uids = itertools.count()


def _kernel_uid() -> int:
    """A uid no other live kernel on this machine has: processes are counted per uid (RLIMIT_NPROC)."""
    return UID_BASE + (os.getpid() % 4_194_304) * 64 + next(_uids) % 64


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _grandchild(pid: int | None) -> int | None:
    """The kernel's pid as the grader sees it: bwrap -> bwrap's init in the sandbox -> the kernel."""
    if pid is None:
        return None
    for child in _children(pid):
        for grandchild in _children(child):
            return grandchild
    return None


# ----------------------------------------------------------------------------- check


_probe_cache: dict[str, str | None] = {}


def _probe() -> str | None:
    """None when a sandboxed Python starts here, else why not (one sentence)."""
    if "result" in _probe_cache:
        return _probe_cache["result"]
    result: str | None
    if _bwrap() is None:
        result = "bubblewrap (bwrap) is not installed"
    else:
        with tempfile.TemporaryDirectory(prefix="tl-probe-") as tmp:
            scratch, ipc = Path(tmp) / "scratch", Path(tmp) / "ipc"
            scratch.mkdir()
            ipc.mkdir()
            uid = _kernel_uid() if os.getuid() == 0 else -1
            if uid >= 0:
                os.chown(scratch, uid, uid)
            probe = [sys.executable, "-c", "import os, tapelab; open('ok', 'w').write(str(os.getuid()))"]
            cmd = bwrap_command(probe, scratch, ipc, Limits(), uid, kernel_env(dict(os.environ), scratch,
                                                                               sys.executable))
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as err:
                done = None
                result = f"bubblewrap did not start a sandboxed Python: {err}"
            if done is not None:
                ok = (scratch / "ok").is_file()
                last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                result = None if done.returncode == 0 and ok else (
                    f"bubblewrap is installed but could not start a sandboxed Python ({last}); "
                    "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone)")
    _probe_cache["result"] = result
    return result


def check_sandbox(allow_unsandboxed: bool = False) -> str:
    """One line saying how kernels are contained; raise SandboxUnavailable when they cannot be.

    The instructor opts out of the sandbox with ``--allow-unsandboxed`` on the grading
    command (passed here as `allow_unsandboxed`) or ``TAPELAB_ALLOW_UNSANDBOXED=1``;
    limits still apply then, but student code can read and write what the grader can.
    """
    problem = _probe()
    if problem is None:
        who = "its own unprivileged uid" if os.getuid() == 0 else f"uid {os.getuid()} in a user namespace"
        return (f"sandboxed: each kernel runs in bubblewrap as {who}, without network, "
                "seeing only Python, tapelab and its scratch folder")
    if allow_unsandboxed or os.environ.get(OPT_OUT_ENV, "") not in ("", "0"):
        return (f"UNSANDBOXED: {problem}; student code runs with the grader's rights "
                "(opted out with --allow-unsandboxed or TAPELAB_ALLOW_UNSANDBOXED=1)")
    raise SandboxUnavailable(
        f"Grading needs a sandbox for student code, but {problem}. Install bubblewrap "
        "(Debian/Ubuntu: apt-get install bubblewrap), or opt out explicitly with --allow-unsandboxed "
        "or TAPELAB_ALLOW_UNSANDBOXED=1 if you trust every submission.")


# ----------------------------------------------------------------------------- the kernel manager


def describe_exit(returncode: int | None, limits: Limits, wall_killed: bool = False) -> str:
    """Why a kernel stopped, in the words the student reads in the feedback."""
    if wall_killed:
        return (f"the kernel was stopped: the notebook ran past its wall-clock limit of "
                f"{limits.notebook_timeout_s} s (an endless loop, or far too much work)")
    signo = None
    if returncode is not None and returncode < 0:
        signo = -returncode
    elif returncode is not None and returncode > 128:
        signo = returncode - 128
    if signo in (signal.SIGXCPU, signal.SIGKILL):
        return (f"the kernel was stopped, most likely by its CPU-time limit of {limits.cpu_s} s "
                f"(or by running out of its {limits.memory_mb} MB of memory)")
    if signo in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return (f"the kernel crashed (signal {signal.Signals(signo).name}), most likely out of its "
                f"{limits.memory_mb} MB memory limit or from too deep recursion")
    if signo == signal.SIGXFSZ:
        return f"the kernel was stopped: it wrote a file larger than the limit of {limits.fsize_mb} MB"
    if signo is not None:
        return f"the kernel was stopped by signal {signal.Signals(signo).name}"
    if returncode is not None:
        return (f"the kernel exited with status {returncode} (os._exit, a crash, or running out of its "
                f"{limits.memory_mb} MB memory limit); cells after this one did not run")
    return "the kernel stopped responding"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel in bubblewrap, with limits, on IPC sockets.

    Configure it under ``SandboxedKernelManager`` (see :func:`nbgrader_config`).
    """

    scratch = Unicode("", help="the kernel's only writable folder (its cwd and HOME)").tag(config=True)
    sandboxed = Bool(True, help="False: limits and scratch cwd only, no bubblewrap").tag(config=True)
    memory_mb = Integer(Limits.memory_mb).tag(config=True)
    cpu_s = Integer(Limits.cpu_s).tag(config=True)
    nproc = Integer(Limits.nproc).tag(config=True)
    fsize_mb = Integer(Limits.fsize_mb).tag(config=True)
    notebook_timeout_s = Integer(Limits.notebook_timeout_s).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ipc_dir: Path | None = None
        self._uid = -1
        self._watchdog: threading.Timer | None = None
        self.wall_killed = False

    @property
    def limits(self) -> Limits:
        return Limits(notebook_timeout_s=self.notebook_timeout_s, memory_mb=self.memory_mb, cpu_s=self.cpu_s,
                      nproc=self.nproc, fsize_mb=self.fsize_mb)

    def _scratch(self) -> Path:
        if not self.scratch:
            raise ValueError("SandboxedKernelManager.scratch must name the kernel's scratch folder")
        path = Path(self.scratch).resolve()
        path.mkdir(parents=True, exist_ok=True)
        check_scratch(path)
        return path

    async def _async_pre_start_kernel(self, **kw: Any):  # type: ignore[override]
        # Sockets are files in a private folder that is bound into the sandbox at the same path.
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="tl-ipc-"))
        self.transport = "ipc"
        self.connection_file = str(self._ipc_dir / "kernel.json")
        self.ip = str(self._ipc_dir / "k")
        self._uid = _kernel_uid() if os.getuid() == 0 else -1
        kw["cwd"] = str(self._scratch())
        self._seed_matplotlib_cache(self._scratch())
        return await super()._async_pre_start_kernel(**kw)

    def _seed_matplotlib_cache(self, scratch: Path) -> None:
        """Copy the grader's matplotlib font list into the kernel's config folder (saves its rebuild per kernel).

        The grader builds its own once if it has none: importing ``matplotlib.font_manager`` does.
        """
        font_list = matplotlib_font_list()
        if font_list is not None:
            target = scratch / ".config" / "matplotlib"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(font_list, target / font_list.name)

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self._uid >= 0:  # the kernel reads it after dropping to its own uid
            for path in (self._ipc_dir, Path(self.connection_file)):
                os.chown(path, self._uid, self._uid)
            scratch = self._scratch()
            for folder, dirs, files in os.walk(scratch):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, self._uid, self._uid, follow_symlinks=False)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        scratch = self._scratch()
        base = dict(self._launch_args.get("env") or os.environ)
        env = kernel_env(base, scratch, cmd[0])
        if not self.sandboxed:
            self._launch_args["env"] = {**base, **env, "PATH": base.get("PATH", env["PATH"])}
            return confine_command(cmd, self.limits, -1)
        assert self._ipc_dir is not None
        return bwrap_command(cmd, scratch, self._ipc_dir, self.limits, self._uid, env)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.sandboxed and "env" in kw:  # bwrap itself gets the grader's env; the kernel gets --setenv only
            kw["env"] = {k: v for k, v in kw["env"].items() if k != "JPY_PARENT_PID"}
        # The kernel's own stdout/stderr (os.write(1, ...)) must not flood the grader's log.
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        self.wall_killed = False
        self._watchdog = threading.Timer(self.notebook_timeout_s + 30, self._wall_kill)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _wall_kill(self) -> None:
        process = getattr(self.provisioner, "process", None)
        if process is not None and process.poll() is None:
            self.wall_killed = True
            process.kill()

    async def _async_interrupt_kernel(self) -> None:
        # SIGINT to the bwrap process would not reach the kernel (a pid namespace and another session
        # lie between them), and ipykernel's interrupt_request does not interrupt running code: send
        # SIGINT to the kernel itself, bwrap's grandchild.
        if not self.sandboxed:
            return await super()._async_interrupt_kernel()
        pid = _grandchild(getattr(getattr(self.provisioner, "process", None), "pid", None))
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    interrupt_kernel = _async_interrupt_kernel  # AsyncKernelManager binds the public names to the base class

    def stop_reason(self) -> str:
        """Why the kernel is gone, for the feedback (see :func:`describe_exit`)."""
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        return describe_exit(code, self.limits, self.wall_killed)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        await super()._async_cleanup_resources(restart=restart)
        if self._ipc_dir is not None and not restart:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


# ----------------------------------------------------------------------------- nbgrader


#: first line of the error output of the cells that did not run after the kernel stopped.
NOT_RUN = "not run: the kernel had stopped in an earlier cell"
#: what a cell shows when the kernel died and the kernel manager cannot say why.
DIED = "the kernel died while this cell ran"
#: what a cell shows when the kernel stopped answering the grader (its IPython machinery broken).
UNRESPONSIVE = ("the kernel stopped answering the grader while this cell ran and was stopped: the cell kept "
                "running past its time limit although it was interrupted, or it broke the kernel itself "
                "(replaced builtins or IPython internals)")


class SandboxedExecute(Execute):
    """nbgrader's Execute with kernels from :class:`SandboxedKernelManager`.

    When the kernel dies (a limit, os._exit, a crash) the cell that was running gets an
    error output saying why, and every later code cell an error ``NOT_RUN``: nbgrader
    then scores the cells that finished and fails the rest, and the batch goes on.
    """

    max_output_bytes = Integer(1 << 20, help="output kept per cell; the rest is dropped").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):  # type: ignore[override]
        self.stop_reason: str | None = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):  # type: ignore[override]
        if cell.cell_type != "code" or getattr(self, "stop_reason", None) is None:
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                km = self.km
                self.stop_reason = km.stop_reason() if isinstance(km, SandboxedKernelManager) else DIED
                cell.outputs.append(_error("KernelStopped", self.stop_reason))
                return cell, self.resources
            except Exception as err:  # noqa: BLE001 - a kernel the student broke can fail in many ways
                self.stop_reason = f"{UNRESPONSIVE} ({type(err).__name__})"
                process = getattr(getattr(self.km, "provisioner", None), "process", None)
                if process is not None and process.poll() is None:
                    process.kill()  # bwrap takes the whole sandbox with it
                cell.outputs.append(_error("KernelStopped", self.stop_reason))
                return cell, self.resources
        cell.outputs = [_error("NotRun", NOT_RUN)]
        return cell, self.resources

    def process_message(self, msg, cell, cell_index):  # type: ignore[override]
        """Keep at most ``max_output_bytes`` of output per cell; a flood of prints stays in the kernel."""
        if msg.get("msg_type") in ("stream", "display_data", "execute_result", "update_display_data"):
            content = msg.get("content", {})
            size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
            self._output_bytes = getattr(self, "_output_bytes", {})
            used = self._output_bytes.get(cell_index, 0) + size
            self._output_bytes[cell_index] = used
            if used > self.max_output_bytes:
                if used - size <= self.max_output_bytes:
                    cell.outputs.append(NotebookNode(
                        output_type="stream", name="stderr",
                        text=f"\n[output truncated: this cell printed more than {self.max_output_bytes >> 20} MB]\n"))
                return None
        return super().process_message(msg, cell, cell_index)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def nbgrader_config(scratch: Path, limits: Limits, sandboxed: bool = True) -> dict:
    """nbgrader config sections that run every graded kernel sandboxed with `limits`.

    Merge the result into the job's config before ``nbgrader autograde``. It replaces
    nbgrader's Execute by :class:`SandboxedExecute` in ``Autograde.autograde_preprocessors``
    (a pipeline with its own Execute subclass derives it from SandboxedExecute instead)
    and configures :class:`SandboxedKernelManager`. Each kernel is stopped at once when its last
    cell has run: its outputs are in, and nbgrader's graceful default waits about a second per
    kernel for TensorFlow to shut down. `sandboxed=False` (after
    ``check_sandbox(True)`` found no bubblewrap) keeps the limits and the scratch cwd only.
    All values are plain strings and numbers, so the dict travels as JSON.
    """
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    preprocessors = [f"{__name__}.SandboxedExecute" if p is Execute else f"{p.__module__}.{p.__qualname__}"
                     for p in default]
    return {
        "Autograde": {"autograde_preprocessors": preprocessors},
        "Execute": {"timeout": int(limits.cell_timeout_s), "shutdown_kernel": "immediate"},
        "SandboxedKernelManager": {
            "scratch": str(Path(scratch).resolve()), "sandboxed": bool(sandboxed),
            "memory_mb": int(limits.memory_mb), "cpu_s": int(limits.cpu_s), "nproc": int(limits.nproc),
            "fsize_mb": int(limits.fsize_mb), "notebook_timeout_s": int(limits.notebook_timeout_s),
        },
    }
