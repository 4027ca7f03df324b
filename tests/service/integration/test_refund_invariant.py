"""The refund invariant in the database itself (issue 23, B9): plain SQL as the application role, with no API in
the way, cannot make a payment's refund rows sum past its amount, alone or with concurrent transactions. The check
is migration 0002's deferred constraint trigger ``refund_rows_within_amount``."""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import errors

from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres

AMOUNT = 100
REFUSED = (errors.CheckViolation, errors.SerializationFailure)
"""How the database refuses a refund: the check, or (REPEATABLE READ) the counter updated concurrently."""


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))


def as_app(postgres: LocalPostgres) -> psycopg.Connection:
    """A connection as the application role, the way the service connects (TLS, verify-full)."""
    return psycopg.connect(
        host="127.0.0.1",
        port=postgres.port,
        dbname=DATABASE,
        user=APP,
        password=postgres.passwords[APP],
        sslmode="verify-full",
        sslrootcert=str(postgres.ca_file),
        autocommit=True,
        connect_timeout=10,
        options="-c lock_timeout=20s -c statement_timeout=30s",
    )


@pytest.fixture(name="app")
def fixture_app(postgres: LocalPostgres) -> Iterator[psycopg.Connection]:
    with as_app(postgres) as conn:
        yield conn


def a_payment(conn: psycopg.Connection, amount: int = AMOUNT) -> str:
    payment_id = new_id("pay")
    conn.execute(
        "INSERT INTO payments (id, status, amount, currency, payment_method)"
        " VALUES (%s, 'succeeded', %s, 'EUR', 'pm_card_visa')",
        (payment_id, amount),
    )
    return payment_id


def insert_refund(conn: psycopg.Connection, payment_id: str, amount: int, status: str = "succeeded") -> str:
    refund_id = new_id("re")
    conn.execute(
        "INSERT INTO refunds (id, payment_id, amount, status, reason) VALUES (%s, %s, %s, %s, 'duplicate')",
        (refund_id, payment_id, amount, status),
    )
    return refund_id


