"""Strict JSON (no floats reach the code) and the canonical body hash of the idempotency fingerprint."""

from __future__ import annotations

import pytest
from payment_api.jsonbody import BodyError, FloatLiteral, body_hash, canonical_json, fingerprint, parse_body


def test_floats_stay_text() -> None:
    body = parse_body(b'{"amount": 1999.0, "b": 2e3, "c": 12}')
    assert isinstance(body["amount"], FloatLiteral) and body["amount"] == "1999.0"
    assert isinstance(body["b"], FloatLiteral)
    assert body["c"] == 12 and not isinstance(body["c"], FloatLiteral)


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b"{", b"\xff\xfe", b""])
def test_invalid_json_is_refused(raw: bytes) -> None:
    with pytest.raises(BodyError):
        parse_body(raw)


def test_canonical_form_ignores_key_order_and_whitespace() -> None:
    first = parse_body(b'{"amount": 100, "currency": "EUR", "meta": {"b": 1, "a": [1, 2]}}')
    second = parse_body(b'{"meta":{"a":[1,2],"b":1},"currency":"EUR","amount":100}')
    assert canonical_json(first) == canonical_json(second)
    assert body_hash(first) == body_hash(second)


def test_canonical_form_tells_values_apart() -> None:
    assert body_hash({"amount": 100}) != body_hash({"amount": 101})
    assert body_hash({"amount": 100}) != body_hash({"amount": "100"})
    assert body_hash(parse_body(b'{"amount": 100}')) != body_hash(parse_body(b'{"amount": 100.0}'))
    assert canonical_json({"d": "é"}) == '{"d":"é"}'.encode()


def test_fingerprint_covers_method_route_and_body() -> None:
    base = fingerprint("POST", "/v1/payments", {"amount": 1})
    assert base == fingerprint("post", "/v1/payments", {"amount": 1})
    assert base != fingerprint("POST", "/v1/payments/x/refunds", {"amount": 1})
    assert base != fingerprint("PUT", "/v1/payments", {"amount": 1})
    assert base != fingerprint("POST", "/v1/payments", {"amount": 2})
