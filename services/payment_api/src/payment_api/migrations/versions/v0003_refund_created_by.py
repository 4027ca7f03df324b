"""The operator who made a refund: ``refunds.created_by`` (API.md v1.2, Operators).

Until operator identities arrive (security part one), it holds the operator key's label. Expand only, so the fleet
keeps serving while it runs: the column is nullable with no default, so adding it rewrites nothing and takes its
``ACCESS EXCLUSIVE`` lock only for the catalogue change, and a running instance of the previous release, whose INSERT
does not name the column, keeps working (its refunds get ``null``, as do the refunds made before this revision; the
refund view shows ``null`` for them). The application role's table grants cover the new column.

Revision ID: 0003_refund_created_by
Revises: 0002_refund_rows_within_amount
"""

# Alembic reads these lower-case module names; op is a proxy pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

from alembic import op

revision = "0003_refund_created_by"
down_revision = "0002_refund_rows_within_amount"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Behind a long transaction the ALTER's lock request would queue every refund behind it: give up after 5 s
    # instead (the whole upgrade rolls back; run the release step again), then restore the setting for the
    # revisions that follow in the same transaction.
    op.execute("SET LOCAL lock_timeout = '5s'")
    # No CHECK on its shape: labels are checked where they are created (operator_keys.check_label), and the
    # operator identities of security part one (AWS principals) will not fit today's label rules.
    op.execute("ALTER TABLE public.refunds ADD COLUMN created_by text")
    op.execute("SET LOCAL lock_timeout TO DEFAULT")


def downgrade() -> None:
    op.execute("ALTER TABLE public.refunds DROP COLUMN created_by")
