"""The emulator's GetCallerIdentity as an identity proof (tools/sandbox/moto_sts.py; issue 27): a SigV4-signed POST,
forwarded as it was signed (as the payment API will forward an operator's proof), is answered only when the signature
is the one the emulator's own secret for that key gives and it is fresh."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from botocore import auth as botocore_auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tools.sandbox import moto_sts
from tools.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, client

BODY = "Action=GetCallerIdentity&Version=2011-06-15"
ACCOUNT = "123456789012"


def _proof(endpoint: str, credentials: Credentials, body: str = BODY) -> AWSRequest:
    """A signed GetCallerIdentity POST for ``endpoint`` (what an operator's tool hands over)."""
    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": urlsplit(endpoint).netloc},
    )
    SigV4Auth(credentials, "sts", "us-east-1").add_auth(request)
    return request


def _forward(endpoint: str, proof: AWSRequest, body: str | None = None) -> requests.Response:
    """Send the proof's method, headers and body (or another body) to the emulator, as the service would."""
    return requests.post(
        f"{endpoint}/", data=proof.data if body is None else body, headers=dict(proof.headers), timeout=10
    )


def _session(endpoint: str, name: str) -> Credentials:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam", endpoint).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    issued = client("sts", endpoint).assume_role(RoleArn=role["Arn"], RoleSessionName="alice")["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


def _error(response: requests.Response) -> tuple[int, str]:
    text = response.text
    return response.status_code, text.partition("<Code>")[2].partition("</Code>")[0]


def test_a_session_s_proof_names_its_role(moto_endpoint: str) -> None:
    answer = _forward(moto_endpoint, _proof(moto_endpoint, _session(moto_endpoint, "payment-operator-sts-1")))
    assert answer.status_code == 200, answer.text
    assert f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/payment-operator-sts-1/alice</Arn>" in answer.text


def test_the_sandbox_s_own_key_still_works(moto_endpoint: str) -> None:
    """Every launcher client signs with the emulator's static root key; its secret is the launcher's."""
    assert client("sts", moto_endpoint).get_caller_identity()["Account"] == ACCOUNT
    answer = _forward(moto_endpoint, _proof(moto_endpoint, Credentials(SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY)))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("forgery", "code"),
    [
        ("wrong secret", "SignatureDoesNotMatch"),
        ("wrong session token", "InvalidClientTokenId"),
        ("unknown key", "InvalidClientTokenId"),
        ("altered body", "SignatureDoesNotMatch"),
        ("root key, wrong secret", "SignatureDoesNotMatch"),
    ],
)
def test_a_forged_proof_is_refused(moto_endpoint: str, forgery: str, code: str) -> None:
    real = _session(moto_endpoint, f"payment-operator-{forgery.replace(' ', '-').replace(',', '')}")
    credentials: dict[str, Credentials] = {
        "wrong secret": Credentials(real.access_key, "x" * 40, real.token),
        "wrong session token": Credentials(real.access_key, real.secret_key, "FQoGZXIvYXdzEBogus"),
        "unknown key": Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "altered body": real,
        "root key, wrong secret": Credentials(SANDBOX_ACCESS_KEY, "not-the-sandbox-secret"),
    }
    proof = _proof(moto_endpoint, credentials[forgery])
    body = BODY.replace("2011-06-15", "2011-06-15&Extra=1") if forgery == "altered body" else None
    assert _error(_forward(moto_endpoint, proof, body)) == (403, code)


def test_a_stale_proof_is_refused(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = _session(moto_endpoint, "payment-operator-stale")
    signed_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: signed_at)
    answer = _forward(moto_endpoint, _proof(moto_endpoint, credentials))
    assert _error(answer) == (403, "SignatureDoesNotMatch") and "Signature expired" in answer.text
    monkeypatch.undo()
    assert _forward(moto_endpoint, _proof(moto_endpoint, credentials)).status_code == 200  # the same key, fresh


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MissingAuthenticationToken"),
        ({"Authorization": "AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1, Signature=x"}, "IncompleteSignature"),
        (
            {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1/sts/aws4_request, Signature=x"},
            "IncompleteSignature",  # no X-Amz-Date
        ),
    ],
)
def test_a_malformed_authorization_is_refused(headers: dict[str, str], code: str) -> None:
    """Unsigned or half-signed: refused before any key is looked up. (Over HTTP, the emulator routes a request by
    its signature's service, so an unsigned POST never reaches STS; hence checked on the function.)"""
    from moto.core.exceptions import _RESTError  # pylint: disable=import-outside-toplevel

    request = SimpleNamespace(headers=headers, method="POST", uri="http://127.0.0.1/", body=BODY)
    with pytest.raises(_RESTError) as refused:
        moto_sts.verify_signature(request)
    assert (refused.value.code, refused.value.error_type) == (403, code)
