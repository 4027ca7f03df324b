"""Payments and refunds: each request runs in recovery-point phases around the processor call, which is made
outside any database transaction.

Payment: ``started`` -> (tx: insert the payment, ``processing``) ``payment_created`` -> processor call ->
(tx: the outcome and the final answer) ``finished``; when the processor refuses the token (``PaymentMethodInvalid``,
nothing charged), one transaction deletes the payment and the key: ``400 payment_method_invalid``, nothing stored.
Refund: ``started`` -> (tx: reserve the amount on the payment row, guarded by ``amount_refunded + n <= amount`` and
the ``refunds_within_amount`` CHECK; the refund row, ``pending``, names the operator in ``created_by``)
``refund_created`` -> processor call -> (tx: the outcome, releasing the reservation when it failed, and the final
answer). A processor timeout leaves the refund ``pending`` (``202``); the retry or the reconciler finishes it.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import string
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, errors
from tap_contract.logs import REFUND_CREATED, REFUNDS_LOGGER

from payment_api.idempotency import (
    COLUMNS,
    FIND,
    HMAC_SCHEME,
    KeyHashes,
    KeyRow,
    Outcome,
    find_parameters,
    finish,
    row_of,
)
from payment_api.jsonbody import dumps
from payment_api.models import PaymentCreate, RefundCreate
from payment_api.problems import ProblemError
from payment_api.processor import ChargeResult, PaymentMethodInvalid, Processor, ProcessorTimeout

ALPHABET = string.ascii_letters + string.digits
PAYMENT_COLUMNS = (
    "id, status, amount, currency, amount_refunded, description, card_brand, card_last4, failure_code,"
    " created_at, payment_method"
)
REFUND_COLUMNS = "id, payment_id, amount, status, reason, created_at, created_by"
# One line per refund created (tap_contract.logs: the stack's refunds-per-hour alarm counts them).
REFUNDS_LOG = logging.getLogger(REFUNDS_LOGGER)


ID_LENGTH = 22
ID_SPACE = len(ALPHABET) ** ID_LENGTH
_ID_BYTES = 17
_ID_LIMIT = (1 << (8 * _ID_BYTES)) // ID_SPACE * ID_SPACE


def new_id(prefix: str) -> str:
    """``prefix_`` + 22 base62 characters, uniform over all of them (about 131 random bits), not time-ordered.
    One read of the system's random source (a POST's profile showed 22 ``secrets.choice`` calls, one each)."""
    value = _ID_LIMIT
    while value >= _ID_LIMIT:  # rejection keeps every id equally likely; a redraw: about 1 draw in 190
        value = int.from_bytes(secrets.token_bytes(_ID_BYTES), "big")
    value %= ID_SPACE
    characters = []
    for _ in range(ID_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        characters.append(ALPHABET[digit])
    return f"{prefix}_" + "".join(characters)


def timestamp(value: datetime) -> str:
    """``2026-11-30T10:00:00.123Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def payment_view(row: tuple[Any, ...]) -> dict[str, Any]:
    """The public view of a payment row (``PAYMENT_COLUMNS`` order)."""
    card = {"brand": row[6], "last4": row[7]} if row[6] else None
    return {
        "id": row[0],
        "status": row[1],
        "amount": row[2],
        "currency": row[3],
        "amount_refunded": row[4],
        "description": row[5],
        "card": card,
        "failure_code": row[8],
        "created_at": timestamp(row[9]),
    }


def refund_view(row: tuple[Any, ...]) -> dict[str, Any]:
    """The view of a refund row (``REFUND_COLUMNS`` order)."""
    return {
        "id": row[0],
        "payment_id": row[1],
        "amount": row[2],
        "status": row[3],
        "reason": row[4],
        "created_by": row[6],
        "created_at": timestamp(row[5]),
    }


def processor_reference(conn: Connection, payment_id: str) -> str | None:
    """The processor's id for the payment's charge, recorded with its outcome (None for the simulator)."""
    row = conn.execute("SELECT processor_reference FROM payments WHERE id = %s", (payment_id,)).fetchone()
    return None if row is None else row[0]


