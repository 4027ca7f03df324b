"""Operator identities (issue 27; API.md v1.2, Operators): the static operator keys go away.

- ``operator_keys`` is dropped: every static key (and its hash) is gone. Operators now hold short-lived tokens the
  service issues from a signed ``sts:GetCallerIdentity`` proof (``payment_api.operators``), which need no table.
  In its place stays a view of the same name and columns that holds no row, readable by the application role, so an
  instance of the previous release still serving during the rollout answers ``401 unauthorized`` to every static key
  (its lookup finds nothing) instead of failing on a missing table; the next release's migration drops the view.
- ``refunds.created_by_user_id`` (nullable, no default: no rewrite, and the previous release's INSERT, which does not
  name it, keeps working): STS's ``UserId`` of the operator's session, beside ``created_by`` (their session's ARN).

Downgrade drops the column and the view and creates an empty ``operator_keys`` table again (a release before this
one needs new keys: ``payment-api create-operator-key`` of that release).

Revision ID: 0007_operator_identity
Revises: 0005_stripe_processor (another 0006 may come between them: the revision chain is set where they meet)
"""

# Alembic reads these lower-case module names; op is a proxy pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

import re

from alembic import context, op

revision = "0007_operator_identity"
down_revision = "0005_stripe_processor"
branch_labels = None
depends_on = None

EMPTY_KEYS = """
CREATE VIEW public.operator_keys AS
SELECT NULL::text AS id, NULL::text AS key_hash, NULL::text AS label, NULL::timestamptz AS created_at,
       NULL::timestamptz AS revoked_at
WHERE false
"""
KEYS_TABLE = """
CREATE TABLE public.operator_keys (
    id text PRIMARY KEY,
    key_hash text NOT NULL UNIQUE,
    label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)
"""


def _app_role() -> str:
    """The application role, as migration 0001 reads it (a plain identifier: it is spliced into the GRANT)."""
    role = str(context.config.attributes.get("app_role", "payment_app"))
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("the application role name must be a plain lower-case identifier")
    return role


def upgrade() -> None:
    # Behind a long transaction the locks would queue every refund behind them: give up after 5 s instead (the whole
    # upgrade rolls back; run the release step again).
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE public.refunds ADD COLUMN created_by_user_id text")
    op.execute("DROP TABLE public.operator_keys")
    op.execute(EMPTY_KEYS)
    op.execute("SET LOCAL lock_timeout TO DEFAULT")
    op.execute(f'GRANT SELECT ON public.operator_keys TO "{_app_role()}"')


def downgrade() -> None:
    op.execute("DROP VIEW public.operator_keys")
    op.execute(KEYS_TABLE)
    op.execute(f'GRANT SELECT ON public.operator_keys TO "{_app_role()}"')
    op.execute("ALTER TABLE public.refunds DROP COLUMN created_by_user_id")
