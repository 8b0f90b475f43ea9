"""Graded kernels: started sandboxed, on IPC sockets, watched, by a jupyter_client kernel provisioner.

A kernel provisioner is jupyter_client's public extension point for how a kernel process is
started, signalled and cleaned up. :class:`SandboxProvisioner` is its reference
``LocalProvisioner`` with three changes. The kernel command is wrapped in bubblewrap and the
per-process limits (:func:`tapelab.grading.sandbox.bwrap_command`), or, opted out of the
sandbox, only in the limits. The kernel talks to the grader over ZeroMQ ``ipc`` sockets in a
private folder. And a :class:`~tapelab.grading.watchdog.Watchdog` watches its process tree
from launch on:

- a cell past its CPU budget gets SIGINT, sent to the kernel process itself (a signal to
  bwrap would not cross the pid namespace and session between them);
- a cell still running ``GRACE_S`` seconds after that, or a kernel past its memory
  limit, has the whole sandbox killed;
- a kernel still alive ``notebook_wall_s`` after launch is killed whatever it does.

:meth:`SandboxProvisioner.stop_for` then says why the kernel ended, as a
:class:`~tapelab.grading.limits.CellStop` for the cell that was running.

The provisioner is registered as ``tapelab-sandbox`` in the entry-point group
``jupyter_client.kernel_provisioners`` (lib/pyproject.toml). :class:`SandboxedKernelManager`
chooses it for its kernels only: it is an ``AsyncKernelManager`` whose ``kernel_spec_manager``
names the provisioner in each kernel spec's metadata (``kernel_provisioner``), so the same
kernel spec runs unsandboxed in the student's JupyterLab. Configure the provisioner under
``SandboxProvisioner`` (see :func:`tapelab.grading.sandbox.nbgrader_config`).
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

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Float, Integer, Unicode, default

from tapelab.grading import limits as lim
from tapelab.grading import output_cap, processes, watchdog
from tapelab.grading.sandbox import (bwrap_command, check_scratch, confine_command, kernel_env, kernel_uid,
                                     matplotlib_font_list)

#: the provisioner's name in the entry-point group jupyter_client.kernel_provisioners.
PROVISIONER_NAME = "tapelab-sandbox"


def sandboxed_kernel_pid(bwrap_pid: int | None) -> int | None:
    """The kernel's pid as the grader sees it: bwrap -> bwrap's init in the sandbox -> the kernel."""
    if bwrap_pid is None:
        return None
    for child in processes.children(bwrap_pid):
        for grandchild in processes.children(child):
            return grandchild
    return None


class SandboxProvisioner(LocalProvisioner):
    """Starts a kernel in bubblewrap, with limits, on IPC sockets, watched (see the module docstring)."""

    scratch = Unicode("", help="the kernel's only writable folder (its cwd and HOME)").tag(config=True)
    sandboxed = Bool(True, help="False: limits and scratch cwd only, no bubblewrap").tag(config=True)
    memory_mb = Integer(lim.Limits.memory_mb, help="resident memory of the kernel's process tree").tag(config=True)
    process_cpu_s = Integer(lim.Limits.process_cpu_s).tag(config=True)
    nproc = Integer(lim.Limits.nproc).tag(config=True)
    fsize_mb = Integer(lim.Limits.fsize_mb).tag(config=True)
    notebook_wall_s = Float(lim.Limits().notebook_wall_s).tag(config=True)
    output_chars = Integer(lim.Limits().output_chars,
                           help="characters a cell may print; the kernel drops the rest").tag(config=True)

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
            raise ValueError("SandboxProvisioner.scratch must name the kernel's scratch folder")
        path = Path(self.scratch).resolve()
        path.mkdir(parents=True, exist_ok=True)
        check_scratch(path)
        return path

    # ------------------------------------------------------------------------- starting the kernel

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """The kernel's cwd, sockets and uid, then LocalProvisioner's command and env, then the wrapping."""
        scratch = self._scratch()
        # Sockets are files in a private folder that is bound into the sandbox at the same path.
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="tl-ipc-"))
        km = self.parent
        km.transport = "ipc"
        km.connection_file = str(self._ipc_dir / "kernel.json")
        km.ip = str(self._ipc_dir / "k")
        if self.sandboxed:  # ipykernel's interrupt_request does not stop running code; SIGINT does
            self.kernel_spec.interrupt_mode = "signal"
        self._uid = kernel_uid() if os.getuid() == 0 else -1
        _seed_matplotlib_cache(scratch)
        kwargs["cwd"] = str(scratch)
        kwargs = await super().pre_launch(**kwargs)  # writes the connection file, formats the command
        if self._uid >= 0:  # the kernel reads them after dropping to its own uid
            for path in (self._ipc_dir, Path(km.connection_file)):
                os.chown(path, self._uid, self._uid)
            for folder, dirs, files in os.walk(scratch):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, self._uid, self._uid, follow_symlinks=False)
        # A flood of prints is cut in the kernel, before it fills the kernel's memory.
        cmd = [*kwargs["cmd"], f"--IPKernelApp.extra_extensions={output_cap.__name__}"]
        if self.sandboxed:
            # bwrap runs with the launch env; the kernel gets only what kernel_env passes from the grader's.
            env = kernel_env(dict(os.environ), scratch, cmd[0])
            env[output_cap.CAP_VARIABLE] = str(self.output_chars)
            kwargs["cmd"] = bwrap_command(cmd, scratch, self._ipc_dir, self.limits, self._uid, env)
        else:
            kwargs["env"] = {**kwargs.get("env", os.environ), output_cap.CAP_VARIABLE: str(self.output_chars)}
            kwargs["cmd"] = confine_command(cmd, self.limits, -1)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Launch as LocalProvisioner does, the kernel's own output discarded; start the watch."""
        # The kernel's own stdout/stderr (os.write(1, ...)) must not flood the grader's log.
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        info = await super().launch_kernel(cmd, **kwargs)
        self.killed_for = None
        self._wall_timer = threading.Timer(self.notebook_wall_s, self._kill,
                                           args=(("wall", self.notebook_wall_s, self.notebook_wall_s),))
        self._wall_timer.daemon = True
        self._wall_timer.start()
        self.watchdog = watchdog.Watchdog(self.pid, memory_mb=self.memory_mb, on_cpu=self._over_cpu,
                                          on_stuck=lambda used, limit: self._kill(("cpu", used, limit)),
                                          on_memory=lambda used, limit: self._kill(("memory", used, limit)))
        self.watchdog.start()
        return info

    async def send_signal(self, signum: int) -> None:
        """SIGINT (nbclient's wall-clock backstop) goes to the kernel itself: to bwrap it would not reach it."""
        if self.sandboxed and signum == signal.SIGINT:
            self._signal_kernel(signal.SIGINT)
            return
        await super().send_signal(signum)

    async def cleanup(self, restart: bool = False) -> None:
        if self._wall_timer is not None:
            self._wall_timer.cancel()
        if self.watchdog is not None:
            self.watchdog.close()
        await super().cleanup(restart=restart)
        if self._ipc_dir is not None and not restart:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)

    # ------------------------------------------------------------------------- cells and limits

    def kernel_pid(self) -> int | None:
        """The pid of the kernel process itself (inside bwrap: its grandchild)."""
        if self.process is None:
            return None
        return sandboxed_kernel_pid(self.process.pid) if self.sandboxed else self.process.pid

    def watch_cell(self, budget_s: float) -> None:
        """A cell starts with `budget_s` CPU seconds."""
        self.interrupted_for_cpu = False
        if self.watchdog is not None:
            self.watchdog.start_cell(budget_s)

    def end_cell(self) -> tuple[float, bool]:
        """The cell has ended: (CPU seconds it used, whether it was interrupted for its CPU budget)."""
        used = self.watchdog.end_cell() if self.watchdog is not None else 0.0
        return used, self.interrupted_for_cpu

    def kill_now(self) -> None:
        """Kill the kernel and everything it started (a kernel that stopped answering the grader)."""
        if self.process is not None and self.process.poll() is None:
            processes.kill_tree(self.process.pid)

    def stop_for(self, cell: str) -> lim.CellStop:
        """Why the kernel is gone, for the feedback on `cell`, the cell that was running."""
        kind, used, limit = self.killed_for or ("", 0.0, 0.0)
        if kind == "memory":
            return lim.memory_stop(cell, used, limit)
        if kind == "cpu":
            return lim.cpu_stop(cell, used, limit, killed=True)
        if kind == "wall":
            return lim.notebook_wall_stop(cell, limit)
        returncode = self.process.poll() if self.process is not None else None
        return lim.died(cell, lim.describe_exit(returncode, self.limits))

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
        """Kill the kernel and everything it started, remembering `why` (called by the watchdog and the timer)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self.killed_for = self.killed_for or why
        processes.kill_tree(process.pid)


def _seed_matplotlib_cache(scratch: Path) -> None:
    """Copy the grader's matplotlib font list into the kernel's config folder (saves its rebuild per kernel)."""
    font_list = matplotlib_font_list()
    if font_list is not None:
        target = scratch / ".config" / "matplotlib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(font_list, target / font_list.name)


class SandboxedKernelSpecs(KernelSpecManager):
    """The installed kernel specs, each naming :class:`SandboxProvisioner` (``tapelab-sandbox``) to start it."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = super().get_kernel_spec(kernel_name)
        spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": {}}}
        return spec


class SandboxedKernelManager(AsyncKernelManager):
    """jupyter_client's AsyncKernelManager whose kernels are started by :class:`SandboxProvisioner`."""

    @default("kernel_spec_manager")
    def _sandboxed_kernel_specs(self) -> KernelSpecManager:
        return SandboxedKernelSpecs(data_dir=self.data_dir, parent=self)
