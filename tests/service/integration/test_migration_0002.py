"""Migration 0002 (the refund rows' trigger) on a database that already has data: it refuses, and changes nothing,
when existing refund rows break the invariant it installs; once they are corrected it applies, and it downgrades.
A PostgreSQL of its own, migrated to 0001 first."""

from __future__ import annotations

from alembic import command
from payment_api.config import load_settings
from payment_api.migrate import alembic_config, head_revision
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import run_cli

PAYMENT, REFUND = "pay_" + "A" * 22, "re_" + "B" * 22


def alembic(database: LocalPostgres, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade <revision>`` as the owner role, as ``payment-api migrate`` connects."""
    settings = load_settings(database.service_env())
    owner = settings.owner_database
    engine = create_engine(
        owner.sqlalchemy_url(),
        connect_args={"password": owner.password, "sslmode": owner.sslmode, "sslrootcert": owner.sslrootcert},
        poolclass=NullPool,
    )
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            config.attributes["app_role"] = settings.database.user
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def version(database: LocalPostgres) -> str:
    with database.superuser(DATABASE) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


def triggers(database: LocalPostgres) -> int:
    with database.superuser(DATABASE) as conn:
        row = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'refund_rows_within_amount'").fetchone()
    assert row is not None
    return int(row[0])


def test_0002_refuses_existing_rows_past_the_amount_then_applies_and_downgrades(old_db: LocalPostgres) -> None:
    alembic(old_db, "upgrade", "0001_initial")
    with old_db.superuser(DATABASE) as conn:  # what 0001 let the application role write
        conn.execute(
            "INSERT INTO payments (id, status, amount, currency, payment_method) VALUES (%s, 'succeeded', 100, 'EUR',"
            " 'pm_card_visa')",
            (PAYMENT,),
        )
        conn.execute(
            "INSERT INTO refunds (id, payment_id, amount, status, reason)"
            " VALUES (%s, %s, 500, 'succeeded', 'duplicate')",
            (REFUND, PAYMENT),
        )
    refused = run_cli(old_db.service_env(), "migrate")
    assert refused.returncode != 0
    assert "1 payment(s) have refunds summing past their amount" in refused.stderr, refused.stderr[-2000:]
    assert (version(old_db), triggers(old_db)) == ("0001_initial", 0), "nothing of 0002 stays"

    with old_db.superuser(DATABASE) as conn:  # corrected by the owner, as the message says
        conn.execute("UPDATE refunds SET amount = 100 WHERE id = %s", (REFUND,))
        conn.execute("UPDATE payments SET amount_refunded = 100 WHERE id = %s", (PAYMENT,))
    applied = run_cli(old_db.service_env(), "migrate")
    assert applied.returncode == 0, applied.stderr[-2000:]
    assert (version(old_db), triggers(old_db)) == (head_revision(), 2)

    alembic(old_db, "downgrade", "0001_initial")
    assert (version(old_db), triggers(old_db)) == ("0001_initial", 0)
    alembic(old_db, "upgrade", "head")
    assert (version(old_db), triggers(old_db)) == (head_revision(), 2)
