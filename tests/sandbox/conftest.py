"""Fixtures for the sandbox tooling's own tests: a private moto server per test module.

These tests need moto[server] and boto3 (requirements-dev.txt) and, for state locking, terraform on PATH;
without them they are skipped with the reason. They start their own emulator on a free port and stop
it afterwards, so they never touch a sandbox that might be running.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.sandbox.emulator import MotoServer


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A fresh patched moto server (its request log in ``log_path``), stopped when the module's tests are done."""
    for module in ("moto", "boto3", "flask"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -r requirements-dev.txt)")
    log_path: Path = tmp_path_factory.mktemp("moto") / "moto.log"
    server = MotoServer(log_path=log_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_endpoint(moto_server: MotoServer) -> str:
    """Endpoint of the module's moto server."""
    return moto_server.endpoint
