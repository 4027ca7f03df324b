"""Idempotency keys, enforced by PostgreSQL (never check-then-insert).

A key is claimed with ``INSERT ... ON CONFLICT (scope, key_hash) DO NOTHING`` and, in the same transaction, a
session-level advisory lock on the row's id. The lock says "a request is working on this key": it lives as long
as the connection, so a process that dies (or loses its connection) releases it at once and a retry can resume
from the row's recovery point. Only final answers are stored (``response_body``, byte for byte); any failure before
the work's first commit (a 4xx, a database error, anything) deletes the row, so the key may be retried; a row left
``started`` and unlocked (its process died first) is taken over by the next request with the key, whatever its body.
The key itself is never stored, nor its bare SHA-256: a key that happens to hold a card number (16 digits, a
Luhn digit) could be found from its SHA-256 by trying every card number. A new row holds the key's HMAC-SHA-256
under the fleet's one secret (``config.IdempotencySecrets``; one secret for every instance, or a retry reaching
another instance would miss its key and charge again), and so does the log line (its first 16 hex characters).

A key is looked up under three hashes (``KeyHashes``): the HMAC under the current secret, the HMAC under the
previous one (during a rotation: rows stored before it), and the bare SHA-256 of the rows written before migration
``0004`` (``key_scheme = 'sha256'``, the column's default, so the release before keeps writing rows marked so while
it still runs). The legacy lookup matches legacy rows only; none is written once the fleet runs this release, and
the purge deletes them after the retention, after which the lookup finds nothing and the next release's contract
migration removes it (docs/payment-api.md, "Idempotency keys at rest").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import Connection
from psycopg_pool import ConnectionPool

from payment_api.config import IdempotencySecrets
from payment_api.problems import ProblemError

MAX_KEY_LENGTH = 255
HMAC_SCHEME, LEGACY_SCHEME = "hmac-sha256", "sha256"
"""``idempotency_keys.key_scheme``: what ``key_hash`` holds (migration 0004)."""
COLUMNS = "id, fingerprint, recovery_point, payment_id, refund_id, response_status, response_body, response_location"


@dataclass(frozen=True)
class KeyRow:
    """One idempotency key's state."""

    id: int
    fingerprint: str
    recovery_point: str
    payment_id: str | None
    refund_id: str | None
    response_status: int | None
    response_body: bytes | None
    response_location: str | None


@dataclass
class Outcome:
    """An answer: ``replayed`` when it comes from the stored final answer."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    released: bool = False
    """The work's last statement released the key's lock itself, after its commit (``payments.record_new_charge``):
    ``run`` sends no unlock."""


def check_key(value: str | None) -> str:
    """The contract's key rules: 1-255 printable ASCII characters."""
    if value is None:
        raise ProblemError("idempotency_key_missing", "This request needs an Idempotency-Key header.")
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in value):
        raise ProblemError(
            "idempotency_key_invalid", "The Idempotency-Key must be 1 to 255 printable ASCII characters."
        )
    return value


def key_hash(key: str, secret: bytes) -> str:
    """The key's HMAC-SHA-256 under ``secret`` (hex): what is stored instead of the key."""
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyHashes:
    """One key's hashes: ``stored`` under the current secret (a new row's ``key_hash``; its first 16 characters
    are logged), ``previous`` under the previous secret (None without one), ``legacy`` the bare SHA-256 that rows
    from before migration 0004 hold (looked up, never written or logged: kept out of the repr)."""

    stored: str
    previous: str | None
    legacy: str = field(repr=False)

    @property
    def logged(self) -> str:
        """What the request's log line shows."""
        return self.stored[:16]


def key_hashes(key: str, secrets: IdempotencySecrets) -> KeyHashes:
    """The hashes a request's key is stored and looked up under."""
    return KeyHashes(
        stored=key_hash(key, secrets.current),
        previous=None if secrets.previous is None else key_hash(key, secrets.previous),
        legacy=hashlib.sha256(key.encode("ascii")).hexdigest(),
    )


def _row(values: tuple[object, ...] | None) -> KeyRow | None:
    if values is None:
        return None
    return KeyRow(*values)  # type: ignore[arg-type]  # psycopg rows are untyped tuples; the column order is COLUMNS


