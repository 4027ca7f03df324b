"""Helpers for the stand-in tests: a root with the stand-ins installed, and a runner for them.

The programs run as they do in the rehearsal (``/usr/bin/python3`` on the installed copy), as root (the machine is
root; systemctl's ``User=`` needs it), with ``STANDIN_ROOT`` pointing at the test's root. Units run as ``daemon``:
``systemd-analyze verify`` warns about ``User=nobody`` ("Special user nobody configured, this is not safe!"), which
the stand-in rightly treats as a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PROGRAMS = {
    "dnf": "/usr/bin/dnf",
    "systemctl": "/usr/bin/systemctl",
    "agent": "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl",
}
SERVICE_USER = "daemon"


@dataclass
class StandinRoot:
    """The root, its install notes, and a runner for its stand-ins."""

    path: Path
    notes: list[str]

    def run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = ["/usr/bin/python3", str(self.path / PROGRAMS[program].lstrip("/")), *args]
        env = {**os.environ, "STANDIN_ROOT": str(self.path)}
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=timeout)

    def write(self, path: str, text: str, mode: int = 0o644) -> Path:
        target = self.path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(mode)
        return target

    def read(self, path: str) -> str:
        return (self.path / path.lstrip("/")).read_text(encoding="utf-8")

    def unit(self, name: str, text: str) -> Path:
        return self.write(f"/etc/systemd/system/{name}", text)


def skip_unless_root_with_systemd() -> None:
    if os.geteuid() != 0:
        pytest.skip("the stand-ins run as root in the rehearsal (User=, credentials ownership)")
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")


def stop_started_services(standin_root: StandinRoot) -> None:
    """Stop what a test started: the stand-in's stop first, then the recorded process groups (by pid, never name)."""
    state = standin_root.path / "run/standin-systemd"
    for supervisor in state.glob("*.supervisor.pid"):
        standin_root.run("systemctl", "stop", supervisor.name.removesuffix(".supervisor.pid"))
    for pid_file in state.glob("*pid"):
        try:
            os.killpg(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


def service_uid() -> int:
    return pwd.getpwnam(SERVICE_USER).pw_uid
