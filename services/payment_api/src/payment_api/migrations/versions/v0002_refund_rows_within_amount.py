"""The refund invariant on the refund rows themselves: a deferred constraint trigger.

``0001`` bounded the ``amount_refunded`` counter (the ``refunds_within_amount`` CHECK) but not the rows: the
application role could insert a refund of five times the amount (issue 23, B9). From here on, at the commit of
any transaction that inserts, updates or deletes a refund row, or changes a payment's ``amount`` or
``amount_refunded``, the database checks each payment concerned, under its row lock:

- its refund rows that count (``pending`` and ``succeeded``; a ``failed`` refund returned nothing) sum to at
  most its amount, and
- its ``amount_refunded`` equals that sum: the counter the API shows is the rows' total, and a transaction that
  adds a refund must update the payment row too.

Correct under concurrency: the check locks the payment row (``FOR NO KEY UPDATE``, which the foreign key's
``KEY SHARE`` lock does not block, so two inserters do not deadlock), so the checks of one payment run one after
the other, and under READ COMMITTED the sum, a statement after the lock, sees every committed row. Under
REPEATABLE READ a snapshot cannot see a concurrent commit, but the counter closes that gap: every refund that
counts changes ``amount_refunded``, and there an UPDATE of a row a concurrent transaction updated fails with a
serialization error; under SERIALIZABLE the sum's predicate locks do the same.

Only DDL (the owner's ``ALTER TABLE ... DISABLE TRIGGER``) or a superuser's ``session_replication_role =
replica`` skips the check; the application role can do neither.

Revision ID: 0002_refund_rows_within_amount
Revises: 0001_initial
"""

# Alembic reads these lower-case module names; op is a proxy pylint cannot see into.
# pylint: disable=invalid-name,no-member
from __future__ import annotations

from alembic import op

revision = "0002_refund_rows_within_amount"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

CHECK_FUNCTION = """
CREATE FUNCTION public.refund_rows_within_amount() RETURNS trigger
LANGUAGE plpgsql
-- As the owner, so that the check does not depend on the privileges of whoever changed the rows; a trigger
-- function cannot be called directly. A fixed search_path: every name below is qualified.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- The payments the changed row belongs (or belonged) to, in id order so that two checks lock alike.
    targets text[];
    target text;
    payment_amount bigint;
    counter bigint;
    refunded bigint;
BEGIN
    IF TG_TABLE_NAME = 'payments' THEN
        targets := ARRAY[NEW.id];
    ELSIF TG_OP = 'INSERT' THEN
        targets := ARRAY[NEW.payment_id];
    ELSIF TG_OP = 'DELETE' OR OLD.payment_id = NEW.payment_id THEN
        targets := ARRAY[OLD.payment_id];
    ELSE
        targets := ARRAY(SELECT unnest(ARRAY[OLD.payment_id, NEW.payment_id]) ORDER BY 1);
    END IF;
    FOREACH target IN ARRAY targets LOOP
        -- Serializes the checks of one payment; under READ COMMITTED the next statement sees every committed row.
        SELECT amount, amount_refunded INTO payment_amount, counter
            FROM public.payments WHERE id = target FOR NO KEY UPDATE;
        CONTINUE WHEN NOT FOUND;  -- the foreign key refuses a refund of a missing payment
        SELECT coalesce(sum(amount), 0) INTO refunded
            FROM public.refunds WHERE payment_id = target AND status IN ('pending', 'succeeded');
        IF refunded > payment_amount THEN
            RAISE EXCEPTION 'the refunds of payment % would sum to %, more than its amount %',
                    target, refunded, payment_amount
                USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_rows_within_amount',
                      HINT = 'Refund at most the remainder: the amount minus its pending and succeeded refunds.';
        END IF;
        IF refunded <> counter THEN
            RAISE EXCEPTION 'payment %: amount_refunded is % but its pending and succeeded refunds sum to %',
                    target, counter, refunded
                USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_rows_within_amount',
                      HINT = 'Change amount_refunded in the transaction that changes the refunds, by as much.';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$
"""

TRIGGERS = """
CREATE CONSTRAINT TRIGGER refund_rows_within_amount
    AFTER INSERT OR UPDATE OR DELETE ON public.refunds
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.refund_rows_within_amount();
CREATE CONSTRAINT TRIGGER refund_rows_within_amount
    AFTER UPDATE OF amount, amount_refunded ON public.payments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.refund_rows_within_amount();
"""

EXISTING_VIOLATIONS = """
SELECT count(*) FROM public.payments AS p
LEFT JOIN LATERAL (
    SELECT coalesce(sum(r.amount), 0) AS refunded FROM public.refunds AS r
    WHERE r.payment_id = p.id AND r.status IN ('pending', 'succeeded')
) AS s ON true
WHERE s.refunded > p.amount OR s.refunded <> p.amount_refunded
"""


def upgrade() -> None:
    # The rows as they are must already hold the invariant; refuse (and roll the whole upgrade back) otherwise,
    # rather than install a check that fails the next refund of an unrelated request.
    op.execute("LOCK TABLE public.payments, public.refunds IN SHARE ROW EXCLUSIVE MODE")
    violations = op.get_bind().exec_driver_sql(EXISTING_VIOLATIONS).scalar_one()
    if violations:
        raise RuntimeError(
            f"{violations} payment(s) have refunds summing past their amount or an amount_refunded that differs "
            "from their pending and succeeded refunds; find them with the query in "
            "payment_api/migrations/versions/v0002_refund_rows_within_amount.py (EXISTING_VIOLATIONS), correct "
            "them as the owner, then migrate again"
        )
    op.execute(CHECK_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION public.refund_rows_within_amount() FROM PUBLIC")
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER refund_rows_within_amount ON public.payments")
    op.execute("DROP TRIGGER refund_rows_within_amount ON public.refunds")
    op.execute("DROP FUNCTION public.refund_rows_within_amount()")
