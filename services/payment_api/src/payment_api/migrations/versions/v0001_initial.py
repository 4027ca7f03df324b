"""Initial schema: payments, refunds, idempotency keys, operator keys, the simulator's ledger; grants.

Revision ID: 0001_initial
Revises:
"""

# Alembic reads these lower-case module names; context and op are proxies pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

import re

from alembic import context, op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("payments", "refunds", "idempotency_keys", "simulated_charges", "simulated_refunds")

SCHEMA = """
CREATE TABLE payments (
    id text PRIMARY KEY CHECK (id ~ '^pay_[A-Za-z0-9]{22}$'),
    status text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
    amount bigint NOT NULL CHECK (amount BETWEEN 1 AND 99999999),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_refunded bigint NOT NULL DEFAULT 0,
    payment_method text NOT NULL,
    description text,
    customer_email text,
    card_brand text,
    card_last4 text CHECK (card_last4 ~ '^[0-9]{4}$'),
    failure_code text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The refund invariant, in the database: refunds (pending or succeeded) never exceed the amount.
    CONSTRAINT refunds_within_amount CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);
CREATE TABLE refunds (
    id text PRIMARY KEY CHECK (id ~ '^re_[A-Za-z0-9]{22}$'),
    payment_id text NOT NULL REFERENCES payments (id),
    amount bigint NOT NULL CHECK (amount > 0),
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason text NOT NULL CHECK (reason IN ('requested_by_customer', 'duplicate', 'fraudulent')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at DESC);
CREATE TABLE idempotency_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope text NOT NULL,
    key_hash text NOT NULL,
    fingerprint text NOT NULL,
    recovery_point text NOT NULL
        CHECK (recovery_point IN ('started', 'payment_created', 'refund_created', 'finished')),
    payment_id text,
    refund_id text,
    response_status integer,
    response_body bytea,
    response_location text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT one_key_per_scope UNIQUE (scope, key_hash),
    CONSTRAINT final_answer_when_finished
        CHECK ((recovery_point = 'finished') = (response_body IS NOT NULL AND response_status IS NOT NULL))
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE TABLE operator_keys (
    id text PRIMARY KEY,
    key_hash text NOT NULL UNIQUE,
    label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE simulated_charges (
    payment_id text PRIMARY KEY,
    amount bigint NOT NULL,
    currency text NOT NULL,
    outcome text NOT NULL,
    brand text,
    last4 text,
    failure_code text,
    calls integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE simulated_refunds (
    refund_id text PRIMARY KEY,
    payment_id text NOT NULL,
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def _app_role() -> str:
    role = str(context.config.attributes.get("app_role", "payment_app"))
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("the application role name must be a plain lower-case identifier")
    return role


def upgrade() -> None:
    role = _app_role()
    op.execute(SCHEMA)
    # The application role: DML on its own tables, no DDL, no TRUNCATE; operator keys read-only (created by the
    # owner through the CLI); the schema version readable for /ready.
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(TABLES)} TO "{role}"')
    op.execute(f'GRANT USAGE ON SEQUENCE idempotency_keys_id_seq TO "{role}"')
    op.execute(f'GRANT SELECT ON operator_keys, alembic_version TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE simulated_refunds, simulated_charges, operator_keys, idempotency_keys, refunds, payments")
