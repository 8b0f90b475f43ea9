"""The command line of a sandboxed kernel: bubblewrap around a confining prelude around the kernel.

:func:`bwrap_command` builds (it starts nothing)

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
* ``confine`` (:func:`confine_command`) runs inside the sandbox before any student
  code: it drops to an unprivileged uid (when the grader is root, a uid of its own per
  kernel, because Linux does not enforce RLIMIT_NPROC for root) and sets per-process
  backstops with ``setrlimit``: address space, CPU seconds, processes and file size
  (:class:`~tapelab.grading.limits.Limits`). Children inherit them.
* The environment is cleared; :func:`kernel_env` says which of the grader's
  variables the kernel gets, and sets HOME, TMPDIR and PATH for inside.

Whether this machine can run it at all is :func:`tapelab.grading.sandbox.check_sandbox`'s question.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tapelab.grading.limits import Limits

#: variables a kernel may inherit from the grader (these names, and names starting with these
#: prefixes); everything else (tokens, credentials, paths of the grader) stays outside.
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "CUDA_VISIBLE_DEVICES",
              "MPLBACKEND", "PYTHONPATH")  # PYTHONPATH: the kernel imports the grader's tapelab (a wheel's, say)
PASSED_ENV_PREFIXES = ("TF_", "TAPELAB_", "KERAS_", "OMP_", "MKL_", "OPENBLAS_")

#: files of /etc a Python kernel reads (dynamic loader, time zone, user names); none is secret.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "alternatives", "mime.types", "fonts", "ssl/certs")

#: the folders at the top of the filesystem that hold programs and libraries (bound read-only, or links).
SYSTEM_TOPS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

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


def find_bwrap() -> str | None:
    """The path of the ``bwrap`` program, or None when bubblewrap is not installed."""
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
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    root = os.getuid() == 0
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv"]
    if not root:  # as root, confine drops to the kernel's own uid instead (it needs CAP_SETUID until then)
        args += ["--unshare-user", "--disable-userns"]
    args += ["--perms", "0755", "--tmpfs", "/", "--ro-bind", "/usr", "/usr"]
    made: set[Path] = {Path("/usr")}
    for top in SYSTEM_TOPS:
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
    tops = [Path("/usr"), Path("/etc"), *(Path("/") / t for t in SYSTEM_TOPS)]
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
