"""The local Stripe emulator: localstripe 1.15.10 from our own launcher, as tools/sandbox/emulator.py runs moto.

``LocalStripe`` starts ``python -m tools.dev.local_stripe.server`` (localstripe's aiohttp app with our fidelity
patches, ``patches.py``, bound to 127.0.0.1, its on-disk store disabled) as a child process on a free port, waits
until it answers, and stops it by its PID. ``stripe_credential()`` is the service's ``stripe-secret`` credential for
it: a fresh test API key (localstripe accepts any ``sk_`` key) and webhook secret.

    with LocalStripe(log_path=Path("stripe.log")) as stripe:
        stripe.url  # http://127.0.0.1:<port>
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parents[3]


class AddressError(ValueError):
    """An address the emulator must not listen on."""


def check_host(host: str, allowed: str | None) -> str:
    """``host`` when it is a loopback address or the one ``allowed``; an AddressError saying what is accepted."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(f"--host {host!r} is not an IP address: give 127.0.0.1 (the default)") from None
    if address.is_unspecified:
        raise AddressError(
            f"--host {host} listens on every interface, which exposes the emulator to the network: give 127.0.0.1 "
            "or one interface's address with --allow-address"
        )
    if not address.is_loopback and host != allowed:
        raise AddressError(
            f"--host {host} is not a loopback address: pass --allow-address {host} too when it is the one "
            "interface meant to reach the emulator (a sandbox namespace's veth address)"
        )
    return host


class StripeEmulatorError(RuntimeError):
    """The emulator could not be started or did not answer."""


def is_reachable(url: str, timeout: float = 2.0) -> bool:
    """True when localstripe answers at ``url`` (its Stripe.js stand-in, served without a key)."""
    try:
        with urllib.request.urlopen(f"{url}/js.stripe.com/v3/", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stripe_credential(api_key: str | None = None, webhook_secret: str | None = None) -> str:
    """The ``stripe-secret`` credential's content for the emulator: JSON with a fresh ``sk_test_`` API key and
    ``whsec_`` webhook secret (the shape of the stack's Secrets Manager secret)."""
    return json.dumps(
        {
            "api_key": api_key or "sk_test_local" + secrets.token_hex(16),
            "webhook_secret": webhook_secret or "whsec_local" + secrets.token_hex(16),
        }
    )


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to ``process`` (by its PID), SIGKILL when it is still there after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
    process.wait(timeout=grace)


class LocalStripe:
    """localstripe, patched, as a child process on 127.0.0.1:<free port>; a context manager, or ``start``/``stop``.

    ``without`` names fidelity patches to leave out (the patch tests show the unpatched behaviour with it); ``host``
    (@default 127.0.0.1) is the one address it listens on: a sandbox namespace's veth address is passed to the server
    with ``--allow-address`` too, never a wildcard. ``port`` (@default 0: a free port) is a fixed port, for
    ``PAYMENT_PROCESSOR=stripe make api``, whose stand-in ``make web`` finds on ``LOCAL_STRIPE_PORT``."""

    def __init__(
        self,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
        without: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.log_path = log_path
        self.host = host
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self.without = without
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` once started."""
        if self.port is None:
            raise StripeEmulatorError("localstripe is not started")
        return f"http://{self.host}:{self.port}"

    def _command(self, port_file: Path) -> list[str]:
        command = [sys.executable, "-m", "tools.dev.local_stripe.server", "--port", str(self.requested_port)]
        command += ["--port-file", str(port_file)]
        command += ["--host", self.host, "--allow-address", self.host]
        for name in self.without:
            command += ["--without", name]
        return command

    def start(self) -> str:
        """Start the server, wait until it answers, and return its URL."""
        if self.process is not None:
            return self.url
        self._workdir = tempfile.TemporaryDirectory(prefix="localstripe-")  # pylint: disable=consider-using-with
        port_file = Path(self._workdir.name) / "port"
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        # start_new_session: a terminal's Ctrl-C reaches the caller, which stops the server itself.
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            self._command(port_file),
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                where = f"; see {self.log_path}" if self.log_path else ""
                taken = (
                    f" (port {self.requested_port} taken by another process? give another, e.g. LOCAL_STRIPE_PORT)"
                    if self.requested_port
                    else ""
                )
                raise StripeEmulatorError(f"localstripe exited with code {code} while starting{taken}{where}")
            if port_file.is_file():
                self.port = int(port_file.read_text(encoding="utf-8"))
                if is_reachable(self.url):
                    return self.url
            time.sleep(0.1)
        self.stop()
        raise StripeEmulatorError(f"localstripe did not answer within {self.startup_timeout:.0f} s")

    def deliver_events(self, url: str, secret: str, name: str = "service") -> None:
        """Have the emulator sign its events with ``secret`` and POST them to ``url``, as Stripe does for a webhook
        endpoint registered in its dashboard (localstripe's ``POST /_config/webhooks/<name>``; a second call with the
        same ``name`` replaces the endpoint). A StripeEmulatorError when the emulator refuses it."""
        body = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
        request = urllib.request.Request(f"{self.url}/_config/webhooks/{name}", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except (urllib.error.URLError, OSError) as error:
            raise StripeEmulatorError(f"localstripe did not register the webhook endpoint {url}: {error}") from error
        if status != 200:
            raise StripeEmulatorError(f"localstripe answered {status} to the webhook endpoint {url}")

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice."""
        process, self.process = self.process, None
        if process is not None:
            _terminate(process, grace)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> LocalStripe:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
