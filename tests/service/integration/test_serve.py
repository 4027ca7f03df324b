"""``payment-api serve`` with several workers (payment_api.serve, issue 29): every worker serves without the Nagle
stall, a second server on the same port fails, and the workers die with their parent."""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tools.dev.local_api.postgres import LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_workers_answer_without_the_delayed_ack_stall(start_server: Callable[..., ServiceProcess]) -> None:
    server = start_server()
    assert server.process is not None
    assert len(children(server.process.pid)) == len(os.sched_getaffinity(0))  # one worker per CPU
    latencies = []
    with httpx.Client(base_url=server.url, timeout=5) as client:  # one keep-alive connection
        for _ in range(40):
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            latencies.append(time.perf_counter() - started)
    # With Nagle on, every response (headers and body: two writes) waited ~40 ms for the delayed ACK.
    assert statistics.median(latencies) < 0.02, latencies


def test_a_second_server_on_the_same_port_fails(
    start_server: Callable[..., ServiceProcess], postgres: LocalPostgres
) -> None:
    first = start_server()
    second = run_cli(postgres.service_env(), "serve", "--port", str(first.port), "--workers", "2", timeout=60)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"cannot listen on 127.0.0.1:{first.port}" in second.stderr
    assert "in use" in second.stderr
    with httpx.Client(base_url=first.url, timeout=5) as client:
        assert client.get("/health").status_code == 200  # the first one still serves


def test_workers_die_with_their_parent(start_server: Callable[..., ServiceProcess]) -> None:
    server = start_server()
    assert server.process is not None
    workers = children(server.process.pid)
    assert workers
    os.kill(server.process.pid, signal.SIGKILL)  # the parent alone: no chance to stop its workers itself
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "a worker outlived its parent"


def test_workers_must_be_at_least_one(postgres: LocalPostgres) -> None:
    refused = run_cli(postgres.service_env(), "serve", "--workers", "0", timeout=60)
    assert refused.returncode == 2
    assert "--workers must be at least 1, got 0" in refused.stderr
