"""The reconciler (``payment-api reconcile``): finishes payments a client abandoned in ``processing`` and refunds
abandoned in ``pending``.

A payment stays ``processing`` when its request could not finish (the processor timed out: ``202``; the process died
between the processor call and the commit) and the client never retried. Every pass takes the payments older than a
grace period whose key is at the ``payment_created`` recovery point and, for each, does what the retry would do:
it takes the key's advisory lock (the lock a request holds while it works on the key, so neither a retry nor another
reconciler can finish the payment at the same time; a payment whose lock is taken is skipped), re-reads the
processor's outcome (``Processor.lookup``; when the processor was never reached, the charge call itself, idempotent
on our payment id) and stores the payment's status and the key's final answer in one transaction. A retry with the
key then gets that answer replayed. The purge keeps such keys (``idempotency.purge``), and the instances run a pass
every 60 s, far inside the 24 hours a key is kept.

A payment whose token the processor refuses (``PaymentMethodInvalid``: a payment stored before the call by a
process that died, or by a release whose simulator took any token) is discarded with its key, as the retry would
(``400 payment_method_invalid``, nothing stored).

Refunds: a refund stays ``pending`` when its processor call timed out (``202``) or its process died after the
refund row was committed, and the client never retried. The pass takes those older than the grace period whose key
is at ``refund_created`` and, under the key's lock, does what the retry does: the refund call again (idempotent on
our refund id, so the processor refunds once) and the outcome with the key's final answer in one transaction.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from psycopg import Connection
from psycopg_pool import ConnectionPool

from payment_api.payments import discard_payment, processor_reference, record_charge, record_refund
from payment_api.processor import PaymentMethodInvalid, Processor, ProcessorTimeout

LOG = logging.getLogger("payment_api.reconcile")
BATCH = 100

CANDIDATES = (
    "SELECT p.id, k.id FROM payments AS p JOIN idempotency_keys AS k"
    " ON k.payment_id = p.id AND k.recovery_point = 'payment_created'"
    " WHERE p.status = 'processing' AND p.created_at < now() - make_interval(secs => %s)"
    " ORDER BY p.created_at LIMIT %s"
)
REFUND_CANDIDATES = (
    "SELECT r.id, k.id FROM refunds AS r JOIN idempotency_keys AS k"
    " ON k.refund_id = r.id AND k.recovery_point = 'refund_created'"
    " WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => %s)"
    " ORDER BY r.created_at LIMIT %s"
)


@dataclass(frozen=True, kw_only=True)
class PassResult:
    """One pass: payments finished, skipped (locked by a request or another reconciler, or finished meanwhile),
    left for the next pass (the processor could not tell yet) and discarded (the processor refused the token); refunds
    finished, skipped and deferred likewise."""

    finished: int = 0
    skipped: int = 0
    deferred: int = 0
    discarded: int = 0
    refunds_finished: int = 0
    refunds_skipped: int = 0
    refunds_deferred: int = 0


def _still_open(conn: Connection, payment_id: str, key_id: int) -> tuple[int, str, str] | None:
    """The payment's amount, currency and method when, under the key's lock, it is still unresolved."""
    row = conn.execute(
        "SELECT p.amount, p.currency, p.payment_method FROM payments AS p JOIN idempotency_keys AS k"
        " ON k.payment_id = p.id WHERE p.id = %s AND k.id = %s AND p.status = 'processing'"
        " AND k.recovery_point = 'payment_created'",
        (payment_id, key_id),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def finish_payment(conn: Connection, processor: Processor, payment_id: str, key_id: int) -> str:
    """Finish one payment under its key's lock: ``finished``, ``skipped`` or ``deferred``."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (key_id,)).fetchone()
    if not (locked and locked[0]):
        return "skipped"
    try:
        payment = _still_open(conn, payment_id, key_id)
        if payment is None:
            return "skipped"
        try:
            result = processor.lookup(payment_id)
            if result is None:  # never reached: the call the retry would make, idempotent on our payment id
                result = processor.charge(payment_id, *payment)
        except ProcessorTimeout:
            return "deferred"
        except PaymentMethodInvalid:
            discard_payment(conn, key_id, payment_id)
            fields = {"payment_id": payment_id, "code": "payment_method_invalid"}
            LOG.info("payment discarded", extra={"fields": fields})
            return "discarded"
        outcome = record_charge(conn, key_id, payment_id, result)
        LOG.info("payment reconciled", extra={"fields": {"payment_id": payment_id, "status": outcome.status}})
        return "finished"
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key_id,))


def _still_pending(conn: Connection, refund_id: str, key_id: int) -> tuple[str, int] | None:
    """The refund's payment id and amount when, under the key's lock, it is still unresolved."""
    row = conn.execute(
        "SELECT r.payment_id, r.amount FROM refunds AS r JOIN idempotency_keys AS k ON k.refund_id = r.id"
        " WHERE r.id = %s AND k.id = %s AND r.status = 'pending' AND k.recovery_point = 'refund_created'",
        (refund_id, key_id),
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def finish_refund(conn: Connection, processor: Processor, refund_id: str, key_id: int) -> str:
    """Finish one refund under its key's lock: ``finished``, ``skipped`` or ``deferred``."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (key_id,)).fetchone()
    if not (locked and locked[0]):
        return "skipped"
    try:
        refund = _still_pending(conn, refund_id, key_id)
        if refund is None:
            return "skipped"
        try:
            # Idempotent on our refund id: the retry's call.
            succeeded = processor.refund(refund_id, *refund, processor_reference(conn, refund[0]))
        except ProcessorTimeout:
            return "deferred"
        record_refund(conn, key_id, refund_id, succeeded)
        LOG.info(
            "refund reconciled",
            extra={"fields": {"refund_id": refund_id, "payment_id": refund[0], "succeeded": succeeded}},
        )
        return "finished"
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key_id,))


def reconcile_once(pool: ConnectionPool, processor: Processor, grace_seconds: float) -> PassResult:
    """One pass over the payments left ``processing`` and the refunds left ``pending`` for longer than
    ``grace_seconds``."""
    counts = dict.fromkeys(vars(PassResult()), 0)
    with pool.connection() as conn:
        for payment_id, key_id in conn.execute(CANDIDATES, (grace_seconds, BATCH)).fetchall():
            counts[finish_payment(conn, processor, payment_id, key_id)] += 1
        for refund_id, key_id in conn.execute(REFUND_CANDIDATES, (grace_seconds, BATCH)).fetchall():
            counts["refunds_" + finish_refund(conn, processor, refund_id, key_id)] += 1
    return PassResult(**counts)


def reconcile_every(
    pool: ConnectionPool, processor: Processor, grace_seconds: float, every_seconds: float, stop: threading.Event
) -> None:
    """A pass every ``every_seconds`` until ``stop`` is set; a failed pass (the database is down) is logged and the
    next one tries again."""
    while not stop.is_set():
        try:
            result = reconcile_once(pool, processor, grace_seconds)
            if result != PassResult():
                LOG.info("reconcile pass", extra={"fields": vars(result)})
        except Exception as error:  # pylint: disable=broad-exception-caught  # the loop outlives a failed pass
            LOG.warning("reconcile pass failed", extra={"fields": {"error": type(error).__name__}})
        stop.wait(every_seconds)
