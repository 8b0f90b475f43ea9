"""Each graded kernel runs in a bubblewrap sandbox with resource limits.

A submission is untrusted code: its kernel must not reach the network, read
``solutions/``, the gradebook or other students' files, or write anywhere but
its own scratch folder. nbgrader starts kernels through jupyter_client, so the
sandbox is a kernel provisioner (:mod:`tapelab.grading.kernel`) that wraps the kernel command:

    bwrap --unshare-net --unshare-pid ... --ro-bind <python> --bind <scratch> \\
        -- python -I -S -c <confine> <uid> <limits> -- python -m ipykernel_launcher -f <connection>

* The filesystem is an empty tmpfs with only what the kernel needs bound into
  it read-only (``/usr``, a few files of ``/etc``, the Python installation, the
  virtual environment, the ``tapelab`` package), plus the scratch folder
  (read-write; the kernel's cwd and HOME) and a private folder of IPC sockets.
* No network: the kernel lives in its own network namespace, so it talks to the
  grader over ZeroMQ ``ipc`` sockets (files), not TCP.
* The kernel command names the same files inside as outside: a symbolic link on
  its way (a ``.venv`` that is a link, say) is made again inside the sandbox.
* ``confine`` runs inside the sandbox before any student code: it drops to an
  unprivileged uid (when the grader is root, a uid of its own per kernel, because
  Linux does not enforce RLIMIT_NPROC for root) and sets per-process backstops
  with ``setrlimit``: address space, CPU seconds, processes and file size
  (:class:`~tapelab.grading.limits.Limits`). Children inherit them. The limits a
  student meets, CPU seconds per cell and resident memory of the whole kernel, are
  watched from outside (:mod:`tapelab.grading.kernel`, :mod:`tapelab.grading.watchdog`).

:func:`check_sandbox` tells whether this machine can do all that and refuses to
grade without it unless the instructor opts out; :func:`nbgrader_config` gives
the nbgrader configuration that routes ``nbgrader autograde`` through it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nbgrader.preprocessors import Execute

from tapelab.grading.limits import Limits

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


def _links_on_the_way(path: str, bound: list[Path]) -> list[tuple[Path, Path]]:
    """(link, target) for each symbolic link on the way to `path` outside the `bound` folders.

    Inside a bound folder the bind shows its links as they are; outside, the sandbox has
    only what is made in it, so these links must be made again for `path` to work there.
    """
    links: list[tuple[Path, Path]] = []
    current, rest = Path("/"), list(Path(os.path.abspath(path)).parts[1:])
    while rest:
        current = current / rest.pop(0)
        if any(current == b or b in current.parents for b in bound):
            break
        if current.is_symlink():
            target = Path(os.path.realpath(current))
            links.append((current, target))
            current = target
    return links


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
    roots = _python_roots(kernel_cmd[0])
    for path in roots:
        args += _mkdirs(path, made) + ["--ro-bind", str(path), str(path)]
    tops = [Path("/usr"), Path("/etc"), *(Path("/") / t for t in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"))]
    for link, target in _links_on_the_way(kernel_cmd[0], roots + tops):
        if link not in made:
            args += _mkdirs(link, made) + ["--symlink", str(target), str(link)]
    for path in (scratch, ipc_dir):
        args += _mkdirs(path, made) + ["--bind", str(path), str(path)]
    args += ["--chdir", str(scratch)]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args + ["--", *confine_command(kernel_cmd, limits, uid)]


def confine_command(kernel_cmd: list[str], limits: Limits, uid: int) -> list[str]:
    """`kernel_cmd` preceded by the uid drop and the setrlimit calls (see ``_CONFINE``)."""
    numbers = [uid, limits.address_space_mb << 20, limits.process_cpu_s, limits.nproc, limits.fsize_mb << 20]
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


class KernelUids:
    """The uids of kernels started by this process while the grader runs as root, one after another.

    The n-th kernel of the process with pid p gets UID_BASE + (p mod 2²²)·64 + (n mod 64): no two
    live kernels on one machine share a uid (processes are counted per uid, RLIMIT_NPROC) as
    long as a grading process runs fewer than 64 kernels at a time.
    """

    def __init__(self) -> None:
        self._count = itertools.count()

    def next(self) -> int:
        return UID_BASE + (os.getpid() % 4_194_304) * 64 + next(self._count) % 64


#: the uids this process gives its kernels (a forked process continues the count under its own pid).
KERNEL_UIDS = KernelUids()


def kernel_uid() -> int:
    """A uid no other live kernel on this machine has (see :class:`KernelUids`)."""
    return KERNEL_UIDS.next()


# ----------------------------------------------------------------------------- check


@dataclasses.dataclass(frozen=True)
class SandboxCheck:
    """How this machine contains kernels: ``sandboxed`` or not, and the line that says so (``note``)."""

    sandboxed: bool
    note: str

    def __str__(self) -> str:
        return self.note


@functools.cache
def probe() -> str | None:
    """None when a sandboxed Python starts here, else why not (one sentence).

    Tried once per process (it starts a sandbox); ``probe.cache_clear()`` tries again.
    """
    result: str | None
    if _bwrap() is None:
        result = "bubblewrap (bwrap) is not installed"
    else:
        with tempfile.TemporaryDirectory(prefix="tl-probe-") as tmp:
            scratch, ipc = Path(tmp) / "scratch", Path(tmp) / "ipc"
            scratch.mkdir()
            ipc.mkdir()
            uid = kernel_uid() if os.getuid() == 0 else -1
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
    return result


def check_sandbox(allow_unsandboxed: bool = False) -> SandboxCheck:
    """How kernels are contained here; raise SandboxUnavailable when they cannot be.

    The instructor opts out of the sandbox with ``--allow-unsandboxed`` on the grading
    command (passed here as `allow_unsandboxed`) or ``TAPELAB_ALLOW_UNSANDBOXED=1``;
    limits still apply then, but student code can read and write what the grader can.
    """
    problem = probe()
    if problem is None:
        who = "its own unprivileged uid" if os.getuid() == 0 else f"uid {os.getuid()} in a user namespace"
        return SandboxCheck(True, f"sandboxed: each kernel runs in bubblewrap as {who}, without network, "
                                  "seeing only Python, tapelab and its scratch folder")
    if allow_unsandboxed or os.environ.get(OPT_OUT_ENV, "") not in ("", "0"):
        return SandboxCheck(False, f"UNSANDBOXED: {problem}; student code runs with the grader's rights "
                                   "(opted out with --allow-unsandboxed or TAPELAB_ALLOW_UNSANDBOXED=1)")
    raise SandboxUnavailable(
        f"Grading needs a sandbox for student code, but {problem}. Install bubblewrap "
        "(Debian/Ubuntu: apt-get install bubblewrap), or opt out explicitly with --allow-unsandboxed "
        "or TAPELAB_ALLOW_UNSANDBOXED=1 if you trust every submission.")


# ----------------------------------------------------------------------------- nbgrader


def nbgrader_config(scratch: Path, limits: Limits, sandboxed: bool = True) -> dict:
    """nbgrader config sections that run every graded kernel sandboxed, watched, with `limits`.

    Merge the result into the job's config before ``nbgrader autograde``. It replaces
    nbgrader's Execute by :class:`~tapelab.grading.budget.BudgetedExecute` in
    ``Autograde.autograde_preprocessors`` and configures it and the kernels'
    :class:`~tapelab.grading.kernel.SandboxProvisioner`. ``Execute.timeout`` is the
    wall-clock backstop of a cell of the default budget. Each kernel is stopped at once when
    its last cell has run: its outputs are in, and nbgrader's graceful default waits about a
    second per kernel for TensorFlow to shut down. `sandboxed=False` (after
    ``check_sandbox(True)`` found no bubblewrap) keeps the limits and the scratch cwd only.
    All values are plain strings and numbers, so the dict travels as JSON.
    """
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    preprocessors = ["tapelab.grading.budget.BudgetedExecute" if p is Execute else f"{p.__module__}.{p.__qualname__}"
                     for p in default]
    return {
        "Autograde": {"autograde_preprocessors": preprocessors},
        "Execute": {"timeout": math.ceil(limits.wall_factor * limits.cpu_seconds_per_cell),
                    "shutdown_kernel": "immediate"},
        "BudgetedExecute": {"cpu_seconds_per_cell": float(limits.cpu_seconds_per_cell),
                            "cpu_seconds_per_notebook": float(limits.cpu_seconds_per_notebook),
                            "wall_factor": float(limits.wall_factor),
                            "max_output_bytes": int(limits.output_chars)},
        "SandboxProvisioner": {
            "scratch": str(Path(scratch).resolve()), "sandboxed": bool(sandboxed),
            "memory_mb": int(limits.memory_mb), "process_cpu_s": int(limits.process_cpu_s),
            "nproc": int(limits.nproc), "fsize_mb": int(limits.fsize_mb),
            "notebook_wall_s": float(limits.notebook_wall_s), "output_chars": int(limits.output_chars),
        },
    }
