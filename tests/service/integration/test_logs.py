"""Logs: one JSON line per request with the contract's fields; no card number, key, token or body ever."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from tap_contract.logs import ACCESS_LOGGER, REFUND_CREATED, REFUNDS_LOGGER, UNAUTHENTICATED_STATUS

from tests.service.integration.conftest import log_of, new_key, pay, refund
from tools.dev.local_api.process import ServiceProcess

CARDS = ["4242424242424242", "4000 0566 5566 5556", "5555-5555-5555-4444", "378282246310005"]


def test_card_numbers_and_secrets_never_reach_the_logs(
    start_server: Callable[..., ServiceProcess], operator_key: str
) -> None:
    server = start_server()
    server.wait_ready()
    key = new_key()
    with httpx.Client(base_url=server.url, timeout=15) as client:
        for card in CARDS:
            for field in ("description", "customer_email", "payment_method", "anything"):
                response = pay(client, new_key(), **{field: card})
                assert response.json()["code"] == "card_data_not_accepted"
                assert card not in response.text
            assert pay(client, card).status_code == 201  # a card number as the key: only its hash is kept
        payment = pay(client, key, description="Order 1042", customer_email="buyer@example.com").json()
        assert "customer_email" not in payment and "buyer@example.com" not in str(payment)  # stored, never returned
        assert payment["id"].startswith("pay_") and len(payment["id"]) == 26
        assert refund(client, payment["id"], operator_key, new_key(), amount=1).status_code == 201
        assert (
            client.get("/v1/payments/pay_x?card=4242424242424242", headers={"X-Request-Id": "req-123"}).status_code
            == 404
        )
    server.stop()
    text = log_of(server)
    digits_only = text.replace(" ", "").replace("-", "")
    for card in CARDS:
        assert card.replace(" ", "").replace("-", "") not in digits_only
    for secret in (key, operator_key, "buyer@example.com", "Order 1042", "pm_card_visa"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "payment_api.access"]
    assert len(access) >= len(CARDS) * 5 + 3
    for line in access:
        assert {
            "timestamp",
            "request_id",
            "method",
            "route",
            "status",
            "latency_ms",
            "payment_id",
            "idempotency_key_hash",
        } <= set(line)
    created = [line for line in access if line["route"] == "/v1/payments" and line["status"] == 201]
    assert any(line["payment_id"] == payment["id"] for line in created)
    assert all(line["idempotency_key_hash"] and len(line["idempotency_key_hash"]) == 16 for line in created)
    by_id = [line for line in access if line["request_id"] == "req-123"]
    assert by_id and by_id[0]["route"] == "/v1/payments/{payment_id}" and by_id[0]["status"] == 404


def test_a_created_refund_writes_one_refund_created_line_with_its_ids_only(
    start_server: Callable[..., ServiceProcess], operator_key: str
) -> None:
    """The line the stack's refunds-per-hour alarm counts (tap_contract.logs): once per refund created, not for the
    idempotent replay of the same request, not for a refused one; it names the refund and the payment and nothing of
    the request (no amount, reason or key); the 401 the 401-burst alarm counts is a number in the access line."""
    server = start_server()
    server.wait_ready()
    key = new_key()
    with httpx.Client(base_url=server.url, timeout=15) as client:
        payment = pay(client, new_key()).json()
        created = refund(client, payment["id"], operator_key, key, amount=7)
        assert created.status_code == 201
        assert refund(client, payment["id"], operator_key, key, amount=7).status_code == 201  # the replay
        assert refund(client, payment["id"], operator_key, new_key(), amount=5000).status_code == 409
        assert refund(client, payment["id"], "not-a-token", new_key(), amount=1).status_code == 401
    server.stop()
    lines = [json.loads(line) for line in log_of(server).splitlines() if line.strip()]
    refunds = [line for line in lines if line["logger"] == REFUNDS_LOGGER and line["message"] == REFUND_CREATED]
    assert len(refunds) == 1, refunds
    assert set(refunds[0]) == {"timestamp", "level", "logger", "message", "refund_id", "payment_id"}
    assert (refunds[0]["refund_id"], refunds[0]["payment_id"]) == (created.json()["id"], payment["id"])
    statuses = [line["status"] for line in lines if line["logger"] == ACCESS_LOGGER]
    assert statuses.count(UNAUTHENTICATED_STATUS) == 1 and isinstance(statuses[0], int)
