"""The Stripe processor (issue 26): a payment may wait for 3-D Secure, it records the processor's id for it, and
Stripe's webhook events are deduplicated by id.

- ``payments.status`` also allows ``requires_action`` (API.md v1.2: a payment that needs customer authentication
  answers ``201 requires_action`` with the intent's ``client_secret``; the webhook or a re-read of the intent moves it
  to its final state later);
- ``payments.processor_reference`` (nullable, no default): the processor's id for the payment (Stripe's
  PaymentIntent id), written with the outcome of the create call, so the payment's intent can be found again without
  a search;
- ``stripe_events``: one row per Stripe event the webhook (``POST /v1/webhooks/stripe``) has taken, keyed by Stripe's
  event id, written in the transaction that applies the event, so a redelivered event changes nothing. The
  application role may insert and read it (and delete, for a future purge).

Expand only, so the fleet keeps serving while it runs: the column is added without a rewrite, and the status CHECK is
replaced by a wider one added ``NOT VALID`` then validated (a scan under ``SHARE UPDATE EXCLUSIVE``, which blocks no
write). The release before never writes either, and ignores the column.

Downgrade drops the events table, narrows the CHECK back and drops the column: refused (the CHECK fails) while a
payment is ``requires_action``; finish or fail those first.

Revision ID: 0005_stripe_processor
Revises: 0004_idempotency_key_hmac
"""

# Alembic reads these lower-case module names; op is a proxy pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

import re

from alembic import context, op

revision = "0005_stripe_processor"
down_revision = "0004_idempotency_key_hmac"
branch_labels = None
depends_on = None


EVENTS = """
CREATE TABLE public.stripe_events (
    id text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9]{1,255}$'),
    type text NOT NULL CHECK (type ~ '^[a-z_.]{1,100}$'),
    payment_id text CHECK (payment_id ~ '^pay_[A-Za-z0-9]{22}$'),
    received_at timestamptz NOT NULL DEFAULT now()
)
"""


def upgrade() -> None:
    # Behind a long transaction the ALTERs' lock requests would queue every payment behind them: give up after 5 s
    # (the whole upgrade rolls back; run the release step again).
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "ALTER TABLE public.payments ADD COLUMN processor_reference text"
        " CONSTRAINT payments_processor_reference_shape CHECK (processor_reference ~ '^[A-Za-z0-9_]{1,255}$')"
    )
    op.execute(
        "ALTER TABLE public.payments DROP CONSTRAINT payments_status_check,"
        " ADD CONSTRAINT payments_status_check"
        " CHECK (status IN ('processing', 'requires_action', 'succeeded', 'failed')) NOT VALID"
    )
    op.execute("SET LOCAL lock_timeout TO DEFAULT")
    op.execute("ALTER TABLE public.payments VALIDATE CONSTRAINT payments_status_check")
    op.execute(EVENTS)
    # The application role, as migration 0001 reads it (a plain identifier: it is spliced into the GRANT).
    role = str(context.config.attributes.get("app_role", "payment_app"))
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("the application role name must be a plain lower-case identifier")
    op.execute(f'GRANT SELECT, INSERT, DELETE ON public.stripe_events TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE public.stripe_events")
    op.execute(
        "ALTER TABLE public.payments DROP CONSTRAINT payments_status_check,"
        " ADD CONSTRAINT payments_status_check CHECK (status IN ('processing', 'succeeded', 'failed'))"
    )
    op.execute("ALTER TABLE public.payments DROP COLUMN processor_reference")
