"""The application's connection pool and the readiness check.

Round trips (issue 29): taking a connection from the pool sends nothing to PostgreSQL while the connection was in
use a moment ago (``check_if_idle``), and giving it back sends nothing either (``idempotency.run`` releases a
request's key lock itself, and a connection that may still hold one is closed rather than pooled). What catches a
dead connection instead: the age check (idle longer than ``CHECK_AFTER_IDLE_S``), and ``check_after_failure``, which
a request that met a broken connection calls, so the pool drops the rest of a restarted server's connections at
once rather than one failed request each."""

from __future__ import annotations

import contextlib
import time
import weakref

from psycopg import Connection
from psycopg_pool import ConnectionPool

from payment_api.config import Settings

CHECK_AFTER_IDLE_S = 2.0
"""A pooled connection idle for longer than this is checked (one empty query) before a request gets it: a quiet
instance's first request after a database restart or failover gets a live connection. Under load a connection is
back in use within milliseconds and is never checked."""
PREPARE_THRESHOLD = 2
"""psycopg prepares a statement on a connection the second time it runs there (psycopg's default: 5): every
statement of the service is a constant text, so from then on only Bind/Execute/Sync cross the network."""

_returned: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


def _note_return(conn: Connection) -> None:
    # The pool's reset hook, called as a connection goes back: it sends nothing and notes the time.
    _returned[conn] = time.monotonic()


def check_if_idle(conn: Connection) -> None:
    """The pool's check: an empty query only for a connection idle longer than ``CHECK_AFTER_IDLE_S`` (or new to
    this hook); raises when the connection is dead, and the pool then gives another."""
    returned = _returned.get(conn)
    if returned is None or time.monotonic() - returned > CHECK_AFTER_IDLE_S:
        ConnectionPool.check_connection(conn)


def check_after_failure(pool: ConnectionPool) -> None:
    """After a request met a broken connection (the database restarted, or failed over): check every idle
    connection now (psycopg_pool's ``check``), so the next requests do not meet the others. Never raises."""
    with contextlib.suppress(Exception):  # best effort: the request already failed
        pool.check()


def make_pool(settings: Settings, name: str = "payment-api") -> ConnectionPool:
    """A pool of application-role connections (autocommit: every transaction is one statement or an explicit
    block), with the age check above and prepared statements. ``name``: psycopg_pool's name for it."""
    return ConnectionPool(
        settings.database.conninfo(),
        min_size=1,
        max_size=settings.pool_max,
        kwargs={"autocommit": True, "prepare_threshold": PREPARE_THRESHOLD},
        check=check_if_idle,
        reset=_note_return,
        timeout=5.0,
        open=False,
        name=name,
    )


def database_ready(pool: ConnectionPool, head: str) -> bool:
    """True when the database answers within half a second and its schema is at the migrations' head."""
    with pool.connection(timeout=0.5) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row is not None and row[0] == head
