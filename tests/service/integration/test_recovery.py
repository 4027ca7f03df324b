"""Recovery: a process killed between the processor call and the commit; PostgreSQL restarted under load."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.service.integration.conftest import charges, new_key, pay, pay_into_crash, unique
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess


def test_a_crash_between_the_processor_call_and_the_commit_is_resumed_without_a_second_charge(
    start_server: Callable[..., ServiceProcess], postgres: LocalPostgres
) -> None:
    doomed = start_server(PAYMENT_TEST_CRASH_AFTER_PROCESSOR="1")
    key, marker = new_key(), unique("crash ")
    pay_into_crash(doomed, key, description=marker)
    assert doomed.process is not None
    assert doomed.process.wait(timeout=15) == -9  # SIGKILLed by the hook
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute("SELECT id, status FROM payments WHERE description = %s", (marker,)).fetchone()
    assert row is not None and row[1] == "processing"
    assert charges(postgres, row[0]) == 1  # the processor charged; our commit never happened

    restarted = start_server()
    with httpx.Client(base_url=restarted.url, timeout=15) as client:
        retry = pay(client, key, description=marker)
        assert retry.status_code == 201, retry.text
        assert retry.json()["id"] == row[0] and retry.json()["status"] == "succeeded"
        assert pay(client, key, description=marker).content == retry.content
    assert charges(postgres, row[0]) == 1
    with postgres.superuser(DATABASE) as conn:
        assert conn.execute("SELECT count(*) FROM payments WHERE description = %s", (marker,)).fetchone() == (1,)


class Load:
    """Clients creating payments, each retrying its own key until it gets a final answer."""

    def __init__(self, url: str, marker: str) -> None:
        self.url, self.marker = url, marker
        self.stop = threading.Event()
        self.keys: list[str] = []
        self.answers: list[tuple[float, int]] = []  # (request start, status); -1 for a transport error
        self.lock = threading.Lock()

    def client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                key = new_key()
                with self.lock:
                    self.keys.append(key)
                for _attempt in range(600):  # bounded: about 30 s of retries for one key at most
                    started = time.monotonic()
                    try:
                        status = pay(client, key, description=self.marker, amount=7).status_code
                    except httpx.TransportError:
                        status = -1
                    with self.lock:
                        self.answers.append((started, status))
                    if status == 201:
                        break
                    time.sleep(0.05)


def poll_ready(url: str, stop: threading.Event, seen: list[tuple[float, int]]) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        while not stop.is_set():
            try:
                seen.append((time.monotonic(), client.get("/ready").status_code))
            except httpx.TransportError:
                seen.append((time.monotonic(), -1))
            time.sleep(0.01)


def test_postgres_restart_under_load(start_server: Callable[..., ServiceProcess], postgres: LocalPostgres) -> None:
    server = start_server()
    server.wait_ready()
    load, ready_stop = Load(server.url, unique("restart ")), threading.Event()
    ready: list[tuple[float, int]] = []
    threads = [threading.Thread(target=load.client, daemon=True) for _ in range(8)]
    threads += [
        threading.Thread(target=poll_ready, args=(server.url, ready_stop, ready), daemon=True) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        postgres.restart()  # pg_ctl restart -m fast
        restarted = time.monotonic()
        server.wait_ready(timeout=30)
        time.sleep(2.0)
    finally:
        load.stop.set()
        ready_stop.set()
        for thread in threads:
            thread.join(timeout=60)
    statuses = [status for _, status in ready]
    assert 503 in statuses, "/ready never saw the outage"
    outage_end = max(at for at, status in ready if status == 503)
    assert any(status == 200 and at > outage_end for at, status in ready)
    assert restarted <= outage_end + 30
    recovered = min(at for at, status in ready if status == 200 and at > outage_end)
    late_errors = [status for at, status in load.answers if at > recovered and (status >= 500 or status == -1)]
    assert not late_errors, late_errors
    with postgres.superuser(DATABASE) as conn:
        count = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM payments WHERE description = %s", (load.marker,)
        ).fetchone()
    assert count == (len(load.keys), len(load.keys))  # every client's payment exactly once
    assert len(load.keys) > 8
