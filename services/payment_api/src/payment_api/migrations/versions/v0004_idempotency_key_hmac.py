"""Idempotency keys at rest as an HMAC-SHA-256 (issue 23, item 5): each row says what its ``key_hash`` holds.

``key_scheme`` is ``sha256`` (the bare SHA-256 of the key, written by every release before this one) or
``hmac-sha256`` (the HMAC under the fleet's secret, ``payment_api.idempotency.key_hash``). The expand step of an
expand-then-contract change:

- the column's default is ``sha256``: the rows already there are legacy rows (PostgreSQL 11 and later adds a
  column with a constant default without rewriting the table), and so is every row the release before keeps
  inserting, without naming the column, while it still runs beside this one; this release names the column and
  writes ``hmac-sha256``;
- this release looks a key up under its HMACs and, among legacy rows only, under its bare SHA-256, so a retry of a
  key stored before the upgrade (or by an instance of the release before) is replayed, not charged again;
- no legacy row is written once the whole fleet runs this release, and the purge deletes the legacy rows with the
  others when they are past the retention (``payment-api purge-idempotency-keys`` logs how many remain). When
  none remains, the contract step (a later release's migration) may change the default to ``hmac-sha256`` and
  drop the legacy lookup; not before, and not while an instance of a release before this one still serves.

Downgrade drops the column: the release before then finds no key stored as an HMAC, so a retry of such a key
would run again (a second charge with a real processor). Downgrade only with no HMAC row younger than a client's
retry window, or not at all.

Revision ID: 0004_idempotency_key_hmac
Revises: 0002_refund_rows_within_amount
"""

# Alembic reads these lower-case module names; op is a proxy pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

from alembic import op

revision = "0004_idempotency_key_hmac"
down_revision = "0003_refund_created_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The CHECK scans the table once (every row holds the default); the table holds the retention's keys only.
    op.execute(
        "ALTER TABLE public.idempotency_keys ADD COLUMN key_scheme text NOT NULL DEFAULT 'sha256'"
        " CONSTRAINT idempotency_key_scheme CHECK (key_scheme IN ('sha256', 'hmac-sha256'))"
    )
    op.execute(
        "COMMENT ON COLUMN public.idempotency_keys.key_scheme IS 'what key_hash holds: sha256 (the bare SHA-256 of"
        " the key, rows written before migration 0004) or hmac-sha256 (its HMAC under the fleet''s secret)'"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE public.idempotency_keys DROP COLUMN key_scheme")
