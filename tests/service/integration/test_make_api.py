"""``make api`` (tools/dev/local_api/local.py): ready lines printed, the API works with the key, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.service.integration.conftest import new_key, pay, refund
from tools.dev.local_api.postgres import free_port


def test_make_api_prints_the_url_and_key_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "tools.dev.local_api.local", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("Operator key: ") for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert f"API: http://127.0.0.1:{port}" in lines, lines
        key = next(line for line in lines if line.startswith("Operator key: ")).removeprefix("Operator key: ")
        folder = Path(next(line for line in lines if line.startswith("[api] PostgreSQL 15 in ")).split()[4])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            assert client.get("/ready").status_code == 200
            payment = pay(client, new_key(), amount=10).json()
            assert refund(client, payment["id"], key, new_key(), amount=10).status_code == 201
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        assert not folder.exists()
        with httpx.Client(timeout=2) as client:
            try:
                client.get(f"http://127.0.0.1:{port}/health")
                raise AssertionError("the API still answers after Ctrl-C")
            except httpx.TransportError:
                pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