def load_payment(conn: Connection, payment_id: str) -> tuple[Any, ...] | None:
    """A payment row, or None."""
    return conn.execute(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s", (payment_id,)).fetchone()


def _crash_hook(enabled: bool) -> None:
    """Test hook (``PAYMENT_TEST_CRASH_AFTER_PROCESSOR=1``, refused in production): die between the processor
    call and the commit, the way a killed instance would."""
    if enabled:
        os.kill(os.getpid(), signal.SIGKILL)


def create_payment(
    conn: Connection, key: KeyRow, request: PaymentCreate, processor: Processor, crash_after_processor: bool = False
) -> Outcome:
    """The idempotent work of ``POST /v1/payments`` from ``key``'s recovery point."""
    if key.recovery_point == "started":  # claimed alone (idempotency._claim; a release before issue 29 always did)
        payment_id = new_id("pay")
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO payments (id, status, amount, currency, payment_method, description,"
                f" customer_email) VALUES (%s, 'processing', %s, %s, %s, %s, %s) RETURNING {PAYMENT_COLUMNS}",
                (
                    payment_id,
                    request.amount,
                    request.currency,
                    request.payment_method,
                    request.description,
                    request.customer_email,
                ),
            ).fetchone()
            conn.execute(
                "UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = %s WHERE id = %s",
                (payment_id, key.id),
            )
    else:  # resumed: the payment was created by an earlier request with this key
        assert key.payment_id is not None
        row = load_payment(conn, key.payment_id)
    assert row is not None
    return charge_and_record(conn, key.id, row, processor, crash_after_processor)


def charge_and_record(
    conn: Connection, key_id: int, row: tuple[Any, ...], processor: Processor, crash_after_processor: bool
) -> Outcome:
    """The processor call for the payment ``row`` (``PAYMENT_COLUMNS`` order) and its outcome made final."""
    payment_id = row[0]
    location = f"/v1/payments/{payment_id}"
    try:
        result = processor.charge(payment_id, row[2], row[3], row[10])
    except ProcessorTimeout as unknown:
        remember_reference(conn, payment_id, unknown.reference)
        return Outcome(202, dumps(payment_view(row)), {"Location": location, "Retry-After": "1"})
    except PaymentMethodInvalid as refused:
        discard_payment(conn, key_id, payment_id)
        raise payment_method_invalid(refused) from None
    _crash_hook(crash_after_processor)
    return record_charge_and_release(conn, key_id, row, result)


# One statement, one round trip: the payment's outcome and the key's final answer commit together, and the key's
# session lock is handed to a transaction lock (pg_advisory_xact_lock, same key, same session: granted at once)
# before it is released, so the key stays locked until the commit and no other request sees the row unfinished
# without the lock. OFFSET 0 keeps the inner select apart, so the hand-over runs before the release.
RECORD_AND_RELEASE = (
    "WITH paid AS (UPDATE payments SET status = %s, card_brand = %s, card_last4 = %s, failure_code = %s,"
    " processor_reference = %s WHERE id = %s RETURNING id),"
    " answered AS (UPDATE idempotency_keys SET recovery_point = 'finished', response_status = 201,"
    " response_body = %s, response_location = %s WHERE id = %s RETURNING id)"
    " SELECT pg_advisory_unlock(fenced.id) FROM"
    " (SELECT answered.id, pg_advisory_xact_lock(answered.id) FROM paid, answered OFFSET 0) AS fenced"
)


def record_charge_and_release(conn: Connection, key_id: int, row: tuple[Any, ...], result: ChargeResult) -> Outcome:
    """``record_charge`` for the request that holds the key's lock and read the payment ``row`` under it (its
    values are current: only the lock's holder changes a ``processing`` payment of a key not ``finished``): the
    answer is built from ``row`` and the outcome, not read back, and the statement releases the lock after the
    commit (``Outcome.released``)."""
    payment_id = row[0]
    location = f"/v1/payments/{payment_id}"
    final = (*row[:1], result.status, *row[2:6], result.brand, result.last4, result.failure_code, *row[9:])
    body = charged_body(final, result)
    released = conn.execute(
        RECORD_AND_RELEASE,
        (
            result.status,
            result.brand,
            result.last4,
            result.failure_code,
            result.reference,
            payment_id,
            body,
            location,
            key_id,
        ),
    ).fetchone()
    assert released is not None, f"payment {payment_id} or its key {key_id} is gone"
    return Outcome(201, body, {"Location": location}, released=bool(released[0]))


# The first round trip of a new key: the key's row (at ``payment_created``) and the payment (``processing``) in one
# statement, one commit, with the key's session lock; a key already ``finished`` comes back for its replay; anything
# else (a key in progress, a concurrent claim of the same key, an older release's ``started`` row) comes back empty
# and the ordinary claim (idempotency._claim) takes over. The key row is inserted first and the payment from it, so a
# key lost to a concurrent claim (ON CONFLICT DO NOTHING) creates no payment.
CLAIM_AND_CREATE = (
    f"WITH found AS ({FIND}),"
    " claimed AS (INSERT INTO idempotency_keys (scope, key_hash, key_scheme, fingerprint, recovery_point, payment_id)"
    " SELECT %s, %s, %s, %s, 'payment_created', %s WHERE NOT EXISTS (SELECT FROM found)"
    f" ON CONFLICT (scope, key_hash) DO NOTHING RETURNING {COLUMNS}),"
    " paid AS (INSERT INTO payments (id, status, amount, currency, payment_method, description, customer_email)"
    f" SELECT claimed.payment_id, 'processing', %s, %s, %s, %s, %s FROM claimed RETURNING {PAYMENT_COLUMNS})"
    " SELECT key.*, paid.id IS NOT NULL AND pg_try_advisory_lock(key.id), paid.*"
    " FROM (SELECT * FROM claimed UNION ALL SELECT * FROM found WHERE recovery_point = 'finished') AS key"
    " LEFT JOIN paid ON paid.id = key.payment_id"
)
KEY_WIDTH = len(COLUMNS.split(","))


class PaymentWork:
    """``POST /v1/payments``'s work for ``idempotency.run``: ``claim`` is its first round trip (``Claim``), the
    call its work from the key's recovery point."""

    def __init__(self, request: PaymentCreate, processor: Processor, crash_after_processor: bool = False) -> None:
        self.request, self.processor, self.crash_after_processor = request, processor, crash_after_processor
        self.created: tuple[Any, ...] | None = None

    def claim(self, conn: Connection, scope: str, hashes: KeyHashes, fingerprint: str) -> tuple[KeyRow, bool] | None:
        """``CLAIM_AND_CREATE``: the new key's row and its lock, or a ``finished`` row, or None."""
        request = self.request
        found = conn.execute(
            CLAIM_AND_CREATE,
            (
                *find_parameters(scope, hashes),
                scope,
                hashes.stored,
                HMAC_SCHEME,
                fingerprint,
                new_id("pay"),
                request.amount,
                request.currency,
                request.payment_method,
                request.description,
                request.customer_email,
            ),
        ).fetchone()
        if found is None:
            return None
        if found[KEY_WIDTH + 1] is not None:
            self.created = tuple(found[KEY_WIDTH + 1 :])
        return row_of(found), bool(found[KEY_WIDTH])

    def __call__(self, conn: Connection, key: KeyRow) -> Outcome:
        if self.created is not None and key.payment_id == self.created[0]:
            return charge_and_record(conn, key.id, self.created, self.processor, self.crash_after_processor)
        return create_payment(conn, key, self.request, self.processor, self.crash_after_processor)


def remember_reference(conn: Connection, payment_id: str, reference: str | None) -> None:
    """Record the processor's id for a payment still ``processing`` (Stripe answered the create with an intent
    that has no outcome yet), so the reconciler reads that intent again instead of searching for it."""
    if reference is not None:
        conn.execute(
            "UPDATE payments SET processor_reference = %s WHERE id = %s AND status = 'processing'"
            " AND processor_reference IS NULL",
            (reference, payment_id),
        )


def settle_authentication(conn: Connection, payment_id: str, result: ChargeResult) -> bool:
    """Move a ``requires_action`` payment to its final ``result`` (``succeeded`` or ``failed``); False when it is no
    longer ``requires_action``. The one conditional UPDATE both the webhook and the reconciler's cancel of a stale
    authentication go through: when they race, the row lock orders them and the second finds the payment final and
    changes nothing, so the payment reaches exactly one final state."""
    moved = conn.execute(
        "UPDATE payments SET status = %s, card_brand = %s, card_last4 = %s, failure_code = %s,"
        " processor_reference = coalesce(processor_reference, %s) WHERE id = %s AND status = 'requires_action'"
        " RETURNING id",
        (result.status, result.brand, result.last4, result.failure_code, result.reference, payment_id),
    ).fetchone()
    return moved is not None


def payment_method_invalid(refused: PaymentMethodInvalid) -> ProblemError:
    """The ``400`` of a token the processor refused, naming the field and what the processor accepts."""
    return ProblemError(
        "payment_method_invalid",
        "The processor does not accept this payment_method; nothing was charged or stored.",
        [{"field": "payment_method", "message": refused.detail}],
    )


def discard_payment(conn: Connection, key_id: int, payment_id: str) -> None:
    """Undo a payment the processor refused without charging: the payment row and its key go in one transaction
    (the caller holds the key's lock), so nothing is stored and the key may be retried with a corrected body, as
    after any other 4xx."""
    with conn.transaction():
        conn.execute("DELETE FROM payments WHERE id = %s AND status = 'processing'", (payment_id,))
        conn.execute("DELETE FROM idempotency_keys WHERE id = %s AND payment_id = %s", (key_id, payment_id))


def record_charge(conn: Connection, key_id: int, payment_id: str, result: ChargeResult) -> Outcome:
    """The processor's outcome made final in one transaction: the payment's status, the processor's reference and
    the key's stored answer (the request that called the processor, or the reconciler, holding the key's lock). A
    ``requires_action`` answer is final for the key (API.md v1.2) and carries the ``client_secret``; the payment
    itself moves on when Stripe reports the authentication's outcome."""
    location = f"/v1/payments/{payment_id}"
    with conn.transaction():
        final = conn.execute(
            "UPDATE payments SET status = %s, card_brand = %s, card_last4 = %s, failure_code = %s,"
            f" processor_reference = %s WHERE id = %s RETURNING {PAYMENT_COLUMNS}",
            (result.status, result.brand, result.last4, result.failure_code, result.reference, payment_id),
        ).fetchone()
        assert final is not None
        body = charged_body(final, result)
        finish(conn, key_id, 201, body, location)
    return Outcome(201, body, {"Location": location})


def charged_body(row: tuple[Any, ...], result: ChargeResult) -> bytes:
    """The 201's body: the payment as charged; a ``requires_action`` answer carries the ``client_secret``, only in
    this 201 (stored and replayed), never in a GET."""
    view = payment_view(row)
    if result.requires_action:
        view["client_secret"] = result.client_secret
    return dumps(view)


def _reserve_refund(
    conn: Connection, key: KeyRow, payment_id: str, request: RefundCreate, created_by: tuple[str, str]
) -> str:
    refund_id = new_id("re")
    with conn.transaction():
        payment = conn.execute(
            "SELECT amount, amount_refunded, status FROM payments WHERE id = %s FOR UPDATE", (payment_id,)
        ).fetchone()
        if payment is None:
            raise ProblemError("not_found", "No such payment.")
        if payment[2] != "succeeded":
            raise ProblemError("payment_not_refundable", "Only a succeeded payment can be refunded.")
        amount = request.amount if request.amount is not None else payment[0] - payment[1]
        try:
            reserved = conn.execute(
                "UPDATE payments SET amount_refunded = amount_refunded + %s"
                " WHERE id = %s AND amount_refunded + %s <= amount RETURNING amount_refunded",
                (amount, payment_id, amount),
            ).fetchone()
        except errors.CheckViolation:
            reserved = None
        if reserved is None or amount <= 0:
            raise ProblemError("refund_exceeds_payment", "The refunds would exceed the payment's amount.")
        conn.execute(
            "INSERT INTO refunds (id, payment_id, amount, status, reason, created_by, created_by_user_id)"
            " VALUES (%s, %s, %s, 'pending', %s, %s, %s)",
            (refund_id, payment_id, amount, request.reason, *created_by),
        )
        conn.execute(
            "UPDATE idempotency_keys SET recovery_point = 'refund_created', refund_id = %s WHERE id = %s",
            (refund_id, key.id),
        )
    # After the commit: a rolled-back reservation created nothing. Ids only: no amount, reason, body or token.
    REFUNDS_LOG.info(REFUND_CREATED, extra={"fields": {"refund_id": refund_id, "payment_id": payment_id}})
    return refund_id


def create_refund(
    conn: Connection,
    key: KeyRow,
    payment_id: str,
    request: RefundCreate,
    processor: Processor,
    *,
    created_by: str,
    created_by_user_id: str,
) -> Outcome:
    """The idempotent work of ``POST /v1/payments/{id}/refunds`` from ``key``'s recovery point; ``created_by`` is
    the operator's identity (the full ARN of their operator-role session, or ``local:<name>``) and
    ``created_by_user_id`` STS's UserId of that session, both stored on the refund."""
    refund_id = key.refund_id if key.recovery_point == "refund_created" else None
    if refund_id is None:
        refund_id = _reserve_refund(conn, key, payment_id, request, (created_by, created_by_user_id))
    row = conn.execute(f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s", (refund_id,)).fetchone()
    assert row is not None
    try:
        succeeded = processor.refund(refund_id, payment_id, row[2], processor_reference(conn, payment_id))
    except ProcessorTimeout:
        return Outcome(202, dumps(refund_view(row)), {"Retry-After": "1"})
    return record_refund(conn, key.id, refund_id, succeeded)


def record_refund(conn: Connection, key_id: int, refund_id: str, succeeded: bool) -> Outcome:
    """The processor's refund outcome made final in one transaction: the refund's status (a failed refund gives its
    reservation back) and the key's stored answer (the request holding the key's lock, or the reconciler)."""
    row = conn.execute("SELECT payment_id, amount FROM refunds WHERE id = %s", (refund_id,)).fetchone()
    assert row is not None
    payment_id, amount = row
    with conn.transaction():
        conn.execute(
            "UPDATE refunds SET status = %s WHERE id = %s", ("succeeded" if succeeded else "failed", refund_id)
        )
        if not succeeded:
            conn.execute(
                "UPDATE payments SET amount_refunded = amount_refunded - %s WHERE id = %s", (amount, payment_id)
            )
        final = conn.execute(f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s", (refund_id,)).fetchone()
        assert final is not None
        body = dumps(refund_view(final))
        finish(conn, key_id, 201, body, None)
    return Outcome(201, body)


def fail_refund(conn: Connection, refund_id: str, payment_id: str) -> bool:
    """A ``succeeded`` refund the processor reports failed later (Stripe: a refund ``pending`` at the bank that
    failed): the refund becomes ``failed`` and its amount is refundable again, in the caller's transaction. False
    when the refund is not ``succeeded`` (already failed, or still ``pending``: its retry or the reconciler reads the
    failure from the processor itself and gives the amount back then), or not of ``payment_id``."""
    row = conn.execute(
        "UPDATE refunds SET status = 'failed' WHERE id = %s AND payment_id = %s AND status = 'succeeded'"
        " RETURNING payment_id, amount",
        (refund_id, payment_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute("UPDATE payments SET amount_refunded = amount_refunded - %s WHERE id = %s", (row[1], row[0]))
    return True


def list_refunds(conn: Connection, payment_id: str) -> list[dict[str, Any]]:
    """A payment's refunds, newest first."""
    rows = conn.execute(
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = %s ORDER BY created_at DESC, id", (payment_id,)
    ).fetchall()
    return [refund_view(row) for row in rows]
