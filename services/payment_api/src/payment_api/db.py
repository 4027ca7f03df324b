"""The application's connection pool and the readiness check."""

from __future__ import annotations

from psycopg import Connection
from psycopg_pool import ConnectionPool

from payment_api.config import Settings


def _reset(conn: Connection) -> None:
    # A connection goes back to the pool without a request's idempotency lock, whatever happened to the request.
    conn.execute("SELECT pg_advisory_unlock_all()")


def make_pool(settings: Settings) -> ConnectionPool:
    """A pool of application-role connections (autocommit: every transaction is an explicit block). Idle
    connections are checked before use, so a PostgreSQL restart costs no failed request once it is back."""
    return ConnectionPool(
        settings.database.conninfo(),
        min_size=1,
        max_size=settings.pool_max,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        reset=_reset,
        timeout=5.0,
        open=False,
        name="payment-api",
    )


def database_ready(pool: ConnectionPool, head: str) -> bool:
    """True when the database answers within half a second and its schema is at the migrations' head."""
    with pool.connection(timeout=0.5) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row is not None and row[0] == head
