"""Request validation: money as JSON integers only, the contract's field rules, errors that never echo a value."""

from __future__ import annotations

from typing import Any

import pytest
from payment_api.jsonbody import parse_body
from payment_api.models import PaymentCreate, RefundCreate, validate
from payment_api.problems import ProblemError

VALID = b'{"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}'


def problem(model: Any, raw: bytes) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        validate(model, parse_body(raw))
    assert caught.value.code == "validation_failed"
    return caught.value


def test_a_valid_payment() -> None:
    payment = validate(PaymentCreate, parse_body(VALID))
    assert payment.amount == 1999 and payment.description is None and payment.customer_email is None


@pytest.mark.parametrize(
    "amount", [b"1999.0", b"2e3", b'"1999"', b"true", b"0", b"-1", b"100000000", b"null", b"19.99"]
)
def test_amount_must_be_an_integer_in_range(amount: bytes) -> None:
    error = problem(PaymentCreate, VALID.replace(b"1999", amount))
    assert error.errors and error.errors[0]["field"] == "amount"


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("currency", VALID.replace(b'"EUR"', b'"eur"')),
        ("currency", VALID.replace(b'"EUR"', b'"XYZ"')),
        ("payment_method", VALID.replace(b"pm_card_visa", b"card_visa")),
        ("payment_method", VALID.replace(b"pm_card_visa", b"pm_" + b"a" * 65)),
        ("payment_method", VALID.replace(b"pm_card_visa", b"pm_a-b")),
        ("description", VALID[:-1] + b', "description": "' + b"x" * 201 + b'"}'),
        ("customer_email", VALID[:-1] + b', "customer_email": "not-an-email"}'),
        ("customer_email", VALID[:-1] + b', "customer_email": "' + b"a" * 250 + b'@x.io"}'),
        ("unknown", VALID[:-1] + b', "unknown": 1}'),
        ("amount", b'{"currency": "EUR", "payment_method": "pm_card_visa"}'),
    ],
)
def test_field_rules(field: str, raw: bytes) -> None:
    error = problem(PaymentCreate, raw)
    assert error.errors is not None
    assert field in {item["field"] for item in error.errors}


def test_errors_never_quote_the_value() -> None:
    secret = "pm_" + "Z" * 70
    error = problem(PaymentCreate, VALID.replace(b"pm_card_visa", secret.encode()))
    assert secret not in str(error.errors)


def test_a_body_that_is_not_an_object() -> None:
    error = problem(PaymentCreate, b"[1, 2]")
    assert error.errors == [{"field": "body", "message": "must be a JSON object"}]


def test_refund_bodies() -> None:
    assert validate(RefundCreate, parse_body(b'{"reason": "duplicate"}')).amount is None
    assert validate(RefundCreate, parse_body(b'{"amount": 5, "reason": "fraudulent"}')).amount == 5
    problem(RefundCreate, b'{"amount": 5}')
    problem(RefundCreate, b'{"amount": 5.0, "reason": "duplicate"}')
    problem(RefundCreate, b'{"reason": "because"}')


@pytest.mark.parametrize(
    ("model", "field", "raw"),
    [
        (PaymentCreate, "description", VALID.replace(b"}", b', "description": -8.289601357236114e-08}')),
        (PaymentCreate, "description", VALID.replace(b"}", b', "description": 1.5}')),
        (PaymentCreate, "customer_email", VALID.replace(b"}", b', "customer_email": 2e3}')),
        (PaymentCreate, "payment_method", VALID.replace(b'"pm_card_visa"', b"1.0")),
        (RefundCreate, "reason", b'{"reason": 1e10}'),
    ],
)
def test_a_number_with_a_fraction_is_no_string(model: Any, field: str, raw: bytes) -> None:
    # It was parsed as text and stored: a description of 1.5 came back "1.5" (found by make api-fuzz).
    error = problem(model, raw)
    assert error.errors and error.errors[0]["field"] == field
