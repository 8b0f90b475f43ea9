"""The kernel manager of graded kernels: sandboxed, on IPC sockets, watched.

:class:`SandboxedKernelManager` is jupyter_client's ``AsyncKernelManager`` with three
changes. The kernel command is wrapped in bubblewrap and the per-process limits
(:func:`tapelab.grading.sandbox.bwrap_command`), or, opted out of the sandbox, only in the
limits. The kernel talks to the grader over ZeroMQ ``ipc`` sockets in a private folder.
And a :class:`~tapelab.grading.watchdog.Watchdog` watches its process tree from launch on:

- a cell past its CPU budget gets SIGINT, sent to the kernel process itself (a signal to
  bwrap would not cross the pid namespace and session between them);
- a cell still running ``GRACE_S`` seconds after that, or a kernel past its memory
  limit, has the whole sandbox killed (bwrap takes every process in it along);
- a kernel still alive ``notebook_wall_s`` after launch is killed whatever it does.

:meth:`SandboxedKernelManager.stop_for` then says why the kernel ended, as a
:class:`~tapelab.grading.limits.CellStop` for the cell that was running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer, Unicode

from tapelab.grading import limits as lim
from tapelab.grading import watchdog
from tapelab.grading.sandbox import (bwrap_command, check_scratch, confine_command, kernel_env, kernel_uid,
                                     matplotlib_font_list)


def sandboxed_kernel_pid(bwrap_pid: int | None) -> int | None:
    """The kernel's pid as the grader sees it: bwrap -> bwrap's init in the sandbox -> the kernel."""
    if bwrap_pid is None:
        return None
    for child in watchdog.children(bwrap_pid):
        for grandchild in watchdog.children(child):
            return grandchild
    return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel in bubblewrap, with limits, on IPC sockets, watched.

    Configure it under ``SandboxedKernelManager`` (see :func:`tapelab.grading.sandbox.nbgrader_config`).
    """

    scratch = Unicode("", help="the kernel's only writable folder (its cwd and HOME)").tag(config=True)
    sandboxed = Bool(True, help="False: limits and scratch cwd only, no bubblewrap").tag(config=True)
    memory_mb = Integer(lim.Limits.memory_mb, help="resident memory of the kernel's process tree").tag(config=True)
    process_cpu_s = Integer(lim.Limits.process_cpu_s).tag(config=True)
    nproc = Integer(lim.Limits.nproc).tag(config=True)
    fsize_mb = Integer(lim.Limits.fsize_mb).tag(config=True)
    notebook_wall_s = Float(lim.Limits().notebook_wall_s).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ipc_dir: Path | None = None
        self._uid = -1
        self._wall_timer: threading.Timer | None = None
        self.watchdog: watchdog.Watchdog | None = None
        #: why the grader killed the kernel: ("memory" | "cpu", used, limit) or ("wall", s, s).
        self.killed_for: tuple[str, float, float] | None = None
        self.interrupted_for_cpu = False

    @property
    def limits(self) -> lim.Limits:
        return lim.Limits(memory_mb=self.memory_mb, process_cpu_s=self.process_cpu_s, nproc=self.nproc,
                          fsize_mb=self.fsize_mb)

    def _scratch(self) -> Path:
        if not self.scratch:
            raise ValueError("SandboxedKernelManager.scratch must name the kernel's scratch folder")
        path = Path(self.scratch).resolve()
        path.mkdir(parents=True, exist_ok=True)
        check_scratch(path)
        return path

    # ------------------------------------------------------------------------- starting the kernel

    async def _async_pre_start_kernel(self, **kw: Any):  # type: ignore[override]
        # Sockets are files in a private folder that is bound into the sandbox at the same path.
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="tl-ipc-"))
        self.transport = "ipc"
        self.connection_file = str(self._ipc_dir / "kernel.json")
        self.ip = str(self._ipc_dir / "k")
        self._uid = kernel_uid() if os.getuid() == 0 else -1
        kw["cwd"] = str(self._scratch())
        self._seed_matplotlib_cache(self._scratch())
        return await super()._async_pre_start_kernel(**kw)

    def _seed_matplotlib_cache(self, scratch: Path) -> None:
        """Copy the grader's matplotlib font list into the kernel's config folder (saves its rebuild per kernel)."""
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
            for folder, dirs, files in os.walk(self._scratch()):
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
        self.killed_for = None
        self._wall_timer = threading.Timer(self.notebook_wall_s, self._kill, args=(("wall", self.notebook_wall_s,
                                                                                     self.notebook_wall_s),))
        self._wall_timer.daemon = True
        self._wall_timer.start()
        self.watchdog = watchdog.Watchdog(self._process().pid, memory_mb=self.memory_mb, on_cpu=self._over_cpu,
                                          on_stuck=lambda used, limit: self._kill(("cpu", used, limit)),
                                          on_memory=lambda used, limit: self._kill(("memory", used, limit)))
        self.watchdog.start()

    # ------------------------------------------------------------------------- cells and limits

    def _process(self) -> subprocess.Popen:
        return self.provisioner.process  # type: ignore[union-attr]

    def kernel_pid(self) -> int | None:
        """The pid of the kernel process itself (inside bwrap: its grandchild)."""
        process = getattr(self.provisioner, "process", None)
        if process is None:
            return None
        return sandboxed_kernel_pid(process.pid) if self.sandboxed else process.pid

    def watch_cell(self, budget_s: float) -> None:
        """A cell starts with `budget_s` CPU seconds."""
        self.interrupted_for_cpu = False
        if self.watchdog is not None:
            self.watchdog.start_cell(budget_s)

    def end_cell(self) -> tuple[float, bool]:
        """The cell has ended: (CPU seconds it used, whether it was interrupted for its CPU budget)."""
        used = self.watchdog.end_cell() if self.watchdog is not None else 0.0
        return used, self.interrupted_for_cpu

    def _over_cpu(self, used: float, budget: float) -> None:
        self.interrupted_for_cpu = True
        self._signal_kernel(signal.SIGINT)

    def _signal_kernel(self, signo: int) -> None:
        pid = self.kernel_pid()
        if pid is not None:
            try:
                os.kill(pid, signo)
            except ProcessLookupError:
                pass

    def _kill(self, why: tuple[str, float, float]) -> None:
        """Kill the kernel and everything it started, remembering `why`."""
        process = getattr(self.provisioner, "process", None)
        if process is None or process.poll() is not None:
            return
        self.killed_for = self.killed_for or why
        family = [] if self.sandboxed else watchdog.tree(process.pid)[1:]
        process.kill()  # bwrap takes the whole sandbox with it
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _async_interrupt_kernel(self) -> None:
        # nbclient's wall-clock backstop. ipykernel's interrupt_request does not interrupt running
        # code, and SIGINT to bwrap would not reach the kernel: send SIGINT to the kernel itself.
        if not self.sandboxed:
            return await super()._async_interrupt_kernel()
        self._signal_kernel(signal.SIGINT)

    interrupt_kernel = _async_interrupt_kernel  # AsyncKernelManager binds the public names to the base class

    def stop_for(self, cell: str) -> lim.CellStop:
        """Why the kernel is gone, for the feedback on `cell`, the cell that was running."""
        kind, used, limit = self.killed_for or ("", 0.0, 0.0)
        if kind == "memory":
            return lim.memory_stop(cell, used, limit)
        if kind == "cpu":
            return lim.cpu_stop(cell, used, limit, killed=True)
        if kind == "wall":
            return lim.notebook_wall_stop(cell, limit)
        process = getattr(self.provisioner, "process", None)
        return lim.died(cell, lim.describe_exit(process.poll() if process is not None else None, self.limits))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self._wall_timer is not None:
            self._wall_timer.cancel()
        if self.watchdog is not None:
            self.watchdog.close()
        await super()._async_cleanup_resources(restart=restart)
        if self._ipc_dir is not None and not restart:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
