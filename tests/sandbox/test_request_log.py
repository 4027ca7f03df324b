"""The moto launcher logs every request it serves as ``request <service> <operation> <region> <status> <resource>
by=<caller>`` (tools/sandbox/request_log.py): the deployer policy's check reads those lines, and the sandbox's boot
phase tells an instance session's calls by ``by=``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from tools.sandbox.emulator import SANDBOX_ACCESS_KEY, MotoServer, client
from tools.sandbox.request_log import RequestLog, caller, describe_request, rest_operation

SCOPE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/{region}/{service}/aws4_request, SignedHeaders=host"


def _environ(
    method: str, path: str, query: str = "", service: str = "s3", region: str = "eu-west-1", **extra: Any
) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": "0",
        "HTTP_AUTHORIZATION": SCOPE.format(region=region, service=service),
        **extra,
    }


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("HEAD", "/b", "", {}, "HeadBucket"),
        ("PUT", "/b", "encryption=", {}, "PutBucketEncryption"),
        ("GET", "/b", "lifecycle=", {}, "GetBucketLifecycleConfiguration"),
        ("DELETE", "/b", "lifecycle=", {}, "DeleteBucketLifecycle"),
        ("PUT", "/b", "lifecycle=", {}, "PutBucketLifecycleConfiguration"),
        ("GET", "/b", "notification=", {}, "GetBucketNotificationConfiguration"),
        ("PUT", "/b", "object-lock=", {}, "PutObjectLockConfiguration"),
        ("GET", "/b", "list-type=2&prefix=a", {}, "ListObjectsV2"),
        ("GET", "/b", "versions=", {}, "ListObjectVersions"),
        ("PUT", "/b", "", {}, "CreateBucket"),
        ("PUT", "/b/k/with/slashes", "", {}, "PutObject"),
        ("PUT", "/b/k", "", {"HTTP_X_AMZ_COPY_SOURCE": "/a/k"}, "CopyObject"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
        ("POST", "/b/k", "uploads=", {}, "CreateMultipartUpload"),
        ("GET", "/", "", {}, "ListBuckets"),
    ],
)
def test_s3_rest_operations_are_named_from_botocores_model(
    method: str, path: str, query: str, headers: dict[str, str], operation: str
) -> None:
    assert rest_operation("s3", method, path, parse_qs(query, keep_blank_values=True), headers) == operation


def test_query_json_and_unsigned_requests_are_described() -> None:
    form = b"Action=CreateRole&RoleName=payment-x&Version=2010-05-08"

    iam = _environ(
        "POST",
        "/",
        service="iam",
        region="us-east-1",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(form)),
    )
    iam["wsgi.input"] = io.BytesIO(form)
    assert describe_request(iam) == ("iam", "CreateRole", "us-east-1", "role/payment-x")
    waf = _environ(
        "POST",
        "/",
        service="wafv2",
        region="us-east-1",
        HTTP_X_AMZ_TARGET="AWSWAF_20190729.GetWebACL",
        CONTENT_TYPE="application/x-amz-json-1.1",
    )
    waf["wsgi.input"] = io.BytesIO(b"")
    assert describe_request(waf) == ("wafv2", "GetWebACL", "us-east-1", "-")
    for body, resource in (
        (b'{"SecretId": "arn:aws:secretsmanager:eu-west-1:1:secret:payment-x-AbCdEf"}', "secret:payment-x-AbCdEf"),
        (b'{"Name": "payment-x", "KmsKeyId": "k"}', "secret:payment-x"),
        (b'{"PasswordLength": 64}', "-"),
    ):
        secrets = _environ(
            "POST",
            "/",
            service="secretsmanager",
            HTTP_X_AMZ_TARGET="secretsmanager.GetSecretValue",
            CONTENT_TYPE="application/x-amz-json-1.1",
            CONTENT_LENGTH=str(len(body)),
        )
        secrets["wsgi.input"] = io.BytesIO(body)
        assert describe_request(secrets) == ("secretsmanager", "GetSecretValue", "eu-west-1", resource)
    cbor = _environ("POST", "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", service="monitoring")
    assert describe_request(cbor) == ("monitoring", "DescribeAlarms", "eu-west-1", "-")
    unsigned = {"REQUEST_METHOD": "GET", "PATH_INFO": "/moto-api/", "QUERY_STRING": ""}
    assert describe_request(unsigned) == ("-", "?", "-", "- GET /moto-api/")


def test_every_answer_is_one_line_with_its_status() -> None:
    lines: list[str] = []

    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [])
        return [b"<Error><Code>NoSuchBucket</Code></Error>"]

    body = RequestLog(app, write=lines.append)(_environ("GET", "/missing", "versioning="), lambda *_: None)
    assert list(body) == [b"<Error><Code>NoSuchBucket</Code></Error>"]
    assert lines == ["request s3 GetBucketVersioning eu-west-1 404 missing by=AKIDEXAMPLE\n"]


def test_the_moto_server_logs_each_request_it_serves(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    with MotoServer(log_path=log) as moto:
        s3 = client("s3", moto.endpoint, "eu-west-1")
        s3.create_bucket(Bucket="payment-logs-t-1", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.head_bucket(Bucket="payment-logs-t-1")
        s3.put_object(Bucket="payment-logs-t-1", Key="a/b.txt", Body=b"x")
        client("ec2", moto.endpoint, "eu-west-1").describe_vpcs()
        client("iam", moto.endpoint, "us-east-1").create_role(RoleName="payment-r", AssumeRolePolicyDocument="{}")
        client("wafv2", moto.endpoint, "us-east-1").list_web_acls(Scope="CLOUDFRONT")
        client("elbv2", moto.endpoint, "eu-west-1").describe_load_balancers()
        with pytest.raises(Exception, match="NoSuchBucket"):
            s3.get_bucket_versioning(Bucket="missing")
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("request ")]
    signed = [line for line in lines if not line.startswith("request - ")]
    assert signed == [
        f"{line} by={SANDBOX_ACCESS_KEY}"
        for line in (
            "request s3 CreateBucket eu-west-1 200 payment-logs-t-1",
            "request s3 HeadBucket eu-west-1 200 payment-logs-t-1",
            "request s3 PutObject eu-west-1 200 payment-logs-t-1/a/b.txt",
            "request ec2 DescribeVpcs eu-west-1 200 -",
            "request iam CreateRole us-east-1 200 role/payment-r",
            "request wafv2 ListWebACLs us-east-1 200 -",
            "request elasticloadbalancing DescribeLoadBalancers eu-west-1 200 -",
            "request s3 GetBucketVersioning eu-west-1 404 missing",
        )
    ]


def test_a_call_of_an_assumed_role_session_names_the_session(tmp_path: Path) -> None:
    """An instance's calls (its role assumed with its instance id as the session name, as the rehearsal's IMDS
    stand-in does) are told from the launcher's and the deployer's by ``by=``."""
    log = tmp_path / "moto.log"
    with MotoServer(log_path=log) as moto:
        session = client("sts", moto.endpoint, "eu-west-1").assume_role(
            RoleArn="arn:aws:iam::123456789012:role/payment-api-role-t", RoleSessionName="i-0123456789abcdef0"
        )["Credentials"]
        secrets = client("secretsmanager", moto.endpoint, "eu-west-1")
        arn = secrets.create_secret(Name="payment/stripe-t", SecretString="{}")["ARN"]
        as_instance = boto3.client(
            "secretsmanager",
            endpoint_url=moto.endpoint,
            region_name="eu-west-1",
            aws_access_key_id=session["AccessKeyId"],
            aws_secret_access_key=session["SecretAccessKey"],
            aws_session_token=session["SessionToken"],
        )
        as_instance.get_secret_value(SecretId=arn)
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if " secretsmanager " in line]
    assert lines == [
        f"request secretsmanager CreateSecret eu-west-1 200 secret:payment/stripe-t by={SANDBOX_ACCESS_KEY}",
        f"request secretsmanager GetSecretValue eu-west-1 200 secret:{arn.split(':secret:')[1]} "
        "by=assumed-role/payment-api-role-t/i-0123456789abcdef0",
    ]
    unsigned = {"REQUEST_METHOD": "GET", "PATH_INFO": "/moto-api/", "QUERY_STRING": ""}
    assert caller(unsigned) == "-"