def totals(conn: psycopg.Connection, payment_id: str) -> tuple[int, int]:
    """(the counted refund rows' sum, amount_refunded)."""
    row = conn.execute(
        "SELECT (SELECT coalesce(sum(amount), 0) FROM refunds WHERE payment_id = p.id"
        " AND status IN ('pending', 'succeeded')), amount_refunded FROM payments AS p WHERE id = %s",
        (payment_id,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_refund_row_of_five_times_the_amount_is_refused(app: psycopg.Connection) -> None:
    payment_id = a_payment(app)
    with pytest.raises(errors.CheckViolation, match=r"would sum to 500, more than its amount 100") as refused:
        insert_refund(app, payment_id, 5 * AMOUNT)
    assert refused.value.diag.constraint_name == "refund_rows_within_amount"
    with pytest.raises(errors.CheckViolation):  # with the counter raised alike: 0001's CHECK on the counter
        with app.transaction():
            app.execute("UPDATE payments SET amount_refunded = %s WHERE id = %s", (5 * AMOUNT, payment_id))
            insert_refund(app, payment_id, 5 * AMOUNT)
    with pytest.raises(errors.CheckViolation, match="more than its amount"):  # and in several rows
        with app.transaction():
            for _ in range(5):
                insert_refund(app, payment_id, AMOUNT)
    assert totals(app, payment_id) == (0, 0)


def test_every_way_round_the_rows_is_refused(app: psycopg.Connection) -> None:
    payment_id, other_id = a_payment(app), a_payment(app)
    with app.transaction():  # a refund as the API makes it: the counter and the row in one transaction
        app.execute("UPDATE payments SET amount_refunded = 60 WHERE id = %s", (payment_id,))
        refund_id = insert_refund(app, payment_id, 60)
    failed_id = insert_refund(app, payment_id, 90, status="failed")  # a failed refund returned nothing
    attempts: list[tuple[str, tuple[object, ...]]] = [
        ("UPDATE refunds SET status = 'succeeded' WHERE id = %s", (failed_id,)),  # revive a failed 90
        ("UPDATE refunds SET amount = 500 WHERE id = %s", (refund_id,)),
        ("UPDATE payments SET amount = 50 WHERE id = %s", (payment_id,)),  # shrink the payment under its refunds
        ("UPDATE payments SET amount_refunded = 0 WHERE id = %s", (payment_id,)),  # hide the refunds
        ("DELETE FROM refunds WHERE id = %s", (refund_id,)),  # drop a row, keep the counter
        ("UPDATE refunds SET payment_id = %s WHERE id = %s", (other_id, refund_id)),  # move it to another payment
    ]
    for statement, values in attempts:
        with pytest.raises(errors.CheckViolation):
            app.execute(statement, values)
    assert totals(app, payment_id) == (60, 60) and totals(app, other_id) == (0, 0)
    with app.transaction():  # a refund that failed, as the API records it: the row and the counter together
        app.execute("UPDATE refunds SET status = 'failed' WHERE id = %s", (refund_id,))
        app.execute("UPDATE payments SET amount_refunded = 0 WHERE id = %s", (payment_id,))
    assert totals(app, payment_id) == (0, 0)


def test_the_application_role_cannot_switch_the_check_off(app: psycopg.Connection) -> None:
    for statement in (
        "ALTER TABLE refunds DISABLE TRIGGER refund_rows_within_amount",
        "DROP TRIGGER refund_rows_within_amount ON refunds",
        "SET session_replication_role = replica",
        "CREATE OR REPLACE FUNCTION public.refund_rows_within_amount() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            app.execute(statement)


def concurrently(postgres: LocalPostgres, count: int, transaction: Callable[[psycopg.Connection], None]) -> int:
    """``count`` transactions, each on its own application-role connection, released together by a barrier;
    returns how many committed. Every other one must have been refused by the database."""
    barrier = threading.Barrier(count, timeout=30)

    def one(_index: int) -> bool:
        with as_app(postgres) as conn:
            barrier.wait()
            try:
                transaction(conn)
            except REFUSED:
                return False
            return True

    with ThreadPoolExecutor(count) as pool:
        return sum(pool.map(one, range(count), timeout=120))


CONCURRENT = 8
PART = 30  # eight refunds of 30 against 100: three fit


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_concurrent_partial_refunds_never_pass_the_amount(postgres: LocalPostgres, isolation: str) -> None:
    """Three ways to write a refund, each from eight transactions at once: the counter moved by the refund (the
    API's way, without its guard), the counter set to what the transaction sees of the rows, and the rows alone."""
    with as_app(postgres) as conn:
        payments = [a_payment(conn) for _ in range(3)]

    def by_increment(conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            conn.execute(
                "UPDATE payments SET amount_refunded = amount_refunded + %s WHERE id = %s", (PART, payments[0])
            )
            insert_refund(conn, payments[0], PART)

    def by_own_view(conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            insert_refund(conn, payments[1], PART)
            conn.execute(
                "UPDATE payments SET amount_refunded = (SELECT sum(amount) FROM refunds WHERE payment_id = %s"
                " AND status IN ('pending', 'succeeded')) WHERE id = %s",
                (payments[1], payments[1]),
            )

    def rows_alone(conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            insert_refund(conn, payments[2], PART)

    committed = [concurrently(postgres, CONCURRENT, work) for work in (by_increment, by_own_view, rows_alone)]
    with as_app(postgres) as conn:
        for payment_id, count in zip(payments, committed, strict=True):
            refunded, counter = totals(conn, payment_id)
            assert refunded == counter == count * PART <= AMOUNT, (isolation, payment_id, refunded, counter)
    assert committed[0] >= 1, "the API's way commits while it fits"
    assert committed[2] == 0, "a refund row without its counter never commits"
