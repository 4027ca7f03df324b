"""The OpenAPI document states what API.md v1.2 states, and docs/openapi.json is the one the app serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from payment_api.app import create_app
from payment_api.config import load_settings
from payment_api.openapi import OPERATOR_SCHEME, document_text

from tests.service.unit.serving_secret import with_secret

ROOT = Path(__file__).resolve().parents[3]
BASE_ENV = {"PAYMENT_ENVIRONMENT": "test", "PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PAYMENTS, PAYMENT, REFUNDS = "/v1/payments", "/v1/payments/{payment_id}", "/v1/payments/{payment_id}/refunds"
CSP_REPORTS = "/v1/csp-reports"


@pytest.fixture(scope="module", name="document")
def fixture_document() -> dict[str, Any]:
    with TestClient(create_app(with_secret(load_settings(BASE_ENV)))) as client:
        served: dict[str, Any] = client.get("/openapi.json").json()
    return served


@pytest.fixture(scope="module", name="committed")
def fixture_committed() -> str:
    return document_text(create_app(with_secret(load_settings(BASE_ENV))))


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(parameter for parameter in operation["parameters"] if parameter["name"] == name)


def test_the_committed_document_is_the_served_one(document: dict[str, Any], committed: str) -> None:
    assert committed == (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(committed) == document


@pytest.mark.parametrize(("path", "method"), [(PAYMENTS, "post"), (REFUNDS, "post")])
def test_the_idempotency_key_is_required_with_its_pattern(document: dict[str, Any], path: str, method: str) -> None:
    key = _parameter(document["paths"][path][method], "Idempotency-Key")
    assert key["in"] == "header" and key["required"] is True
    pattern = re.compile(key["schema"]["pattern"])
    assert pattern.fullmatch("a" * 255) and pattern.fullmatch("order 1042/retry")
    assert not pattern.fullmatch("") and not pattern.fullmatch("clé") and not pattern.fullmatch("a\tb")


def test_operator_routes_and_only_they_need_the_bearer_token(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"][OPERATOR_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator token (at most one hour): `POST /v1/operator-tokens` issues one for a session of "
        "the operator role; `make api` prints one for a local operator.",
    }
    secured = {
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    assert secured == {(REFUNDS, "post"), (REFUNDS, "get")}
    assert document["paths"][REFUNDS]["post"]["security"] == [{OPERATOR_SCHEME: []}]


def test_every_error_is_a_problem_and_every_status_sent_is_listed(document: dict[str, Any]) -> None:
    expected = {
        (PAYMENTS, "post"): {"201", "202", "400", "409", "413", "422", "503"},
        (PAYMENT, "get"): {"200", "404", "503"},
        (REFUNDS, "post"): {"201", "202", "400", "401", "404", "409", "413", "422", "503"},
        (REFUNDS, "get"): {"200", "401", "404", "503"},
        ("/ready", "get"): {"200", "503"},
        ("/health", "get"): {"200"},
        (CSP_REPORTS, "post"): {"204", "400", "413"},
    }
    for (path, method), statuses in expected.items():
        responses = document["paths"][path][method]["responses"]
        assert set(responses) == statuses, (path, method)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "code",
    }
    allow = document["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]
    assert allow["required"] is True


def test_validation_errors_are_field_and_message_lines(document: dict[str, Any]) -> None:
    """The contract's ``errors``: ``[{"field": ..., "message": ...}]``, a named schema the checkout's types follow."""
    schemas = document["components"]["schemas"]
    items = schemas["Problem"]["properties"]["errors"]["anyOf"][0]["items"]
    assert items == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message"}
    assert "$defs" not in schemas["Problem"]


def test_headers_where_the_api_sends_them(document: dict[str, Any]) -> None:
    payment = document["paths"][PAYMENTS]["post"]["responses"]
    assert payment["201"]["headers"]["Location"]["required"] is True
    assert "Idempotent-Replayed" in payment["201"]["headers"]
    assert {"Location", "Retry-After"} <= set(payment["202"]["headers"])
    assert "Retry-After" in payment["409"]["headers"]
    refund = document["paths"][REFUNDS]["post"]["responses"]
    assert refund["202"]["headers"]["Retry-After"]["required"] is True
    assert "Idempotent-Replayed" in refund["201"]["headers"]
    for path, method in ((PAYMENTS, "post"), (PAYMENT, "get"), (REFUNDS, "post"), (REFUNDS, "get"), ("/ready", "get")):
        assert document["paths"][path][method]["responses"]["503"]["headers"]["Retry-After"]["required"] is True


def test_ids_have_their_pattern_and_refunds_their_statuses(document: dict[str, Any]) -> None:
    for path, method in ((PAYMENT, "get"), (REFUNDS, "post"), (REFUNDS, "get")):
        pattern = _parameter(document["paths"][path][method], "payment_id")["schema"]["pattern"]
        assert pattern == "^pay_[A-Za-z0-9]{22}$"
    refund_status = document["components"]["schemas"]["Refund"]["properties"]["status"]
    assert refund_status["enum"] == ["pending", "succeeded", "failed"]
    payment_status = document["components"]["schemas"]["Payment"]["properties"]["status"]
    assert set(payment_status["enum"]) == {"processing", "requires_action", "succeeded", "failed"}


def test_the_client_secret_is_only_in_the_created_answer(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "client_secret" in schemas["PaymentCreated"]["properties"]
    assert "client_secret" not in schemas["PaymentCreated"].get("required", [])
    assert "client_secret" not in schemas["Payment"]["properties"]
    created = document["paths"][PAYMENTS]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/PaymentCreated"}
    read = document["paths"][PAYMENT]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert read == {"$ref": "#/components/schemas/Payment"}


def test_the_stripe_webhook_takes_a_signature_instead_of_a_key_or_an_operator(document: dict[str, Any]) -> None:
    webhook = document["paths"]["/v1/webhooks/stripe"]["post"]
    names = {parameter["name"]: parameter["required"] for parameter in webhook["parameters"]}
    assert names == {"Stripe-Signature": True}
    assert "security" not in webhook
    assert "signature_invalid" in webhook["responses"]["400"]["description"]


def test_refunds_name_their_operator_and_payments_their_token_refusal(document: dict[str, Any]) -> None:
    refund = document["components"]["schemas"]["Refund"]
    assert "created_by" in refund["required"]
    assert refund["properties"]["created_by"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert "payment_method_invalid" in document["paths"][PAYMENTS]["post"]["responses"]["400"]["description"]


def test_csp_reports_take_a_report_list_without_an_idempotency_key(document: dict[str, Any]) -> None:
    operation = document["paths"][CSP_REPORTS]["post"]
    assert list(operation["requestBody"]["content"]) == ["application/reports+json"]
    assert operation["requestBody"]["content"]["application/reports+json"]["schema"]["type"] == "array"
    assert "parameters" not in operation and "security" not in operation
