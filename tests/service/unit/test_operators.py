"""Operator tokens from a signed GetCallerIdentity proof (payment_api.operators; issue 27), with an injected STS:
what is checked before anything is forwarded, what STS's answer must name, and the token's MAC and expiry."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.credentials import Credentials
from payment_api import operators
from payment_api.config import ConfigError, IdempotencySecrets, OperatorSettings, load_settings
from payment_api.problems import ProblemError

from tools.operator_token import signed_proof

ROLE = "arn:aws:iam::123456789012:role/payment-operator-test"
SESSION = "arn:aws:sts::123456789012:assumed-role/payment-operator-test/alice"
USER_ID = "AROAEXAMPLEROLEID1234:alice"
SETTINGS = OperatorSettings(role_arn=ROLE, region="eu-west-1", sts_endpoint="https://sts.eu-west-1.amazonaws.com")
SECRETS = IdempotencySecrets(current=b"c" * 32)
CREDENTIALS = Credentials("ASIAEXAMPLEKEY", "secret", "session-token")


def identity(arn: str = SESSION, user_id: str = USER_ID) -> bytes:
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        f"<Arn>{arn}</Arn><UserId>{user_id}</UserId><Account>123456789012</Account>"
        "</GetCallerIdentityResult></GetCallerIdentityResponse>"
    ).encode()


class Sts:
    """An STS stand-in: records what was forwarded and answers ``answer``."""

    def __init__(self, answer: operators.StsAnswer | None = None) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.answer = answer or operators.StsAnswer(status=200, body=identity())

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> operators.StsAnswer:
        self.calls.append((url, headers, body))
        return self.answer


def proof(endpoint: str | None = None, region: str = "eu-west-1") -> dict[str, str]:
    return signed_proof(CREDENTIALS, region, endpoint)


def edited(body: dict[str, str], **headers: str) -> dict[str, str]:
    decoded = json.loads(base64.b64decode(body["iam_request_headers"]))
    decoded.update(headers)
    return {**body, "iam_request_headers": base64.b64encode(json.dumps(decoded).encode()).decode()}


def refused(body: dict[str, Any], sts: Sts, now: datetime.datetime | None = None) -> str:
    with pytest.raises(ProblemError) as error:
        operators.exchange(body, SETTINGS, SECRETS, sts, now)
    assert error.value.code == "unauthorized"
    return error.value.detail


def test_a_session_of_the_operator_role_gets_a_token_naming_it_for_an_hour() -> None:
    sts = Sts()
    before = datetime.datetime.now(datetime.UTC)
    issued = operators.exchange(proof(), SETTINGS, SECRETS, sts)
    assert issued.operator == operators.Operator(arn=SESSION, user_id=USER_ID, kind="iam")
    assert datetime.timedelta(minutes=59) < issued.expires_at - before <= datetime.timedelta(hours=1)
    (url, headers, body), *more = sts.calls
    assert (
        not more
        and url == "https://sts.eu-west-1.amazonaws.com"
        and body == b"Action=GetCallerIdentity&Version=2011-06-15"
    )
    assert headers["host"] == "sts.eu-west-1.amazonaws.com" and headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert operators.verify(f"Bearer {issued.token}", SECRETS, production=True) == issued.operator


PROOFS_FOR_ANOTHER_HOST_OR_ACTION: dict[str, tuple[Callable[[], dict[str, str]], str]] = {
    "another region's host": (lambda: proof("https://sts.us-east-1.amazonaws.com"), "STS host"),
    "the global endpoint": (lambda: proof("https://sts.amazonaws.com"), "STS host"),
    "another host": (lambda: proof("https://attacker.example.com"), "STS host"),
    "the URL right, the signed Host not": (lambda: edited(proof(), host="attacker.example.com"), "STS host"),
    "signed for another region": (
        lambda: proof(region="us-east-1", endpoint="https://sts.eu-west-1.amazonaws.com"),
        "signed for sts in eu-west-1",
    ),
    "a GET": (lambda: {**proof(), "iam_http_request_method": "GET"}, "POST"),
    "another action": (
        lambda: {**proof(), "iam_request_body": base64.b64encode(b"Action=AssumeRole&Version=2011-06-15").decode()},
        "GetCallerIdentity",
    ),
    "not SigV4": (lambda: edited(proof(), authorization="Bearer x"), "SigV4"),
}


@pytest.mark.parametrize("case", PROOFS_FOR_ANOTHER_HOST_OR_ACTION)
def test_a_proof_for_another_host_or_action_is_refused_before_anything_is_sent(case: str) -> None:
    build, why = PROOFS_FOR_ANOTHER_HOST_OR_ACTION[case]  # signed now, not at collection: a proof ages
    sts = Sts()
    assert why in refused(build(), sts)
    assert not sts.calls


@pytest.mark.parametrize("minutes", [6, -6])
def test_a_stale_or_future_proof_is_refused_before_anything_is_sent(minutes: int) -> None:
    sts = Sts()
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    assert "stale" in refused(proof(), sts, now)
    assert not sts.calls
    operators.exchange(proof(), SETTINGS, SECRETS, sts, now - datetime.timedelta(minutes=minutes - 4))  # 4 min: fine


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (operators.StsAnswer(status=403, body=b"<Code>SignatureDoesNotMatch</Code>"), "STS refused"),
        (operators.StsAnswer(status=200, body=identity(arn="arn:aws:iam::123456789012:user/alice")), "Only sessions"),
        (
            operators.StsAnswer(
                status=200, body=identity(arn="arn:aws:sts::123456789012:assumed-role/payment-admin/alice")
            ),
            "Only sessions",
        ),
        (
            operators.StsAnswer(
                status=200, body=identity(arn="arn:aws:sts::210987654321:assumed-role/payment-operator-test/alice")
            ),
            "Only sessions",
        ),
        (operators.StsAnswer(status=200, body=identity(user_id="AROAEXAMPLEROLEID1234:mallory")), "Only sessions"),
    ],
)
def test_what_sts_refuses_or_any_other_identity_is_refused(answer: operators.StsAnswer, why: str) -> None:
    assert why in refused(proof(), Sts(answer))


def test_without_an_operator_role_no_proof_is_forwarded() -> None:
    sts = Sts()
    with pytest.raises(ProblemError) as error:
        operators.exchange(
            proof(), OperatorSettings(role_arn="", region="eu-west-1", sts_endpoint=SETTINGS.sts_endpoint), SECRETS, sts
        )
    assert error.value.code == "unauthorized" and "no operator role" in error.value.detail and not sts.calls


def test_sts_out_of_reach_is_a_503() -> None:
    def unreachable(_url: str, _headers: dict[str, str], _body: bytes) -> operators.StsAnswer:
        raise ConnectionRefusedError

    with pytest.raises(ProblemError) as error:
        operators.exchange(proof(), SETTINGS, SECRETS, unreachable)
    assert error.value.code == "service_unavailable"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**proof(), "extra": "x"},
        {**proof(), "iam_request_headers": "not base64!"},
        {**proof(), "iam_request_headers": base64.b64encode(b"[1]").decode()},
    ],
)
def test_a_malformed_proof_is_a_validation_failure(body: dict[str, str]) -> None:
    with pytest.raises(ProblemError) as error:
        operators.exchange(body, SETTINGS, SECRETS, Sts())
    assert error.value.code == "validation_failed"


def test_a_token_is_refused_when_expired_forged_altered_or_local_in_production() -> None:
    now = datetime.datetime.now(datetime.UTC)
    issued = operators.issue(operators.Operator(arn=SESSION, user_id=USER_ID, kind="iam"), SECRETS, now)
    later = now + datetime.timedelta(seconds=operators.TOKEN_SECONDS)
    cases = {
        "expired": (issued.token, SECRETS, later),
        "forged": (operators.issue(issued.operator, IdempotencySecrets(current=b"f" * 32), now).token, SECRETS, now),
        "altered": (issued.token.replace(".", "x.", 1), SECRETS, now),
        "no token": ("", SECRETS, now),
    }
    for name, (token, secrets, when) in cases.items():
        with pytest.raises(ProblemError) as error:
            operators.verify(f"Bearer {token}", secrets, production=False, now=when)
        assert error.value.code == "unauthorized", name
    rotated = IdempotencySecrets(current=b"n" * 32, previous=SECRETS.current)  # a rotation keeps issued tokens
    assert operators.verify(f"Bearer {issued.token}", rotated, production=True, now=now).arn == SESSION
    local = operators.issue(operators.local_operator("alice"), SECRETS, now).token
    assert operators.verify(f"Bearer {local}", SECRETS, production=False).arn == "local:alice"
    with pytest.raises(ProblemError, match="unauthorized"):
        operators.verify(f"Bearer {local}", SECRETS, production=True)


PRODUCTION = {
    "PAYMENT_ENVIRONMENT": "production",
    "PAYMENT_PROCESSOR": "stripe",
    "PAYMENT_STS_REGION": "eu-west-1",
    "PAYMENT_OPERATOR_ROLE_ARN": ROLE,
}


def test_production_forwards_only_to_its_region_s_sts_host() -> None:
    settings = load_settings({**PRODUCTION, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}).operators
    assert settings == SETTINGS
    with pytest.raises(ConfigError, match="PAYMENT_OPERATOR_STS_ENDPOINT is for the emulator"):
        load_settings({**PRODUCTION, "PAYMENT_OPERATOR_STS_ENDPOINT": "http://127.0.0.1:5000"})
    with pytest.raises(ConfigError, match="PAYMENT_OPERATOR_ROLE_ARN must be set in production"):
        load_settings({**PRODUCTION, "PAYMENT_OPERATOR_ROLE_ARN": ""})
    with pytest.raises(ConfigError, match="is not an IAM role ARN"):
        load_settings({**PRODUCTION, "PAYMENT_OPERATOR_ROLE_ARN": "arn:aws:iam::123456789012:user/alice"})


def test_outside_production_the_emulator_s_sts_is_used() -> None:
    assert load_settings({"AWS_ENDPOINT_URL": "http://10.0.0.1:5000/"}).operators.sts_endpoint == "http://10.0.0.1:5000"
    explicit = load_settings(
        {"PAYMENT_OPERATOR_STS_ENDPOINT": "http://127.0.0.1:5001", "AWS_ENDPOINT_URL": "http://x:1"}
    )
    assert explicit.operators.sts_endpoint == "http://127.0.0.1:5001"
    assert load_settings({}).operators.sts_endpoint == "https://sts.us-east-1.amazonaws.com"
