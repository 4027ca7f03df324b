"""``idempotency.run`` releases a key on any failure before the work's first commit (issue 23, B2: after a
``DataError`` the key stayed, and the same key with the corrected body got 422). Against the session's database,
through the service's own pool."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from payment_api.config import load_settings
from payment_api.db import make_pool
from payment_api.idempotency import HMAC_SCHEME, KeyHashes, KeyRow, Outcome, finish, run
from payment_api.problems import ProblemError
from psycopg import Connection
from psycopg_pool import ConnectionPool

from tests.service.integration.conftest import hashes_of, new_key, pay
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

NUL_PAYMENT = (
    "INSERT INTO payments (id, status, amount, currency, payment_method, description) VALUES"
    " ('pay_0000000000000000000000', 'processing', 1, 'EUR', 'pm_card_visa', %s)"
)


@pytest.fixture(name="pool", scope="module")
def fixture_pool(postgres: LocalPostgres) -> Iterator[ConnectionPool]:
    pool = make_pool(load_settings(postgres.service_env()))
    pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def answered(conn: Connection, key: KeyRow) -> Outcome:
    """Work that commits its final answer at once."""
    with conn.transaction():
        finish(conn, key.id, 201, b'{"ok": true}', None)
    return Outcome(201, b'{"ok": true}')


def nul_in_a_column(conn: Connection, _key: KeyRow) -> Outcome:
    """B2's failure: PostgreSQL refuses a NUL in a text value (``DataError``), before anything was committed."""
    with conn.transaction():
        conn.execute(NUL_PAYMENT, ("Order\x001042",))
    raise AssertionError("PostgreSQL stored a NUL")


def a_bug(_conn: Connection, _key: KeyRow) -> Outcome:
    raise RuntimeError("a bug in the work")


def refused(_conn: Connection, _key: KeyRow) -> Outcome:
    raise ProblemError("payment_method_invalid", "Unknown payment method.")


def rows_of(postgres: LocalPostgres, scope: str, key: KeyHashes) -> list[tuple[str, int | None]]:
    with postgres.superuser(DATABASE) as conn:
        rows = conn.execute(
            "SELECT recovery_point, response_status FROM idempotency_keys WHERE scope = %s AND key_hash = %s",
            (scope, key.stored),
        ).fetchall()
    return [(str(row[0]), row[1]) for row in rows]


@pytest.mark.parametrize(
    ("work", "error"),
    [(nul_in_a_column, psycopg.DataError), (a_bug, RuntimeError), (refused, ProblemError)],
    ids=["data-error", "bug", "problem"],
)
def test_a_failure_before_the_first_commit_releases_the_key(
    pool: ConnectionPool, postgres: LocalPostgres, work: Callable[..., Any], error: type[Exception]
) -> None:
    scope, key = f"POST /test/{uuid.uuid4()}", hashes_of(postgres, new_key())
    with pytest.raises(error):
        run(pool, scope, key, "fingerprint of the first body", work)
    assert not rows_of(postgres, scope, key), "the key's row is gone"
    corrected = run(pool, scope, key, "fingerprint of the corrected body", answered)
    assert (corrected.status, corrected.replayed) == (201, False)
    assert rows_of(postgres, scope, key) == [("finished", 201)]


def test_a_failure_after_the_first_commit_keeps_the_key(pool: ConnectionPool, postgres: LocalPostgres) -> None:
    scope, key = f"POST /test/{uuid.uuid4()}", hashes_of(postgres, new_key())
    seen: list[str] = []

    def committed_then_failed(conn: Connection, row: KeyRow) -> Outcome:
        seen.append(row.recovery_point)
        with conn.transaction():
            conn.execute("UPDATE idempotency_keys SET recovery_point = 'payment_created' WHERE id = %s", (row.id,))
        raise RuntimeError("after the first commit")

    with pytest.raises(RuntimeError):
        run(pool, scope, key, "first", committed_then_failed)
    assert rows_of(postgres, scope, key) == [("payment_created", None)]
    with pytest.raises(ProblemError) as reused:
        run(pool, scope, key, "another body", answered)
    assert reused.value.code == "idempotency_key_reused"
    assert run(pool, scope, key, "first", answered).status == 201
    assert seen == ["started"]


def test_a_nul_then_the_corrected_body_with_the_same_key(server: ServiceProcess) -> None:
    """B2 through the API: whatever answers the NUL (a 500 before issue 23, a 400 after), the key is not kept. Each
    request on a connection of its own: uvicorn may close the connection of a 500 as it answers."""
    key = new_key()
    with httpx.Client(base_url=server.url, timeout=15) as client:
        first = pay(client, key, description="Order\x001042")
    assert first.status_code != 201
    with httpx.Client(base_url=server.url, timeout=15) as client:
        corrected = pay(client, key, description="Order 1042")
    assert corrected.status_code == 201, corrected.text


def left_started(postgres: LocalPostgres, scope: str, key: KeyHashes, fingerprint: str) -> int:
    """The row a request leaves when its process dies before its first commit (it never got to delete it)."""
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "INSERT INTO idempotency_keys (scope, key_hash, key_scheme, fingerprint, recovery_point)"
            " VALUES (%s, %s, %s, %s, 'started') RETURNING id",
            (scope, key.stored, HMAC_SCHEME, fingerprint),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_request_that_died_before_its_first_commit_leaves_the_key_free(
    pool: ConnectionPool, postgres: LocalPostgres
) -> None:
    scope, key = f"POST /test/{uuid.uuid4()}", hashes_of(postgres, new_key())
    left_started(postgres, scope, key, "the dead request's body")
    corrected = run(pool, scope, key, "fingerprint of the corrected body", answered)
    assert (corrected.status, corrected.replayed) == (201, False)
    assert rows_of(postgres, scope, key) == [("finished", 201)]


def test_a_request_in_progress_keeps_its_key(pool: ConnectionPool, postgres: LocalPostgres) -> None:
    scope, key = f"POST /test/{uuid.uuid4()}", hashes_of(postgres, new_key())
    row_id = left_started(postgres, scope, key, "first")
    with postgres.superuser(DATABASE) as holder:  # the live request's connection holds the key's lock
        holder.execute("SELECT pg_advisory_lock(%s)", (row_id,))
        for fingerprint, code in (
            ("another body", "idempotency_key_reused"),
            ("first", "idempotency_request_in_progress"),
        ):
            with pytest.raises(ProblemError) as refused:
                run(pool, scope, key, fingerprint, answered)
            assert refused.value.code == code
        assert rows_of(postgres, scope, key) == [("started", None)]
        # It dies before its first commit: its lock goes (explicitly here; a closed session's goes a moment later).
        holder.execute("SELECT pg_advisory_unlock(%s)", (row_id,))
        assert run(pool, scope, key, "another body", answered).status == 201
