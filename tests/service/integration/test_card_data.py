"""Card data as API.md v1.2 defines it, through the running server: issue #23's B1, B3, B5 and B8.

Every card here was accepted (B1, B8), a 500 (B5) or logged and echoed (B3) before the v1.2 detector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from payment_api.carddata import contains_card_number

from tests.service.integration.conftest import VISA, log_of, new_key, pay, pay_raw, unique
from tools.dev.local_api.process import ServiceProcess

B1_PROBES = [
    "Order 1042 4242 4242 4242 4242",
    "qty 2 5555555555554444",
    "4242-4242-4242-4242-01",
    "ref 7-378282246310005",
    "pm_4242_4242_4242_4242",
    "4242  4242  4242  4242",
    "4242.4242.4242.4242",
    "4242424242424242".translate(str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))),
]
ORDINARY_DESCRIPTIONS = ["Order 1042", "2026-12-05 10:30", "+1 415-555-0134", "Invoice 2026-000123, EUR 1.999,00"]


def _problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["code"])


@pytest.mark.parametrize("text", B1_PROBES)
def test_b1_a_card_within_a_longer_run_or_other_joiners_is_refused(client: httpx.Client, text: str) -> None:
    for field in ("description", "payment_method"):
        response = pay(client, new_key(), **{field: text})
        assert response.status_code == 400 and _problem_code(response) == "card_data_not_accepted"
        assert "4242" not in response.text and "5555" not in response.text and "378282" not in response.text


@pytest.mark.parametrize("description", ORDINARY_DESCRIPTIONS)
def test_ordinary_descriptions_are_stored(client: httpx.Client, description: str) -> None:
    response = pay(client, new_key(), description=description)
    assert response.status_code == 201, response.text
    assert response.json()["description"] == description


@pytest.mark.parametrize("depth", [450, 900])
def test_b5_deep_nesting_is_not_a_500(client: httpx.Client, depth: int) -> None:
    for bottom, code in (('"4242424242424242"', "card_data_not_accepted"), ('"clean"', "validation_failed")):
        nested = "[" * depth + bottom + "]" * depth
        raw = json.dumps(VISA)[:-1].encode() + b', "extra": ' + nested.encode() + b"}"
        response = pay_raw(client, new_key(), raw)
        assert response.status_code == 400 and _problem_code(response) == code


def test_a_body_the_parser_refuses_is_checked_with_its_escapes_decoded(client: httpx.Client) -> None:
    """Past the parser's recursion limit the body is refused as JSON, and the card check runs on its text: with
    ``\\uXXXX`` escapes decoded, or an escaped card slips into a ``validation_failed`` instead."""
    escaped = "".join(f"\\u{ord(char):04x}" for char in "4242 4242 4242 4242").encode()
    for depth in (5000, 50):
        raw = b"[" * depth + b'"' + escaped + b'"' + b"]" * depth
        response = pay_raw(client, new_key(), raw)
        assert response.status_code == 400 and _problem_code(response) == "card_data_not_accepted"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa",'
        b' "description": "4242 4242 4242 4242", "description": "Order 1042"}',
        b'{"amount": 1999, "currency": "EUR", "payment_method": "pm_4242424242424242",'
        b' "payment_method": "pm_card_visa"}',
    ],
)
def test_b8_a_card_in_the_first_value_of_a_duplicate_name_is_refused(client: httpx.Client, raw: bytes) -> None:
    response = pay_raw(client, new_key(), raw)
    assert response.status_code == 400 and _problem_code(response) == "card_data_not_accepted"


CARD_IDS = ["4242424242424242", "4242%204242%204242%204242", "pay_4242424242424242424242"]
CARD_REQUEST_IDS = ["4242424242424242", "4242-4242-4242-4242", "req.4242.4242.4242.4242"]


def _four_routes(client: httpx.Client, payment_id: str, request_id: str, operator_key: str) -> list[httpx.Response]:
    """The four routes of the probe: the payment's GET, the refunds' GET and POST (this one unauthenticated),
    and the payment POST (no id there: only the request id; a mastercard, whose last4 is not 4242)."""
    operator = {"Authorization": f"Bearer {operator_key}", "X-Request-Id": request_id}
    plain = {"X-Request-Id": request_id, "Idempotency-Key": new_key()}
    return [
        client.get(f"/v1/payments/{payment_id}", headers=plain),
        client.get(f"/v1/payments/{payment_id}/refunds", headers=operator),
        client.post(f"/v1/payments/{payment_id}/refunds", json={"reason": "duplicate"}, headers=plain),
        client.post("/v1/payments", json={**VISA, "payment_method": "pm_card_mastercard"}, headers=plain),
    ]


def test_b3_card_shaped_ids_and_request_ids_never_reach_the_log_or_the_answer(
    start_server: Callable[..., ServiceProcess], operator_key: str
) -> None:
    server = start_server()
    server.wait_ready()
    created_ids: list[str] = []
    with httpx.Client(base_url=server.url, timeout=15) as client:
        for payment_id, request_id in zip(CARD_IDS, CARD_REQUEST_IDS, strict=True):
            *by_id, created = _four_routes(client, payment_id, request_id, operator_key)
            assert created.status_code == 201, created.text
            created_ids.append(created.json()["id"])
            for response in by_id:
                assert response.status_code == 404 and _problem_code(response) == "not_found"
            for response in [*by_id, created]:
                echoed = response.headers["x-request-id"]
                assert re.fullmatch("[0-9a-f]{32}", echoed), echoed  # a generated id replaced the client's
                assert not contains_card_number(response.text), response.text
        clean = unique("req-")
        assert client.get("/health", headers={"X-Request-Id": clean}).headers["x-request-id"] == clean
    server.stop()
    text = log_of(server)
    for supplied in CARD_IDS + CARD_REQUEST_IDS:
        assert supplied not in text and supplied.replace("%20", " ") not in text
    assert "4242424242424242" not in re.sub(r"[ ._-]|%20", "", text)
    access = [json.loads(line) for line in text.splitlines() if '"payment_api.access"' in line]
    assert len(access) >= 4 * len(CARD_IDS) + 1
    for line in access:
        assert not contains_card_number(str(line["request_id"])) and line["payment_id"] in (None, *created_ids), line
    assert clean in {line["request_id"] for line in access}
