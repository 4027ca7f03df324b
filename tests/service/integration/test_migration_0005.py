"""Migration 0005 (the Stripe processor's columns) on a database holding payments of the release before: they keep
their status, the wider status CHECK still refuses an unknown status, ``processor_reference`` is checked, and it
downgrades, refusing to while a payment is ``requires_action``. A PostgreSQL of its own (conftest ``old_db``)."""

from __future__ import annotations

import psycopg
import pytest

from tests.service.integration.test_migration_0002 import alembic, version
from tools.dev.local_api.postgres import DATABASE, LocalPostgres

OLD = "pay_" + "O" * 22
NEW = "pay_" + "N" * 22
INSERT = (
    "INSERT INTO payments (id, status, amount, currency, payment_method) VALUES (%s, %s, 1999, 'EUR', 'pm_card_visa')"
)


def test_0005_widens_the_status_adds_the_reference_and_downgrades(old_db: LocalPostgres) -> None:
    alembic(old_db, "upgrade", "0004_idempotency_key_hmac")
    with old_db.superuser(DATABASE) as conn:
        conn.execute(INSERT, (OLD, "succeeded"))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(INSERT, (NEW, "requires_action"))

    alembic(old_db, "upgrade", "0005_stripe_processor")
    assert version(old_db) == "0005_stripe_processor"
    with old_db.superuser(DATABASE) as conn:
        assert conn.execute("SELECT status, processor_reference FROM payments WHERE id = %s", (OLD,)).fetchone() == (
            "succeeded",
            None,
        )
        conn.execute(INSERT, (NEW, "requires_action"))
        conn.execute("UPDATE payments SET processor_reference = 'pi_3Abc' WHERE id = %s", (NEW,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(INSERT, ("pay_" + "U" * 22, "unknown"))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE payments SET processor_reference = 'pi 1; --' WHERE id = %s", (NEW,))

    with pytest.raises(Exception, match="payments_status_check"):
        alembic(old_db, "downgrade", "0004_idempotency_key_hmac")  # a payment still waits for 3-D Secure
    with old_db.superuser(DATABASE) as conn:
        conn.execute("UPDATE payments SET status = 'failed' WHERE id = %s", (NEW,))
    alembic(old_db, "downgrade", "0004_idempotency_key_hmac")
    assert version(old_db) == "0004_idempotency_key_hmac"
    with old_db.superuser(DATABASE) as conn:
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'payments'"
            " AND column_name = 'processor_reference'"
        ).fetchone()
    assert columns == (0,)
