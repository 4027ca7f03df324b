"""Durability of the local PostgreSQL (issue 23, B10): payments under load from a few threads, PostgreSQL stopped
with ``pg_ctl stop -m immediate`` (a crash: no checkpoint, no goodbye to the clients) mid-load, started again, and
every payment acknowledged with a 201 is in the database. Its own PostgreSQL and API process, on loopback; bounded
in requests and time (about 15 s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.integration.conftest import migrated_database, new_key, pay, unique
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

THREADS = 4
BEFORE_CRASH = 40  # acknowledged payments before the crash, at least
AFTER_RESUME = 10  # and after the restart, so that the load spans it
MAX_REQUESTS = 3000  # all threads together: the bound whatever happens


@pytest.fixture(name="crash_db", scope="module")
def fixture_crash_db() -> Iterator[LocalPostgres]:
    """A PostgreSQL of its own: the crash must not disturb the session's server and its clients."""
    yield from migrated_database()


class Load:
    """Clients creating payments, each retrying its key (503s, dropped connections) until a 201."""

    def __init__(self, url: str, marker: str) -> None:
        self.url, self.marker = url, marker
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[float, str]] = []  # (when the 201 arrived, payment id)
        self.requests = 0

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def _one(self, client: httpx.Client, key: str) -> httpx.Response | None:
        with self.lock:
            if self.requests >= MAX_REQUESTS:
                self.stop.set()
                return None
            self.requests += 1
        try:
            return pay(client, key, description=self.marker, amount=11)
        except httpx.TransportError:
            return None

    def client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            key = new_key()
            while not self.stop.is_set():
                response = self._one(client, key)
                if response is not None and response.status_code == 201:
                    with self.lock:
                        self.acknowledged.append((time.monotonic(), response.json()["id"]))
                    key = new_key()
                elif response is not None and response.status_code < 500 and response.status_code != 409:
                    raise AssertionError(f"unexpected answer {response.status_code}: {response.text}")
                else:
                    time.sleep(0.05)  # the database is down, or this key is still in progress


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.02)


def test_the_local_postgresql_acknowledges_a_commit_only_when_it_is_durable(postgres: LocalPostgres) -> None:
    with postgres.superuser(DATABASE) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_no_acknowledged_payment_is_lost_when_postgresql_crashes_under_load(
    crash_db: LocalPostgres, tmp_path: Path
) -> None:
    server = ServiceProcess(crash_db.service_env(), tmp_path / "server.log").start()
    load = Load(server.url, unique("durability "))
    threads = [threading.Thread(target=load.client, daemon=True) for _ in range(THREADS)]
    try:
        server.wait_ready()
        for thread in threads:
            thread.start()
        wait_for(lambda: load.count() >= BEFORE_CRASH, 60, f"{BEFORE_CRASH} payments acknowledged")
        crash_db.crash()  # pg_ctl stop -m immediate, while the clients keep posting
        crashed = time.monotonic()
        at_crash = load.count()
        time.sleep(0.5)
        crash_db.resume()
        server.wait_ready(timeout=30)
        wait_for(lambda: load.count() >= at_crash + AFTER_RESUME, 60, "payments acknowledged after the restart")
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.stop()
    assert "database system was interrupted" in crash_db.log() or "not properly shut down" in crash_db.log()
    assert any(crashed - 1.0 < at <= crashed for at, _ in load.acknowledged), "acknowledgements right up to the crash"
    acknowledged = {payment_id for _, payment_id in load.acknowledged}
    with crash_db.superuser(DATABASE) as conn:
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT id FROM payments WHERE description = %s AND status = 'succeeded'", (load.marker,)
            ).fetchall()
        }
    assert not acknowledged - stored, f"{len(acknowledged - stored)} of {len(acknowledged)} acknowledged payments lost"
