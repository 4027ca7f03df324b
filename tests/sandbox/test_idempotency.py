"""The emulator answers a repeated client token as AWS does, and says why a call was repeated.

A create that reaches the emulator twice (the SDK retried it) must not create two resources: that is how
a sandbox run once ended with two S3 gateway endpoints, one of which survived destroy.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.sandbox.client_tokens import Attempt, ClientTokenReplay, RetryJournal, token_member
from tools.sandbox.emulator import client

S3_SERVICE = "com.amazonaws.us-east-1.s3"


def test_token_members_come_from_the_service_models() -> None:
    assert token_member("ec2", "CreateVpcEndpoint") == "ClientToken"
    assert token_member("ec2", "CreateNatGateway") == "ClientToken"
    assert token_member("ec2", "CreateLaunchTemplate") == "ClientToken"
    assert token_member("secretsmanager", "CreateSecret") == "ClientRequestToken"
    assert token_member("ec2", "CreateVpc") is None
    assert token_member("nosuchservice", "CreateThing") is None


@pytest.fixture(name="vpc_id", scope="module")
def fixture_vpc_id(moto_endpoint: str) -> str:
    return str(client("ec2", moto_endpoint).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"])


def test_repeated_vpc_endpoint_create_makes_one_endpoint(moto_endpoint: str, vpc_id: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    first = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3_SERVICE, ClientToken="sandbox-token-1")
    again = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3_SERVICE, ClientToken="sandbox-token-1")
    assert again["VpcEndpoint"]["VpcEndpointId"] == first["VpcEndpoint"]["VpcEndpointId"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert len(endpoints) == 1


def test_concurrent_repeats_wait_for_the_first_answer(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]

    def create(_: int) -> str:
        own = client("ec2", moto_endpoint)
        answer = own.create_vpc_endpoint(VpcId=vpc, ServiceName=S3_SERVICE, ClientToken="sandbox-token-par")
        return str(answer["VpcEndpoint"]["VpcEndpointId"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(create, range(6)))
    assert len(ids) == 1
    assert len(ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]) == 1


def test_repeated_nat_gateway_create_is_not_refused(moto_endpoint: str, vpc_id: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ids = {
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, ClientToken="sandbox-token-nat")["NatGateway"][
            "NatGatewayId"
        ]
        for _ in range(2)
    }
    assert len(ids) == 1


def test_same_token_with_other_parameters_is_a_mismatch(moto_endpoint: str, vpc_id: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3_SERVICE, ClientToken="sandbox-token-2")
    with pytest.raises(ClientError) as raised:
        ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.dynamodb", ClientToken="sandbox-token-2"
        )
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatch"


def test_a_refused_create_does_not_keep_its_token(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    with pytest.raises(ClientError):
        ec2.create_vpc_endpoint(VpcId="vpc-doesnotexist", ServiceName=S3_SERVICE, ClientToken="sandbox-token-3")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    # Same token, other VPC: the failed call left nothing behind to replay or to mismatch.
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3_SERVICE, ClientToken="sandbox-token-3")
    assert len(ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]) == 1


def test_json_protocol_tokens_are_honoured(moto_endpoint: str) -> None:
    secrets = client("secretsmanager", moto_endpoint)
    first = secrets.create_secret(Name="sandbox-idempotent", SecretString="x", ClientRequestToken="t" * 32)
    again = secrets.create_secret(Name="sandbox-idempotent", SecretString="x", ClientRequestToken="t" * 32)
    assert again["ARN"] == first["ARN"] and again["VersionId"] == first["VersionId"]


def _environ(attempt: int, invocation: str = "inv-1") -> dict[str, Any]:
    body = b"Action=CreateVpcEndpoint&Version=2016-11-15"
    return {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/ec2/aws4_request, x",
        "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
        "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=25",
    }


def test_a_retry_after_a_lost_answer_gets_that_answer_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    runs = []

    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        runs.append(1)
        start_response("200 OK", [("Content-Length", "26")])
        return [f"<created id='sg-{len(runs)}'/>".encode()]

    journal = RetryJournal(app)
    first = b"".join(journal(_environ(1), lambda *a: None))
    answers: list[str] = []
    again = b"".join(journal(_environ(2), lambda status, headers: answers.append(status)))
    out = capsys.readouterr().out
    assert "retry CreateVpcEndpoint attempt 2 (invocation inv-1): previous attempt 1 answered 200 OK" in out
    assert "the client did not receive it" in out and "lost answer replayed" in out
    assert (again, answers, len(runs)) == (first, ["200 OK"], 1)


def test_a_retry_after_a_failed_attempt_runs_again() -> None:
    statuses = iter(["503 SERVICE UNAVAILABLE", "200 OK"])

    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(next(statuses), [])
        return [b"x"]

    journal = RetryJournal(app)
    seen: list[str] = []
    for attempt in (1, 2):
        list(journal(_environ(attempt, "inv-3"), lambda status, headers: seen.append(status)))
    assert seen == ["503 SERVICE UNAVAILABLE", "200 OK"]


def test_an_answer_longer_than_its_content_length_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "3")])
        return [b"12345"]

    list(RetryJournal(app)(_environ(1, "inv-4"), lambda *a: None))
    assert "framing mismatch 200 OK CreateVpcEndpoint: Content-Length 3, body 5 bytes" in capsys.readouterr().out


def test_retry_journal_says_the_client_gave_up_on_a_running_attempt(capsys: pytest.CaptureFixture[str]) -> None:
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["HTTP_AMZ_SDK_REQUEST"].startswith("attempt=1;"):
            release.wait(timeout=10)  # the first attempt hangs until the retry has arrived
        start_response("200 OK", [])
        return [b"<ok/>"]

    journal = RetryJournal(app)
    first = threading.Thread(target=lambda: list(journal(_environ(1, "inv-2"), lambda *a: None)))
    first.start()
    while "inv-2" not in journal.invocations:
        threading.Event().wait(0.01)
    list(journal(_environ(2, "inv-2"), lambda *a: None))
    release.set()
    first.join()
    assert "still running after" in capsys.readouterr().out


def test_retry_journal_describes_a_missing_first_attempt() -> None:
    assert "never reached the emulator" in RetryJournal.describe(None, 0.0)
    failed = Attempt(1, "CreateDBInstance", 0.0, "500 INTERNAL SERVER ERROR", 0.2)
    assert RetryJournal.describe(failed, 1.0) == "previous attempt 1 answered 500 INTERNAL SERVER ERROR in 0.2 s"


def test_replay_middleware_passes_calls_without_token_through() -> None:
    calls = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [])
        return [b"ok"]

    replay = ClientTokenReplay(app)
    for _ in range(2):
        list(replay(_environ(1), lambda *a: None))
    assert calls == ["POST", "POST"]
