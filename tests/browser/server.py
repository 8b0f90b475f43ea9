"""A private JupyterLab server for the browser test, started the way `make lab` starts it.

The server runs `scripts/lab.sh` on a temporary folder, listens on 127.0.0.1 on a free port
with a random token, and keeps every Jupyter and IPython file it writes (config, runtime,
workspaces, settings) inside that temporary folder, so nothing lands in the user's ~/.jupyter.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# JupyterLab settings for the test only: no "Jupyter news" pop-up over the notebook.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class LabServer:
    """A running JupyterLab: `url` (with a trailing slash), its `token`, the served `root`."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def lab_url(self, path: str = "") -> str:
        """The address of the JupyterLab page opening `path` (relative to `root`), token included."""
        tree = f"tree/{path}" if path else ""
        return f"{self.url}lab/{tree}?reset&token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def delete_session(self, session_id: str) -> None:
        """Shut down a notebook's session and kernel, without waiting for the kernel to exit."""
        request = urllib.request.Request(
            f"{self.url}api/sessions/{session_id}", method="DELETE", headers={"Authorization": f"token {self.token}"}
        )

        def send() -> None:
            try:
                urllib.request.urlopen(request, timeout=60).close()
            except (urllib.error.URLError, ConnectionError):
                pass  # the server is stopping; it takes its kernels with it

        threading.Thread(target=send, daemon=True).start()

    def stop(self) -> None:
        """Stop the server and every kernel it started (they share its process group)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:  # kernels left behind by a server that died
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def start_lab(repo: Path, root: Path, scratch: Path, timeout_s: float = 120) -> LabServer:
    """Start `scripts/lab.sh root` with its state in `scratch`; wait until the server answers.

    Raises RuntimeError with the server's log when it exits or does not answer within `timeout_s`.
    """
    config, runtime = scratch / "jupyter-config", scratch / "jupyter-runtime"
    for rel, settings in _USER_SETTINGS.items():
        path = config / "lab" / "user-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    runtime.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_DATA_DIR=str(scratch / "jupyter-data"),
        IPYTHONDIR=str(scratch / "ipython"),
        MPLCONFIGDIR=str(scratch / "matplotlib"),
        JUPYTER_PLATFORM_DIRS="0",
    )
    env.pop("JUPYTER_CONFIG_PATH", None)
    token = secrets.token_hex(24)
    log = scratch / "jupyterlab.log"
    args = [
        "bash", str(repo / "scripts" / "lab.sh"), str(root),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",  # a free port; read back from the runtime file
        f"--IdentityProvider.token={token}",
        # lets the test read the notebook model (cell metadata, outputs) as JupyterLab holds it
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.shutdown_no_activity_timeout=900",  # a server orphaned by a killed test ends itself
        "--MappingKernelManager.cull_idle_timeout=900",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = LabServer(url="", token=token, root=root, process=process, log=log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}:\n{server.log_tail()}")
        info = sorted(runtime.glob(f"jpserver-{process.pid}.json")) or sorted(runtime.glob("jpserver-*.json"))
        if info:
            server.url = json.loads(info[0].read_text())["url"]
            try:
                with urllib.request.urlopen(f"{server.url}api/status?token={token}", timeout=5) as reply:
                    if reply.status == 200:
                        return server
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {timeout_s:.0f} s:\n{server.log_tail()}")
