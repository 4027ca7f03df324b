"""The payment API as a subprocess on a loopback port, with its output captured to a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.dev.local_api.postgres import free_port


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m payment_api <args>`` with ``env`` on top of this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "payment_api", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def holds_listening_port(pid: int, port: int) -> bool:
    """Whether process ``pid`` (Linux) holds a socket listening on TCP ``port``: its file descriptors' socket inodes
    against the kernel's table of listening sockets (state 0A), IPv4 and IPv6."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


class ServiceProcess:
    """``python -m payment_api serve`` on 127.0.0.1:<free port>; ``start()`` waits for ``/health``.

    ``payment-api serve`` forks worker processes (payment_api.serve): the process leads a session of its own
    (``own_process_group``) and ``stop()`` signals the whole group, so no worker outlives it even when the parent
    is killed first. A subclass changes ``command()`` to run the app another way."""

    own_process_group = True

    def __init__(
        self, env: dict[str, str], log_path: Path, port: int | None = None, python: str = sys.executable
    ) -> None:
        """``python``: the interpreter that has ``payment_api`` (another venv's, e.g. an installed artifact's)."""
        self.env = env
        self.python = python
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """What ``start()`` runs."""
        return [self.python, "-m", "payment_api", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self, timeout: float = 30) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                self.command(),
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_process_group,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}: {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    # Another server that took the same free port first would answer too: only ours counts.
                    if response.status == 200 and holds_listening_port(self.process.pid, self.port):
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the service did not answer /health within {timeout} s: {self.log_path}")

    def wait_ready(self, timeout: float = 30) -> None:
        """Until ``/ready`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"/ready did not answer 200 within {timeout} s")

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        if self.own_process_group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM (to the group, with ``own_process_group``), then SIGKILL after 10 s; never raises."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self._signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        except OSError:
            pass  # the group is already gone


class ReconcilerProcess:
    """``python -m payment_api reconcile --every <every> --grace <grace>`` beside the API, its output to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, every: str = "10s", grace: str = "10s") -> None:
        self.env = env
        self.log_path = log_path
        self.args = ["--every", every, "--grace", grace]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ReconcilerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, "-m", "payment_api", "reconcile", *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (the reconciler finishes its pass and exits), then SIGKILL after 10 s; never raises."""
        if not self.running():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
