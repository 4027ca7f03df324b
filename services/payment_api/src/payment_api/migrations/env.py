"""Alembic environment: always online, on the connection ``payment_api.migrate`` opened and locked."""

from __future__ import annotations

from alembic import context

# context is a proxy Alembic fills in at run time: pylint cannot see its members.
# pylint: disable=no-member

connection = context.config.attributes["connection"]
context.configure(connection=connection, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
