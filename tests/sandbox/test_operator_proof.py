"""Operators proven by IAM, on this machine (issue 27): the payment API forwards a SigV4-signed GetCallerIdentity
proof to the emulator's STS (tools/sandbox/moto_sts.py verifies signatures as STS does) and issues a token to a
session of the operator role only; a refund with it records the session's ARN. A forged, a stale and a wrong-host
proof are refused. The emulator does not evaluate the trust policy's MFA and SourceIdentity conditions: that is
tests/unit/components/test_operator_role.py (iam-simulate); here the session is assumed with a SourceIdentity as an
operator's would be."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from botocore import auth as botocore_auth
from botocore.credentials import Credentials

from lib.blocks.iam import person_assume_role_policy
from tests.service.integration.conftest import migrated_database
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess
from tools.operator_token import signed_proof
from tools.sandbox.emulator import client

ACCOUNT, REGION = "123456789012", "us-east-1"
TRUST = person_assume_role_policy(ACCOUNT).replace("$${", "${")  # as Terraform renders it
VISA = {"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}


@pytest.fixture(scope="module")
def operator_role(moto_endpoint: str) -> str:
    role = client("iam", moto_endpoint).create_role(
        RoleName="payment-operator-proof",
        AssumeRolePolicyDocument=TRUST,
        MaxSessionDuration=3600,
    )
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="module")
def api(
    moto_endpoint: str, operator_role: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, LocalPostgres]]:
    for database in migrated_database():
        env = database.service_env(
            PAYMENT_ENVIRONMENT="development",
            PAYMENT_OPERATOR_ROLE_ARN=operator_role,
            PAYMENT_STS_REGION=REGION,
            PAYMENT_OPERATOR_STS_ENDPOINT=moto_endpoint,
        )
        process = ServiceProcess(env, tmp_path_factory.mktemp("api") / "api.log").start()
        try:
            process.wait_ready()
            yield process, database
        finally:
            process.stop()


def session(endpoint: str, role_arn: str, name: str = "alice") -> Credentials:
    issued = client("sts", endpoint).assume_role(
        RoleArn=role_arn, RoleSessionName=f"{name}-desk", SourceIdentity=name, DurationSeconds=3600
    )["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


def token_answer(api_url: str, proof: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{api_url}/v1/operator-tokens", json=proof, timeout=15)


def test_an_operator_role_session_gets_a_token_and_its_refund_records_the_arn(
    moto_endpoint: str, operator_role: str, api: tuple[ServiceProcess, LocalPostgres]
) -> None:
    server, database = api
    answer = token_answer(server.url, signed_proof(session(moto_endpoint, operator_role), REGION, moto_endpoint))
    assert answer.status_code == 200, answer.text
    issued = answer.json()
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/payment-operator-proof/alice-desk"
    assert issued["operator"] == arn and issued["operator_user_id"].endswith(":alice-desk")
    with httpx.Client(base_url=server.url, timeout=15) as http:
        paid = http.post("/v1/payments", json=VISA, headers={"Idempotency-Key": f"proof-{uuid.uuid4()}"})
        assert paid.status_code == 201, paid.text
        refunded = http.post(
            f"/v1/payments/{paid.json()['id']}/refunds",
            json={"amount": 500, "reason": "requested_by_customer"},
            headers={"Authorization": f"Bearer {issued['token']}", "Idempotency-Key": f"proof-{uuid.uuid4()}"},
        )
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["created_by"] == arn
    with database.superuser(DATABASE) as conn:
        row = conn.execute("SELECT created_by, created_by_user_id FROM refunds WHERE id = %s", (refunded.json()["id"],))
        assert row.fetchone() == (arn, issued["operator_user_id"])
    log = server.log_path.read_text(encoding="utf-8")
    assert issued["token"] not in log and json.dumps(arn) in log


def test_a_forged_proof_is_refused(
    moto_endpoint: str, operator_role: str, api: tuple[ServiceProcess, LocalPostgres]
) -> None:
    real = session(moto_endpoint, operator_role, "mallory")
    forged = Credentials(real.access_key, "x" * 40, real.token)
    answer = token_answer(api[0].url, signed_proof(forged, REGION, moto_endpoint))
    assert answer.status_code == 401 and "STS refused" in answer.json()["detail"]


def test_another_role_s_session_is_refused(moto_endpoint: str, api: tuple[ServiceProcess, LocalPostgres]) -> None:
    other = client("iam", moto_endpoint).create_role(RoleName="payment-admin-proof", AssumeRolePolicyDocument=TRUST)[
        "Role"
    ]["Arn"]
    answer = token_answer(api[0].url, signed_proof(session(moto_endpoint, other), REGION, moto_endpoint))
    assert answer.status_code == 401 and "Only sessions of the operator role" in answer.json()["detail"]


def test_a_stale_proof_is_refused(
    moto_endpoint: str, operator_role: str, api: tuple[ServiceProcess, LocalPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = session(moto_endpoint, operator_role)
    signed_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: signed_at)
    stale = signed_proof(credentials, REGION, moto_endpoint)
    monkeypatch.undo()
    answer = token_answer(api[0].url, stale)
    assert answer.status_code == 401 and "stale" in answer.json()["detail"]


def test_a_wrong_host_proof_is_refused(
    moto_endpoint: str, operator_role: str, api: tuple[ServiceProcess, LocalPostgres]
) -> None:
    port = urlsplit(moto_endpoint).port
    answer = token_answer(
        api[0].url, signed_proof(session(moto_endpoint, operator_role), REGION, f"http://127.0.0.2:{port}")
    )
    assert answer.status_code == 401 and "STS host" in answer.json()["detail"]