def _take_over(conn: Connection, row: KeyRow, fingerprint: str) -> tuple[KeyRow, bool] | None:
    """Another request's ``started`` row. When nobody holds its lock, that request ended before its first commit
    without deleting the row (its process died, or its database connection with it): it changed nothing, so the key
    is free and this request takes the row over, with its own fingerprint and the lock. Otherwise it is in progress.
    None when the row was deleted meanwhile."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (row.id,)).fetchone()
    if not (locked and locked[0]):
        return row, False
    # The other request commits before it unlocks: holding the lock, this sees its last word.
    taken = _row(
        conn.execute(
            "UPDATE idempotency_keys SET fingerprint = %s WHERE id = %s AND recovery_point = 'started'"
            f" RETURNING {COLUMNS}",
            (fingerprint, row.id),
        ).fetchone()
    )
    if taken is not None:
        return taken, True
    conn.execute("SELECT pg_advisory_unlock(%s)", (row.id,))
    current = _row(conn.execute(f"SELECT {COLUMNS} FROM idempotency_keys WHERE id = %s", (row.id,)).fetchone())
    return None if current is None else (current, False)


FIND = (
    f"SELECT {COLUMNS} FROM idempotency_keys WHERE scope = %s"
    " AND ((key_scheme = %s AND key_hash = ANY(%s)) OR (key_scheme = %s AND key_hash = %s))"
    " ORDER BY id LIMIT 1"
)
"""The key's row under any of its hashes (``find_parameters``): an HMAC row under the current or the previous
secret, or a legacy row (bare SHA-256, written before 0004). Two rows for one key exist only when a release before
0004 and this one claimed it at the same moment; the older row is the first request's."""


def find_parameters(scope: str, hashes: KeyHashes) -> tuple[object, ...]:
    """``FIND``'s parameters."""
    hmacs = [hashes.stored] if hashes.previous is None else [hashes.stored, hashes.previous]
    return (scope, HMAC_SCHEME, hmacs, LEGACY_SCHEME, hashes.legacy)


def row_of(values: tuple[object, ...]) -> KeyRow:
    """A ``KeyRow`` from the first ``COLUMNS`` of a result row."""
    row = _row(values[: len(COLUMNS.split(","))])
    assert row is not None
    return row


def _find(conn: Connection, scope: str, hashes: KeyHashes) -> KeyRow | None:
    """``FIND``."""
    return _row(conn.execute(FIND, find_parameters(scope, hashes)).fetchone())


def _claim(conn: Connection, scope: str, hashes: KeyHashes, fingerprint: str) -> tuple[KeyRow, bool]:
    """The key's row (created, under the current secret's HMAC, when new) and whether this request now holds its
    lock. Looked up first: a key stored under the previous secret or the legacy hash is the same key."""
    for _ in range(3):
        with conn.transaction():
            row = _find(conn, scope, hashes)
            if row is None:
                row = _row(
                    conn.execute(
                        "INSERT INTO idempotency_keys (scope, key_hash, key_scheme, fingerprint, recovery_point)"
                        " VALUES (%s, %s, %s, %s, 'started') ON CONFLICT (scope, key_hash) DO NOTHING"
                        f" RETURNING {COLUMNS}",
                        (scope, hashes.stored, HMAC_SCHEME, fingerprint),
                    ).fetchone()
                )
            if row is None:
                row = _find(conn, scope, hashes)  # inserted by a concurrent request meanwhile
            if row is None:
                continue  # deleted (a 4xx) between the two statements: claim again
            if row.fingerprint != fingerprint and row.recovery_point == "started":
                taken = _take_over(conn, row, fingerprint)
                if taken is None:
                    continue
                return taken
            if row.fingerprint != fingerprint or row.recovery_point == "finished":
                return row, False
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (row.id,)).fetchone()
            return row, bool(locked and locked[0])
    raise ProblemError(
        "idempotency_request_in_progress", "A request with this key is in progress.", headers={"Retry-After": "1"}
    )


def _replay(row: KeyRow) -> Outcome:
    assert row.response_status is not None and row.response_body is not None
    headers = {"Idempotent-Replayed": "true"}
    if row.response_location:
        headers["Location"] = row.response_location
    return Outcome(row.response_status, bytes(row.response_body), headers, replayed=True)


def finish(conn: Connection, row_id: int, status: int, body: bytes, location: str | None) -> None:
    """Store the final answer (call inside the transaction that makes the work final)."""
    conn.execute(
        "UPDATE idempotency_keys SET recovery_point = 'finished', response_status = %s,"
        " response_body = %s, response_location = %s WHERE id = %s",
        (status, body, location, row_id),
    )


def _release_unless_committed(conn: Connection, row_id: int) -> None:
    """After ``work`` failed: when it had not committed anything yet (the row is still ``started``), the request
    changed nothing, so the key is not kept and may be retried, with a corrected body too. Whatever the failure: a
    4xx, a database error (a ``DataError``), a bug. Best effort: when the database is gone too, the row stays
    ``started`` and unlocked, and the next request with the key takes it over (``_take_over``)."""
    with contextlib.suppress(Exception):
        conn.execute("DELETE FROM idempotency_keys WHERE id = %s AND recovery_point = 'started'", (row_id,))


