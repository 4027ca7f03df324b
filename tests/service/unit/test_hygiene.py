"""Request hygiene at the edge of the app (API.md "Request hygiene"): 413 while the body streams in, the JSON
limits, control characters, malformed ids as 404 before any database work, ``Allow`` on 405, a capped ``errors``.

The app here has no database (port 1): every answer below comes before any database work, or it would be a 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from payment_api.app import create_app
from payment_api.config import load_settings
from payment_api.hygiene import MAX_BODY_BYTES, BodyLimit
from payment_api.jsonbody import BodyError, BodyLimitError, check_limits, parse_body
from payment_api.problems import MAX_ERRORS
from starlette.types import Message, Receive, Scope, Send

from tests.service.unit.serving_secret import with_secret

NO_DATABASE = {"PAYMENT_ENVIRONMENT": "test", "PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable"}
VISA = {"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}
HEADERS = {"Content-Type": "application/json", "Idempotency-Key": "hygiene-1"}
WELL_FORMED_ID = "pay_" + "A" * 22
ESCAPED_4242 = b"\\u0034\\u0032\\u0034\\u0032"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(with_secret(load_settings(NO_DATABASE))), raise_server_exceptions=False) as test_client:
        yield test_client


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["code"] == code and document["status"] == status
    return document


def body_of(**extra: Any) -> bytes:
    return json.dumps({**VISA, **extra}).encode()


# --- JSON limits (jsonbody.check_limits) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": 1, "a": 2}', "duplicate name"),
        (b'{"a": 1, "\\u0061": 2}', "duplicate name"),  # the same name once decoded
        (b'{"o": {"k": 1, "k": 1}}', "duplicate name"),
        (b"[" * 33 + b"]" * 33, "nesting deeper than 32"),
        (b'{"a": ' * 33 + b"1" + b"}" * 33, "nesting deeper than 32"),
        (b"1" * 21, "longer than 20 characters"),
        (b'{"amount": -' + b"9" * 20 + b"}", "longer than 20 characters"),
        (b'{"amount": ' + b"9" * 4301 + b"}", "longer than 20 characters"),  # B4: int()'s digit limit, a 500
        (b'{"d": "a\\u0000b"}', "control character"),  # B2
        (b'{"d": "\\r"}', "control character"),
        (b'{"d": "\\u001f"}', "control character"),
        (b'{"d\\u0000": 1}', "control character"),  # a name is a string too
        (b'{"d": "\\ud800"}', "lone surrogate"),
    ],
)
def test_limits_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BodyLimitError, match=reason):
        parse_body(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 32 + b"]" * 32,
        b'{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}',  # the same name in different objects
        b'["x", "x"]',
        b"-" + b"9" * 19,
        b"1." + b"1" * 100,  # a float literal: refused later, by the integer fields
        b'{"d": "tab\\tnewline\\n and \\"quoted [[[{{{ and \\u00e9 \\ud83d\\ude00"}',
        b'{"d": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ 12345678901234567890123"}',
    ],
)
def test_ordinary_json_passes(raw: bytes) -> None:
    check_limits(raw.decode())
    parse_body(raw)


def test_a_syntax_error_is_left_to_the_parser() -> None:
    check_limits('{"unterminated')
    with pytest.raises(BodyError) as caught:
        parse_body(b'{"unterminated')
    assert not isinstance(caught.value, BodyLimitError)


def test_a_deep_body_is_refused_without_recursion() -> None:
    with pytest.raises(BodyLimitError):
        parse_body(b"[" * 50_000 + b"]" * 50_000)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 1999, "amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}',  # B8
        b'{"amount": ' + b"1" * 4301 + b', "currency": "EUR", "payment_method": "pm_card_visa"}',  # B4
        body_of(description="a\x00b"),  # B2
        body_of(customer_email="a\x00@example.com"),  # B2
        body_of(metadata=json.loads("[" * 40 + "]" * 40)),
    ],
)
def test_the_app_answers_400_before_any_database_work(client: TestClient, raw: bytes) -> None:
    document = problem(client.post("/v1/payments", content=raw, headers=HEADERS), 400, "validation_failed")
    assert document["errors"][0]["field"] == "body" and "character" in document["errors"][0]["message"]
    assert "\x00" not in json.dumps(document, ensure_ascii=False)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"d": "4242 4242 4242 4242", "d": "x"}',
        # Visible only unescaped (the raw text's digit runs are 0034, 0032, ...):
        b'{"d": "' + ESCAPED_4242 + b' 4242 4242 4242", "d": "x"}',
        b'{"d\\u0000": "' + ESCAPED_4242 + b'424242424242"}',
        b'{"d": "x", "n": [' + b"[" * 40 + b'"' + ESCAPED_4242 + b'424242424242"' + b"]" * 40 + b"]}",
    ],
)
def test_card_data_still_comes_first(client: TestClient, raw: bytes) -> None:
    response = client.post("/v1/payments", content=raw, headers=HEADERS)
    problem(response, 400, "card_data_not_accepted")
    assert "4242" not in response.text


# --- the body limit (hygiene.BodyLimit) --------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    raw = body_of(description="x" * MAX_BODY_BYTES)
    document = problem(client.post("/v1/payments", content=raw, headers=HEADERS), 413, "payload_too_large")
    assert "64 KiB" in document["detail"]


def test_a_body_at_the_limit_is_parsed(client: TestClient) -> None:
    base = body_of(description="")
    raw = base.replace(b'"description": ""', b'"description": "' + b"x" * (MAX_BODY_BYTES - len(base)) + b'"')
    assert len(raw) == MAX_BODY_BYTES
    problem(client.post("/v1/payments", content=raw, headers=HEADERS), 400, "validation_failed")  # > 200 chars


def _call(app: BodyLimit, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[list[Message], int]:
    """Run ``app`` on one request whose body arrives in ``chunks``; the messages sent and the chunks read."""
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, len(chunks) - len(pending)


async def _read_everything(_scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_a_streamed_body_is_cut_off_as_it_passes_the_limit() -> None:
    chunk = b"x" * 1024
    sent, read = _call(BodyLimit(_read_everything), [chunk] * 200, [])  # chunked: no Content-Length
    assert sent[0]["status"] == 413 and read == 65  # 65 KiB read of 200: it stopped there
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    sent, _ = _call(BodyLimit(_read_everything), [chunk] * 64, [])
    assert sent[0]["status"] == 204


def test_a_length_that_lies_is_cut_off_too() -> None:
    sent, read = _call(BodyLimit(_read_everything), [b"x" * 1024] * 100, [(b"content-length", b"10")])
    assert sent[0]["status"] == 413 and read == 65


def test_a_declared_length_is_refused_without_reading() -> None:
    sent, read = _call(BodyLimit(_read_everything), [b"x"] * 3, [(b"content-length", str(MAX_BODY_BYTES + 1).encode())])
    assert sent[0]["status"] == 413 and read == 0


# --- ids, 405, the errors list ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payment_id",
    [
        "%00",
        "pay_x",
        "pay_4242424242424242AAAAAA",
        "pay_" + "A" * 21,
        "pay_" + "A" * 23,
        "re_" + "A" * 22,
        "pay_" + "A" * 21 + "%C3%A9",
        "x" * 3000,
    ],
)
def test_a_malformed_id_is_404_before_any_database_work(client: TestClient, payment_id: str) -> None:
    # Without a database, a lookup would be a 503: the 404 proves none was made.
    problem(client.get(f"/v1/payments/{payment_id}"), 404, "not_found")
    operator = {"Authorization": "Bearer opk_anything"}
    problem(client.get(f"/v1/payments/{payment_id}/refunds", headers=operator), 404, "not_found")
    refund = client.post(
        f"/v1/payments/{payment_id}/refunds",
        json={"reason": "duplicate"},
        headers={**operator, "Idempotency-Key": "hygiene-2"},
    )
    problem(refund, 404, "not_found")  # B6: a 3,000-character id was a false 503


def test_a_well_formed_id_reaches_the_database(client: TestClient) -> None:
    problem(client.get(f"/v1/payments/{WELL_FORMED_ID}"), 503, "service_unavailable")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/payments", "POST"),
        ("PUT", f"/v1/payments/{WELL_FORMED_ID}", "GET"),
        ("DELETE", f"/v1/payments/{WELL_FORMED_ID}/refunds", "GET, POST"),  # two routes, one path
        ("POST", "/health", "GET"),
        ("HEAD", "/health", "GET"),
    ],
)
def test_405_carries_allow(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    if method == "HEAD":  # no body to a HEAD
        assert response.status_code == 405
    else:
        problem(response, 405, "method_not_allowed")  # B7: no Allow before
    assert response.headers["allow"] == allow


def test_the_errors_list_is_capped() -> None:
    raw = json.dumps({**VISA, "amount": "x", **{f"unknown_{index}": index for index in range(1000)}}).encode()
    with TestClient(create_app(with_secret(load_settings(NO_DATABASE)))) as test_client:
        document = problem(test_client.post("/v1/payments", content=raw, headers=HEADERS), 400, "validation_failed")
    assert len(document["errors"]) == MAX_ERRORS
    assert document["errors"][0] == {"field": "amount", "message": "Input should be a valid integer"}
    fields = [error["field"] for error in document["errors"]]
    assert len(set(fields)) == len(fields)
