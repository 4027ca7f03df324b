"""Issue 29, item 1: what a POST and a GET cost the database, counted two ways against a server of their own.

- Statements: PostgreSQL's own count (pg_stat_statements, preloaded as on RDS): the calls of the application role in
  the payments database, utility statements (BEGIN, COMMIT) included.
- Round trips: the server reaches PostgreSQL through the delay proxy with no delay (tools/bench/delay_proxy.py),
  which counts the turns of every connection's conversation, TLS and all (a pipeline with one sync is one turn).

The design (docs/payment-api.md, "Database round trips"): a new payment is 3 statements in 3 round trips (the key
and the payment in one statement, the simulated processor's insert, the outcome with the final answer and the
lock's release in one statement); the issue's limit is 4. A GET is 1 and 1. Measured after a warm-up (psycopg
prepares a statement the second time it runs on a connection), requests one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.integration.conftest import new_key, pay
from tools.bench.delay_proxy import ThreadedProxy
from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

POST_STATEMENTS, POST_ROUND_TRIPS = 3, 3
ISSUE_LIMIT_POST_ROUND_TRIPS = 4
GET_STATEMENTS, GET_ROUND_TRIPS = 1, 1
MEASURED = 20
WARM_UP = 30


class _OneConnection(ServiceProcess):
    """One worker with one pooled connection (``PAYMENT_DB_POOL_MAX=1``): requests sent one after the other reuse the
    same connection, idle only between two of them. With a worker per CPU and a pool each, a connection could sit
    unused for longer than the pool's age check (``db.CHECK_AFTER_IDLE_S``) on a busy machine, and its check query
    would be counted as the request's round trip."""

    def command(self) -> list[str]:
        return [*super().command(), "--workers", "1"]


@pytest.fixture(name="counted", scope="module")
def fixture_counted(
    postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ThreadedProxy]]:
    """A server whose every database connection goes through a counting proxy."""
    with postgres.superuser(DATABASE) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with ThreadedProxy(postgres.port, 0) as proxy:
        log: Path = tmp_path_factory.mktemp("counted") / "server.log"
        server = _OneConnection(postgres.service_env(PAYMENT_DB_PORT=str(proxy.port), PAYMENT_DB_POOL_MAX="1"), log)
        server.start()
        try:
            server.wait_ready()
            yield server, proxy
        finally:
            server.stop()


def statements(postgres: LocalPostgres) -> int:
    """The application role's statements in the payments database since the last reset."""
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements AS s JOIN pg_roles AS r ON r.oid = s.userid"
            " JOIN pg_database AS d ON d.oid = s.dbid WHERE r.rolname = %s AND d.datname = %s",
            (APP, DATABASE),
        ).fetchone()
    assert row is not None
    return int(row[0])


def reset(postgres: LocalPostgres) -> None:
    with postgres.superuser(DATABASE) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def measure(postgres: LocalPostgres, proxy: ThreadedProxy, send: Callable[[], None]) -> tuple[float, float]:
    """Statements and round trips per request, over ``MEASURED`` requests one after the other, in a window in which
    no database connection was opened (a connection's set-up, TLS and all, is a dozen turns: the pool grows now and
    then when a request comes back before its connection did); up to 3 windows."""
    for _ in range(3):
        reset(postgres)
        connections, before = proxy.stats.connections, proxy.stats.round_trips
        for _ in range(MEASURED):
            send()
        round_trips = proxy.stats.round_trips - before
        if proxy.stats.connections == connections:
            return statements(postgres) / MEASURED, round_trips / MEASURED
    raise AssertionError("every window opened a database connection: the pool never settled")


def test_a_new_payment_costs_three_statements_in_three_round_trips(
    counted: tuple[ServiceProcess, ThreadedProxy], postgres: LocalPostgres
) -> None:
    server, proxy = counted
    with httpx.Client(base_url=server.url, timeout=15) as client:

        def new_payment() -> None:
            answer = pay(client, new_key())
            assert answer.status_code == 201, answer.text

        for _ in range(WARM_UP):  # every pooled connection prepares its statements
            new_payment()
        per_statement, per_round_trip = measure(postgres, proxy, new_payment)
    assert per_statement <= POST_STATEMENTS, f"{per_statement} statements per POST"
    assert per_round_trip <= POST_ROUND_TRIPS <= ISSUE_LIMIT_POST_ROUND_TRIPS, f"{per_round_trip} round trips per POST"
    assert per_round_trip >= 1, "the proxy counted nothing: is the server's database traffic going through it?"


def test_a_replay_costs_one_round_trip(counted: tuple[ServiceProcess, ThreadedProxy], postgres: LocalPostgres) -> None:
    server, proxy = counted
    key = new_key()
    with httpx.Client(base_url=server.url, timeout=15) as client:
        first = pay(client, key)
        assert first.status_code == 201, first.text

        def replay() -> None:
            again = pay(client, key)
            assert again.status_code == 201 and again.content == first.content

        for _ in range(WARM_UP):
            replay()
        per_statement, per_round_trip = measure(postgres, proxy, replay)
    assert (per_statement, per_round_trip) == (1, 1)


def test_a_get_costs_one_statement_in_one_round_trip(
    counted: tuple[ServiceProcess, ThreadedProxy], postgres: LocalPostgres
) -> None:
    server, proxy = counted
    with httpx.Client(base_url=server.url, timeout=15) as client:
        created = pay(client, new_key())
        assert created.status_code == 201, created.text
        path = f"/v1/payments/{created.json()['id']}"

        def get() -> None:
            answer = client.get(path)
            assert answer.status_code == 200
            assert answer.json() == {key: value for key, value in created.json().items() if key != "client_secret"}

        for _ in range(WARM_UP):
            get()
        per_statement, per_round_trip = measure(postgres, proxy, get)
    assert per_statement <= GET_STATEMENTS, f"{per_statement} statements per GET"
    assert 1 <= per_round_trip <= GET_ROUND_TRIPS, f"{per_round_trip} round trips per GET"