Claim = Callable[[Connection], "tuple[KeyRow, bool] | None"]
"""A request's own first round trip (``POST /v1/payments``: the key and the payment in one statement,
``payments.PaymentWork.claim``). It answers only what needs no second look: a row it created itself (with its
lock: True) or a ``finished`` row (False); anything else is None, and the ordinary claim (``_claim``) follows."""


@dataclass
class _Lock:
    """Which key lock the request's connection may hold: ``row_id`` when known; ``unknown`` while a statement that
    takes one runs (when it fails, whether it took the lock is not known)."""

    row_id: int | None = None
    unknown: bool = False

    def release(self, conn: Connection) -> None:
        """Unlock what may be held; a connection that cannot say it holds no key lock is closed, never pooled (the
        pool drops a closed connection), so no later request inherits a lock."""
        if self.row_id is None and not self.unknown:
            return
        try:
            if self.unknown:
                conn.execute("SELECT pg_advisory_unlock_all()")
            else:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.row_id,))
        except Exception:  # pylint: disable=broad-exception-caught  # the connection is unusable: dropped below
            conn.close()


def _claimed(
    conn: Connection, scope: str, hashes: KeyHashes, fingerprint: str, *, claim: Claim | None, lock: _Lock
) -> tuple[KeyRow, bool, bool]:
    """The key's row, whether this request holds its lock, and whether the row is what this request's own claim
    just wrote (no need to read it again under the lock)."""
    lock.unknown = True
    found = claim(conn) if claim is not None else None
    fresh = found is not None
    if found is None:
        found = _claim(conn, scope, hashes, fingerprint)
    lock.unknown = False
    lock.row_id = found[0].id if found[1] else None
    return found[0], found[1], fresh


def run(
    pool: ConnectionPool,
    scope: str,
    hashes: KeyHashes,
    fingerprint: str,
    work: Callable[[Connection, KeyRow], Outcome],
    *,
    claim: Claim | None = None,
) -> Outcome:
    """Answer a request exactly once per (scope, key): replay, refuse, or run ``work`` from the recovery point.
    ``claim``: the request's own first round trip (``Claim``), tried before the ordinary claim."""
    lock = _Lock()
    with pool.connection() as conn:
        try:
            row, locked, fresh = _claimed(conn, scope, hashes, fingerprint, claim=claim, lock=lock)
            if row.fingerprint != fingerprint:
                raise ProblemError("idempotency_key_reused", "This Idempotency-Key was used with a different request.")
            if row.recovery_point == "finished":
                return _replay(row)
            if not locked:
                raise ProblemError(
                    "idempotency_request_in_progress",
                    "A request with this key is in progress.",
                    headers={"Retry-After": "1"},
                )
            current = row if fresh else _current(conn, row.id)
            if current.recovery_point == "finished":
                return _replay(current)
            try:
                outcome = work(conn, current)
            except BaseException:
                _release_unless_committed(conn, row.id)
                raise
            if outcome.released:
                lock.row_id = None
            return outcome
        finally:
            lock.release(conn)


def _current(conn: Connection, row_id: int) -> KeyRow:
    """The key's row as the lock's holder sees it: the request before commits before it unlocks."""
    current = _row(conn.execute(f"SELECT {COLUMNS} FROM idempotency_keys WHERE id = %s", (row_id,)).fetchone())
    assert current is not None
    return current


def purge(pool: ConnectionPool, retention_hours: int) -> int:
    """Delete keys older than the retention (at least 24 hours); returns how many. A key whose payment is still
    ``processing`` or whose refund is still ``pending`` is kept whatever its age: its retry (or the reconciler) has
    yet to store the final answer, and a purged key would let a retry start a second payment."""
    with pool.connection() as conn:
        cursor = conn.execute(
            "DELETE FROM idempotency_keys AS k WHERE k.created_at < now() - make_interval(hours => %s)"
            " AND NOT EXISTS (SELECT 1 FROM payments AS p WHERE p.id = k.payment_id AND p.status = 'processing')"
            " AND NOT EXISTS (SELECT 1 FROM refunds AS r WHERE r.id = k.refund_id AND r.status = 'pending')",
            (max(retention_hours, 24),),
        )
        return cursor.rowcount


def legacy_keys(pool: ConnectionPool) -> int:
    """How many keys are still stored under their bare SHA-256 (``key_scheme = 'sha256'``). While any remains,
    the legacy lookup is needed; the purge deletes them once past the retention (an unresolved payment's key
    waits for the reconciler)."""
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM idempotency_keys WHERE key_scheme = %s", (LEGACY_SCHEME,)).fetchone()
    return int(row[0]) if row else 0
