"""Problem details (RFC 9457 + code) and the settings production refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from payment_api.config import ConfigError, load_settings
from payment_api.idempotency import check_key
from payment_api.problems import TITLES, ProblemError, problem_document, problem_response

ROOT = Path(__file__).resolve().parents[3]
NOT_YET = {"signature_invalid": "the Stripe webhook route (issue 26)"}


def contract_codes() -> dict[str, int]:
    """The ``## Error codes`` section of the contract's copy in the repository (docs/api.md): `code` (status)."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return {code: int(status) for code, status in re.findall(r"`([a-z_]+)` \((\d{3})\)", section)}


CONTRACT_CODES = {code: status for code, status in contract_codes().items() if code not in NOT_YET}


def test_the_contract_codes_are_read_from_the_contract() -> None:
    assert len(contract_codes()) == 15 and contract_codes()["payment_method_invalid"] == 400
    assert set(NOT_YET) <= set(contract_codes())


@pytest.mark.parametrize(("code", "status"), CONTRACT_CODES.items())
def test_every_contract_code_has_its_status(code: str, status: int) -> None:
    assert TITLES[code][0] == status
    document = problem_document(code, "why")
    assert document == {
        "type": f"/problems/{code}",
        "title": TITLES[code][1],
        "status": status,
        "detail": "why",
        "code": code,
    }


def test_problem_response_media_type_and_errors() -> None:
    response = problem_response("validation_failed", "bad", [{"field": "amount", "message": "m"}], {"X-A": "1"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(bytes(response.body))["errors"] == [{"field": "amount", "message": "m"}]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "idempotency_key_missing"),
        ("", "idempotency_key_invalid"),
        ("k" * 256, "idempotency_key_invalid"),
        ("caf\u00e9", "idempotency_key_invalid"),
        ("tab\there", "idempotency_key_invalid"),
    ],
)
def test_idempotency_key_rules(value: str | None, code: str) -> None:
    with pytest.raises(ProblemError) as caught:
        check_key(value)
    assert caught.value.code == code


def test_valid_idempotency_keys() -> None:
    assert check_key("k" * 255) == "k" * 255
    assert check_key(" ~printable ascii~ ") == " ~printable ascii~ "


def test_production_names_its_processor() -> None:
    with pytest.raises(ConfigError, match="PAYMENT_PROCESSOR"):
        load_settings({"PAYMENT_ENVIRONMENT": "production"})
    operators = {"PAYMENT_STS_REGION": "us-east-1", "PAYMENT_OPERATOR_ROLE_ARN": "arn:aws:iam::123456789012:role/op"}
    production = {"PAYMENT_ENVIRONMENT": "production", "PAYMENT_PROCESSOR": "simulated", **operators}
    assert load_settings(production).processor == "simulated"
    assert load_settings({}).processor == "simulated"  # development: the simulator by default


def test_production_refuses_weak_tls_and_the_crash_hook() -> None:
    production = {"PAYMENT_ENVIRONMENT": "production", "PAYMENT_PROCESSOR": "simulated"}
    with pytest.raises(ConfigError, match="verify-full"):
        load_settings({**production, "PAYMENT_DB_SSLMODE": "require"})
    with pytest.raises(ConfigError, match="test hook"):
        load_settings({**production, "PAYMENT_TEST_CRASH_AFTER_PROCESSOR": "1"})
    assert load_settings({"PAYMENT_TEST_CRASH_AFTER_PROCESSOR": "1"}).crash_after_processor


def test_retention_is_at_least_24_hours() -> None:
    with pytest.raises(ConfigError, match="at least 24"):
        load_settings({"PAYMENT_IDEMPOTENCY_RETENTION_HOURS": "23"})
    assert load_settings({"PAYMENT_IDEMPOTENCY_RETENTION_HOURS": "48"}).retention_hours == 48


def test_the_requires_action_timeout_is_read_within_stripes_bounds() -> None:
    assert load_settings({}).requires_action_timeout_minutes == 30
    assert load_settings({"PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES": "1440"}).requires_action_timeout_minutes == 1440
    for refused in ("29", "1441"):
        message = f"PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES={refused} is outside 30 to 1440 minutes"
        with pytest.raises(ConfigError, match=message):
            load_settings({"PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES": refused})
    with pytest.raises(ConfigError, match="PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES='half an hour' must be a whole"):
        load_settings({"PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES": "half an hour"})
