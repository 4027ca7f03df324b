"""Request hygiene against the real server and database (API.md "Request hygiene"): the regressions B2, B4, B6,
B7 and B8's duplicate names, the body limit over HTTP (declared and chunked), and a list of nasty requests thrown
at every route, none of which may produce a 5xx."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator

import httpx
import pytest

from tests.service.integration.conftest import VISA, log_of, new_key, pay, pay_raw, refund
from tests.service.integration.test_errors import assert_problem
from tools.dev.local_api.process import ServiceProcess

Headers = dict[str, str | bytes]

MALFORMED_IDS = [
    "%00",
    "%ff",
    "pay_%00",
    "pay_" + "A" * 21 + "%00",
    "x" * 3000,
    "pay_" + "A" * 2996,
    "pay_" + "".join(secrets.choice(string.ascii_letters) for _ in range(2996)),
    "%C3%A9" * 11,
    "4242424242424242",
    "pay_" + "A" * 21 + "%20",
    "pay_%2e%2e",
]


def _deep(levels: int) -> bytes:
    return b'{"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa", "x": ' + (
        b"[" * levels + b"]" * levels + b"}"
    )


def _with(field: str, raw_value: bytes) -> bytes:
    return json.dumps(VISA).encode()[:-1] + b', "' + field.encode() + b'": ' + raw_value + b"}"


NASTY_BODIES = [
    b"",
    b"\x00",
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b'"text"',
    b"1" * 5000,
    b"{" * 5000,
    _deep(33),
    _deep(400),
    _deep(990),
    _deep(5000),
    b'{"amount": ' + b"9" * 4301 + b', "currency": "EUR", "payment_method": "pm_card_visa"}',
    b'{"amount": ' + b"9" * 30000 + b"}",
    b'{"amount": 1' + b"0" * 400 + b'.5, "currency": "EUR", "payment_method": "pm_card_visa"}',
    b'{"amount": 1e400, "currency": "EUR", "payment_method": "pm_card_visa"}',
    b'{"amount": -0, "currency": "EUR", "payment_method": "pm_card_visa"}',
    b'{"amount": NaN}',
    b'{"amount": 1999, "amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}',
    _with("description", b'"a\\u0000b"'),
    _with("customer_email", b'"a\\u0000@example.com"'),
    _with("description", b'"\\ud800"'),
    _with("customer_email", b'"\\udfff@example.com"'),
    _with("description", b'"\\u001b[31m"'),
    _with("description", "é".encode() * 201),
    _with("description", b'"' + "€".encode() * 200 + b'"'),
    _with("customer_email", b'"' + b"a" * 64 + b"@" + b"b" * 300 + b'.io"'),
    b'{"amount": 1999, "currency": "\\u0000", "payment_method": "pm_\\u0000"}',
    b'{"amount": true, "currency": ["EUR"], "payment_method": {"pm": 1}}',
    b'{"reason": "duplicate", "amount": 99999999999999999999}',
    b'{"reason": "\\u0000"}',
    b'{"' + b"k" * 60000 + b'": 1}',
    b"{" + b",".join(b'"u%d": 0' % index for index in range(5000)) + b"}",
    b'{"a": "' + b"\\u0000" * 10000 + b'"}',
    b'{"a": "unterminated',
    b'{"a": "\\x"}',
]


@pytest.fixture(scope="module")
def payment_id(client_module: httpx.Client) -> str:
    created = pay(client_module, new_key())
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def client_module(server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def _message(document: dict[str, object]) -> str:
    errors = document["errors"]
    assert isinstance(errors, list) and errors
    return str(errors[0]["message"])


def test_b2_a_nul_is_400_and_leaves_the_key_usable(client: httpx.Client) -> None:
    for field in ("description", "customer_email"):
        key = new_key()
        value = "a\x00b" if field == "description" else "a\x00@example.com"
        document = assert_problem(pay(client, key, **{field: value}), 400, "validation_failed")
        assert "control character" in _message(document)
        corrected = pay(client, key, **{field: "ab" if field == "description" else "a@example.com"})
        assert corrected.status_code == 201, corrected.text
    assert_problem(client.get("/v1/payments/%00"), 404, "not_found")


def test_b4_a_long_integer_literal_is_400(client: httpx.Client) -> None:
    raw = b'{"amount": ' + b"1" * 4301 + b', "currency": "EUR", "payment_method": "pm_card_visa"}'
    document = assert_problem(pay_raw(client, new_key(), raw), 400, "validation_failed")
    assert "longer than 20 characters" in _message(document)


def test_b6_an_oversized_id_is_404_not_a_false_503(client: httpx.Client, operator_key: str) -> None:
    # Random letters: PostgreSQL compresses an index row, so a repetitive id would have fitted the btree anyway.
    oversized = "pay_" + "".join(secrets.choice(string.ascii_letters) for _ in range(2996))
    assert_problem(refund(client, oversized, operator_key, new_key()), 404, "not_found")
    assert_problem(refund(client, "x" * 3000, operator_key, new_key()), 404, "not_found")


def test_a_malformed_or_card_shaped_id_never_reaches_the_log(server: ServiceProcess, operator_key: str) -> None:
    card_shaped = ["4242424242424242", "pay_4242424242424242AbCdEf", "pay_" + "Q" * 2996]
    with httpx.Client(base_url=server.url, timeout=15) as http:
        for payment_id in card_shaped:
            assert_problem(http.get(f"/v1/payments/{payment_id}"), 404, "not_found")
            assert_problem(refund(http, payment_id, operator_key, new_key()), 404, "not_found")
    text = log_of(server)
    for payment_id in card_shaped:
        assert payment_id not in text


def test_b7_405_carries_allow(client: httpx.Client) -> None:
    response = client.delete("/v1/payments/pay_" + "A" * 22 + "/refunds")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


def test_b8_duplicate_names_are_400_and_store_nothing(client: httpx.Client) -> None:
    key = new_key()
    raw = b'{"amount": 5, "amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}'
    document = assert_problem(pay_raw(client, key, raw), 400, "validation_failed")
    assert "duplicate name" in _message(document)
    assert pay(client, key).status_code == 201  # nothing was stored under the key


def test_413_for_a_declared_length(client: httpx.Client) -> None:
    raw = json.dumps({**VISA, "description": "x" * 70_000}).encode()
    assert_problem(pay_raw(client, new_key(), raw), 413, "payload_too_large")


def test_413_for_a_chunked_body_while_it_streams(client: httpx.Client) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield json.dumps(VISA).encode()[:-1] + b', "description": "'
        for _ in range(200):
            sent.append(1)
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/v1/payments", content=chunks(), headers={"Content-Type": "application/json", "Idempotency-Key": new_key()}
    )
    assert "content-length" not in response.request.headers  # chunked: only counting can stop it
    assert_problem(response, 413, "payload_too_large")


def _requests(payment_id: str, operator_key: str) -> Iterator[tuple[str, str, bytes, Headers]]:
    operator: Headers = {"Authorization": f"Bearer {operator_key}"}
    json_key: Headers = {"Content-Type": "application/json"}
    for body in NASTY_BODIES:
        yield "POST", "/v1/payments", body, {**json_key, "Idempotency-Key": new_key()}
        yield "POST", f"/v1/payments/{payment_id}/refunds", body, {**json_key, **operator, "Idempotency-Key": new_key()}
        yield "POST", "/v1/payments/pay_x/refunds", body, {}
        yield "POST", "/v1/csp-reports", body, {"Content-Type": "application/reports+json"}
        yield "POST", "/v1/csp-reports", b"[" + body + b"]", {"Content-Type": "application/reports+json"}
    for malformed in MALFORMED_IDS:
        yield "GET", f"/v1/payments/{malformed}", b"", {}
        yield "GET", f"/v1/payments/{malformed}/refunds", b"", operator
        refund_body = b'{"reason": "duplicate"}'
        yield "POST", f"/v1/payments/{malformed}/refunds", refund_body, {**operator, "Idempotency-Key": new_key()}
    odd_headers: list[Headers] = [
        {"Idempotency-Key": b"caf\xe9"},
        {"Idempotency-Key": "k" * 300},
        {"Idempotency-Key": ""},
        {"Authorization": b"Bearer \xe9\xff"},
        {"Authorization": "Bearer " + "a" * 8000},
        {"Content-Type": "application/json; charset=\x7f"},
        {"Content-Type": b"application/\xff"},
        {"X-Request-Id": b"\xff" * 100},
        {"Content-Length": "0"},
    ]
    for headers in odd_headers:
        for method, path in (
            ("POST", "/v1/payments"),
            ("POST", f"/v1/payments/{payment_id}/refunds"),
            ("GET", f"/v1/payments/{payment_id}/refunds"),
            ("GET", f"/v1/payments/{payment_id}"),
        ):
            body = json.dumps(VISA).encode() if method == "POST" and "Content-Length" not in headers else b""
            yield method, path, body, {"Idempotency-Key": new_key(), **headers}
    for method in ("PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"):
        for path in (
            "/health",
            "/ready",
            "/openapi.json",
            "/v1/payments",
            f"/v1/payments/{payment_id}/refunds",
            "/v1/csp-reports",
        ):
            yield method, path, b"", {}
    for path in (
        "/",
        "/v1",
        "/v1/payments/",
        "/v1/payments//refunds",
        "/%00",
        "/v1/payments?%00=%00",
        "/v1" + "/" * 3000,
    ):
        yield "GET", path, b"", {}


def _encoded(headers: Headers) -> dict[bytes, bytes]:
    return {name.encode(): value if isinstance(value, bytes) else value.encode() for name, value in headers.items()}


def test_no_malformed_request_gets_a_5xx(client_module: httpx.Client, payment_id: str, operator_key: str) -> None:
    answers: dict[int, int] = {}
    failures = []
    for method, path, body, headers in _requests(payment_id, operator_key):
        request = f"{method} {path[:60]} {body[:60]!r} {headers}"
        try:
            response = client_module.request(method, path, content=body, headers=_encoded(headers))
        except httpx.TransportError as error:  # the server dropped the connection: no answer is worse than a 500
            failures.append(f"{request}: {error!r}")
            continue
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            failures.append(f"{request}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    # 307: Starlette sends /v1/payments/ to /v1/payments.
    assert set(answers) <= {200, 201, 204, 307, 400, 401, 404, 405, 409, 413, 422}, answers
    assert sum(answers.values()) > 200
    # Still serving, and the payment the refunds were thrown at is within its amount.
    state = client_module.get(f"/v1/payments/{payment_id}").json()
    assert 0 <= state["amount_refunded"] <= state["amount"]
