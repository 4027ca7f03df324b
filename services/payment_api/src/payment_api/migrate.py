"""Migrations: a privileged step (the owner role) run before the service starts, serialized across instances by
a PostgreSQL advisory lock held for the whole upgrade transaction."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from payment_api.config import DatabaseSettings

# pg_advisory_xact_lock key: any constant shared by every instance of the service.
MIGRATION_LOCK = 7_301_944_112


def alembic_config() -> Config:
    """The Alembic configuration (no alembic.ini: the scripts ship inside the package)."""
    config = Config()
    config.set_main_option("script_location", "payment_api:migrations")
    return config


def head_revision() -> str:
    """The revision the code expects (``/ready`` compares the database's to it)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(owner: DatabaseSettings, app_role: str) -> None:
    """Upgrade to head as the owner role; concurrent callers wait for the lock, then find nothing to do."""
    connect_args: dict[str, object] = {
        "password": owner.password,
        "sslmode": owner.sslmode,
        "connect_timeout": owner.connect_timeout,
    }
    if owner.sslrootcert:
        connect_args["sslrootcert"] = owner.sslrootcert
    engine = create_engine(owner.sqlalchemy_url(), connect_args=connect_args, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = connection
            config.attributes["app_role"] = app_role
            command.upgrade(config, "head")
    finally:
        engine.dispose()
