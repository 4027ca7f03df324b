"""provision's pgaudit step without a database: the statement it sends, and the error that says what to fix."""

from __future__ import annotations

from typing import Any, cast

import psycopg
import pytest
from payment_api import provision


class Recorder:
    """A connection that records statements, and fails the one naming ``fail_on`` with ``error``."""

    def __init__(self, fail_on: str = "", error: Exception | None = None) -> None:
        self.statements: list[str] = []
        self.fail_on, self.error = fail_on, error

    def execute(self, statement: str, *_: Any) -> None:
        self.statements.append(statement)
        if self.fail_on and self.fail_on in statement and self.error is not None:
            raise self.error


def test_the_extension_is_created_idempotently() -> None:
    conn = Recorder()
    provision.create_audit_extension(cast(psycopg.Connection, conn))
    assert conn.statements == ["CREATE EXTENSION IF NOT EXISTS pgaudit"]


def test_a_database_that_does_not_preload_pgaudit_fails_with_what_to_fix() -> None:
    refused = psycopg.errors.ObjectNotInPrerequisiteState("pgaudit must be loaded via shared_preload_libraries")
    conn = Recorder("pgaudit", refused)
    with pytest.raises(provision.AuditUnavailable) as raised:
        provision.create_audit_extension(cast(psycopg.Connection, conn))
    message = str(raised.value)
    assert "pgaudit must be loaded via shared_preload_libraries" in message
    assert "shared_preload_libraries (static" in message and "pending-reboot" in message
    assert "rds_superuser" in message
