"""Start and stop our moto server as a child process, and talk to it with boto3.

Used by the sandbox runner and by tests that need an emulator of their own (state locking, fidelity
patches). The server is always a child process tracked by its PID, started in its own process group so
that a Ctrl-C aimed at the runner does not kill it before the runner has finished cleaning up, and
stopped by that PID (SIGTERM, then SIGKILL) — never by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_REGION = "us-east-1"
SANDBOX_ACCESS_KEY = "test"  # moto accepts any static key; never a real credential
SANDBOX_SECRET_KEY = "test"
MOTO_ACCOUNT_ID = "123456789012"


class EmulatorError(RuntimeError):
    """The emulator could not be started or did not answer."""


# Variables that could make a tool pick a developer's real AWS identity instead of the emulator's test keys.
# Removed, not blanked: botocore treats AWS_PROFILE="" as a profile named "".
AMBIENT_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def aws_environment(
    endpoint: str, region: str = SANDBOX_REGION, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A process environment (``base``, default ``os.environ``) pointed at the emulator with test credentials.

    boto3 and the aws CLI v2 follow ``AWS_ENDPOINT_URL``; the user's profiles and config files are cut off
    so that nothing run with this environment can reach a real account.
    """
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in AMBIENT_AWS_VARIABLES}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "SANDBOX_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_KEY,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


def client(service: str, endpoint: str, region: str = SANDBOX_REGION) -> Any:
    """A boto3 client for ``service`` on the emulator (explicit endpoint and keys: no ambient config)."""
    import boto3  # pylint: disable=import-outside-toplevel  # only the sandbox and its tests need boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=SANDBOX_ACCESS_KEY,
        aws_secret_access_key=SANDBOX_SECRET_KEY,
    )


def is_reachable(endpoint: str, timeout: float = 2.0) -> bool:
    """True when a moto server answers at ``endpoint`` (its ``/moto-api/`` status page)."""
    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class MotoServer:
    """Our patched moto server as a child process on a free loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (idempotent) yourself::

        with MotoServer(log_path=Path("moto.log")) as moto:
            s3 = client("s3", moto.endpoint)
    """

    def __init__(self, log_path: Path | None = None, startup_timeout: float = 60.0) -> None:
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._log_handle: Any = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self.port is None:
            raise EmulatorError("the moto server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the server process, if running."""
        return self.process.pid if self.process is not None else None

    def start(self) -> str:
        """Start the server, wait until it answers, and return its endpoint."""
        if self.process is not None:
            return self.endpoint
        self._workdir = tempfile.TemporaryDirectory(prefix="moto-")  # pylint: disable=consider-using-with
        port_file = Path(self._workdir.name) / "port"
        env = dict(os.environ)
        env.update(
            {
                # Attaching AWS managed policies (e.g. AmazonSSMManagedInstanceCore) fails with 404 without it.
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_path.open("ab")
        output = self._log_handle if self._log_handle is not None else subprocess.DEVNULL
        # start_new_session: the terminal's Ctrl-C goes to the runner, which stops the server itself.
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                sys.executable,
                "-m",
                "tools.sandbox.moto_server",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise EmulatorError(
                    f"the moto server exited with code {code} while starting"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if port_file.is_file():
                self.port = int(port_file.read_text(encoding="utf-8"))
                if is_reachable(self.endpoint):
                    return self.endpoint
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(f"the moto server did not answer within {self.startup_timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=grace)
            except ProcessLookupError:
                pass
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
