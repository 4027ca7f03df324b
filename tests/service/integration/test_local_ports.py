"""Local ports, through the real commands: ``make api LOCAL_API_PORT=... WEB_PORT=...`` serves on its port and its
CORS admits the web origin given; ``API_PORT`` still works for one release with a notice naming ``LOCAL_API_PORT``;
``make web WEB_PORT=... LOCAL_API_PORT=...`` serves a config.json that points at the API's port.

Each command runs as its own process group on 127.0.0.1 with a deadline, and the whole group is killed afterwards
(make, the API, PostgreSQL, vite).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import httpx
import pytest

from tests.conftest import ROOT
from tools.dev.local_api.local import PortError, api_port, parse_port
from tools.dev.local_api.postgres import free_port

READY_SECONDS = 120
WEB_READY_SECONDS = 300  # make web runs `npm ci` in web/ on first use, then the build


@dataclass
class Command:
    """A running ``make`` invocation with its stdout and stderr lines collected by reader threads."""

    process: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def wait_for(self, prefix: str, seconds: float) -> str:
        """The first stdout line starting with ``prefix``; fails with the output so far after ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = next((line for line in self.stdout if line.startswith(prefix)), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line starting {prefix!r}; stdout {self.stdout[-20:]}, stderr {self.stderr[-20:]}")


def _read(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


@contextmanager
def make(*args: str) -> Iterator[Command]:
    """``make <args>`` in its own process group (only our own variables, not the caller's ports)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "API_PORT",
            "LOCAL_API_PORT",
            "WEB_PORT",
            "WEB_API_BASE_URL",
            "MAKEFLAGS",
            "PAYMENT_PROCESSOR",
            "LOCAL_STRIPE_PORT",
            "WEB_STRIPE_PUBLISHABLE_KEY",
            "WEB_STRIPE_JS_URL",
        )
    }
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        text=True,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    command = Command(process)
    readers = [
        threading.Thread(target=_read, args=(process.stdout, command.stdout), daemon=True),
        threading.Thread(target=_read, args=(process.stderr, command.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        yield command
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: make api stops the API and PostgreSQL itself
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=10)


def _cors_origin(api: str, origin: str) -> str | None:
    """What the API's CORS preflight answers for ``origin`` (``Access-Control-Allow-Origin``)."""
    response = httpx.options(
        f"{api}/v1/payments",
        timeout=15,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    return response.headers.get("access-control-allow-origin")


def test_make_api_serves_on_local_api_port_and_admits_the_web_port() -> None:
    api_port_number, web_port = free_port(), free_port()
    with make("api", f"LOCAL_API_PORT={api_port_number}", f"WEB_PORT={web_port}") as command:
        command.wait_for("Operator key: ", READY_SECONDS)
        printed = [line for line in command.stdout if line.startswith(("API: ", "Operator key: "))]
        assert printed[0] == f"API: http://127.0.0.1:{api_port_number}", command.stdout
        assert command.stdout[-1].startswith("Operator key: "), command.stdout  # the key is the last line
        api = f"http://127.0.0.1:{api_port_number}"
        assert httpx.get(f"{api}/ready", timeout=15).status_code == 200
        assert _cors_origin(api, f"http://127.0.0.1:{web_port}") == f"http://127.0.0.1:{web_port}"
        assert _cors_origin(api, f"http://localhost:{web_port}") == f"http://localhost:{web_port}"
        other = web_port + 1 if web_port < 65535 else web_port - 1
        assert _cors_origin(api, f"http://127.0.0.1:{other}") is None
        assert not any("notice" in line for line in command.stderr), command.stderr


def test_make_api_still_reads_api_port_with_a_notice() -> None:
    port = free_port()
    with make("api", f"API_PORT={port}") as command:
        command.wait_for("Operator key: ", READY_SECONDS)
        assert f"API: http://127.0.0.1:{port}" in command.stdout
        notices = [line for line in command.stderr if "notice" in line]
        assert len(notices) == 1 and f"LOCAL_API_PORT={port}" in notices[0], command.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=15).status_code == 200
        # make web's default origin stays admitted
        assert _cors_origin(f"http://127.0.0.1:{port}", "http://127.0.0.1:5173") == "http://127.0.0.1:5173"


def _served_config(command: Command, web_port: int) -> object:
    """The config.json ``make web`` serves on ``web_port`` once it says it serves."""
    command.wait_for(f"Web: http://127.0.0.1:{web_port} ", WEB_READY_SECONDS)
    deadline, config = time.monotonic() + 60, None
    while time.monotonic() < deadline and config is None:
        try:
            response = httpx.get(f"http://127.0.0.1:{web_port}/config.json", timeout=5)
            config = response.json() if response.status_code == 200 else None
        except httpx.TransportError:
            time.sleep(0.5)
    return config


def test_make_web_serves_config_json_with_the_api_port() -> None:
    api_port_number, web_port = free_port(), free_port()
    with make("web", f"WEB_PORT={web_port}", f"LOCAL_API_PORT={api_port_number}") as command:
        config = _served_config(command, web_port)
        assert config == {"apiBaseUrl": f"http://127.0.0.1:{api_port_number}"}, (command.stdout, command.stderr)
    assert json.loads((ROOT / "web" / "dist-dev" / "config.json").read_text(encoding="utf-8")) == config


def test_make_web_with_the_stripe_processor_names_the_emulators_stand_in() -> None:
    """``PAYMENT_PROCESSOR=stripe make web`` names the stand-in of ``PAYMENT_PROCESSOR=stripe make api``."""
    api_port_number, web_port, stripe_port = free_port(), free_port(), free_port()
    with make(
        "web",
        "PAYMENT_PROCESSOR=stripe",
        f"WEB_PORT={web_port}",
        f"LOCAL_API_PORT={api_port_number}",
        f"LOCAL_STRIPE_PORT={stripe_port}",
    ) as command:
        config = _served_config(command, web_port)
    assert config == {
        "apiBaseUrl": f"http://127.0.0.1:{api_port_number}",
        "stripePublishableKey": "pk_test_local",
        "stripeJsUrl": f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/",
    }, (command.stdout, command.stderr)


def test_port_resolution_order_and_refusals() -> None:
    assert api_port(None, {}) == (8080, None)
    assert api_port(None, {"LOCAL_API_PORT": "9001"}) == (9001, None)
    port, notice = api_port(None, {"API_PORT": "9002"})
    assert port == 9002 and notice is not None and "LOCAL_API_PORT=9002" in notice
    port, notice = api_port(None, {"API_PORT": "9002", "LOCAL_API_PORT": "9003"})
    assert port == 9003 and notice is not None and "ignored" in notice
    assert api_port(9004, {"API_PORT": "9002"}) == (9004, None)
    with pytest.raises(PortError, match=r"LOCAL_STRIPE_PORT='x' .* for example LOCAL_STRIPE_PORT=8420"):
        parse_port("LOCAL_STRIPE_PORT", "x")
    for bad in ("0", "65536", "80a", "\uff18\uff10\uff18\uff10", ""):
        try:
            parse_port("LOCAL_API_PORT", bad)
        except PortError as error:
            assert "LOCAL_API_PORT=" in str(error) and "1 to 65535" in str(error)
        else:
            raise AssertionError(f"{bad!r} accepted")
