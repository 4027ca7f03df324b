"""Each fidelity patch of tools/sandbox/moto_server.py, checked through boto3 against our moto server.

Every test here pins a read-back that, unpatched, makes the sandbox's second plan show drift (or makes
apply fail) although real AWS would not. If a moto upgrade fixes a gap, the test keeps passing and the
patch can be dropped; if an upgrade changes what we patch, the test says which gap came back.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from lib.blocks.iam import (
    deny_insecure_transport,
    deny_object_reads_except,
    deny_object_writes_except,
    deny_tls_below_1_2,
    policy_document,
)
from tools.sandbox import lifecycle
from tools.sandbox.emulator import client
from tools.sandbox.moto_s3 import (
    EMULATOR_CALLER_ARN,
    S3_REQUEST_CONTEXT,
    arn_like,
    bucket_policy_decision,
    iam_wildcard_match,
    log_delivery_policy_allows,
    signing_access_key,
)
from tools.sandbox.moto_server import _PATCHES, ErrorBodyLogger

BUCKET_ARN = "arn:aws:s3:::logs"


def test_every_patch_says_why() -> None:
    assert _PATCHES, "no patches registered"
    for name, why, _function in _PATCHES:
        assert len(why) > 30, f"{name}: explain the gap it closes"


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:s3:::logs/*", "arn:aws:s3:::logs/s3-access/x", True),
        ("arn:aws:s3:::logs/s3-access/*", "arn:aws:s3:::logs/s3-access/fe/x", True),
        ("arn:aws:s3:::logs/alb/*", "arn:aws:s3:::logs/s3-access/x", False),
        ("s3:*", "s3:putobject", True),
        ("s3:put?bject", "s3:putobject", True),
        ("arn:aws:s3:::logs/[a]*", "arn:aws:s3:::logs/a", False),  # brackets are literal in IAM
    ],
)
def test_iam_wildcards(pattern: str, value: str, matches: bool) -> None:
    assert iam_wildcard_match(pattern, value) is matches


def _statement(**overrides: Any) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{BUCKET_ARN}/s3-access/*",
    }
    statement.update(overrides)
    return statement


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([_statement()], True),
        (
            [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"]},
                _statement(Resource=[f"{BUCKET_ARN}/s3-access/*"]),
            ],
            True,
        ),
        ([_statement(Principal={"Service": ["logging.s3.amazonaws.com", "delivery.logs.amazonaws.com"]})], True),
        ([_statement(Action=["s3:GetObject"])], False),
        ([_statement(Resource=f"{BUCKET_ARN}/alb/*")], False),
        ([_statement(Effect="Deny")], False),
        ([_statement(Principal="*")], False),
    ],
)
def test_log_delivery_policy_grammar(statements: list[dict[str, Any]], allowed: bool) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    assert log_delivery_policy_allows(document, BUCKET_ARN, "s3-access/frontend/") is allowed


def test_s3_logging_accepts_policy_with_tls_deny(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    for bucket in ("patch-logs", "patch-site"):
        s3.create_bucket(Bucket=bucket)
    arn = "arn:aws:s3:::patch-logs"
    s3.put_bucket_policy(
        Bucket="patch-logs",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, f"{arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"{arn}/s3-access/*",
                    },
                ],
            }
        ),
    )
    s3.put_bucket_logging(
        Bucket="patch-site",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "patch-logs", "TargetPrefix": "s3-access/site/"}},
    )
    assert s3.get_bucket_logging(Bucket="patch-site")["LoggingEnabled"]["TargetBucket"] == "patch-logs"


def _artifacts_policy(bucket: str, readers: list[str]) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    return policy_document(
        [deny_insecure_transport(arn), deny_tls_below_1_2(arn), deny_object_reads_except("Readers", arn, readers)]
    )


SSO_SET = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_PaymentDeployer_*"
SSO_ROLE = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PaymentDeployer_0a1b"


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (SSO_SET, SSO_ROLE, True),
        (SSO_SET, SSO_ROLE.replace("PaymentDeployer", "ReadOnly"), False),
        ("arn:aws:iam::123456789012:role/ci/deploy", "arn:aws:iam::123456789012:role/deploy", False),  # path counts
        ("arn:aws:iam::*:role/ci/deploy", "arn:aws:iam::123456789012:role/ci/deploy", True),
        ("arn:aws:iam::123456789012:role/ci/*", "arn:aws:sts::123456789012:role/ci/deploy", False),
        ("arn:aws:iam::12345678901?:role/x", "arn:aws:iam::123456789012:role/x", True),
        ("arn:aws:iam::123456789012:role/x", "not-an-arn", False),
    ],
)
def test_arn_like_matches_each_of_the_six_components(pattern: str, arn: str, matches: bool) -> None:
    assert arn_like(pattern, arn) is matches


@pytest.mark.parametrize(
    "context, action, decision",
    [
        ({}, "s3:PutObject", "neutral"),
        ({}, "s3:GetObject", "neutral"),
        ({"aws:securetransport": "false"}, "s3:PutObject", "denied"),
        ({"s3:tlsversion": "1.1"}, "s3:GetObject", "denied"),
        ({"aws:principalarn": "arn:aws:iam::123456789012:role/someone-else"}, "s3:GetObject", "denied"),
        ({"aws:principalarn": "arn:aws:iam::123456789012:role/someone-else"}, "s3:PutObject", "neutral"),
        ({"aws:principalarn": "arn:aws:iam::123456789012:role/api"}, "s3:GetObject", "neutral"),
        ({"aws:principalarn": SSO_ROLE}, "s3:GetObject", "neutral"),  # the permission set's pattern admits it
        ({"aws:principalarn": SSO_ROLE.replace("PaymentDeployer", "ReadOnly")}, "s3:GetObject", "denied"),
    ],
)
def test_bucket_policy_decision_reads_the_request_context(context: dict[str, str], action: str, decision: str) -> None:
    readers = ["arn:aws:iam::123456789012:role/api", EMULATOR_CALLER_ARN, SSO_SET]
    document = json.loads(_artifacts_policy("artifacts", readers))
    assert (
        bucket_policy_decision(document, action, "arn:aws:s3:::artifacts/k", {**S3_REQUEST_CONTEXT, **context})
        == decision
    )


@pytest.mark.parametrize(
    ("operator", "values", "principal", "holds"),
    [
        ("StringLike", ["arn:aws:iam::*:role/ci-*"], "arn:aws:iam::123456789012:role/ci-deploy", True),
        ("StringNotLike", ["arn:aws:iam::*:role/ci-*"], "arn:aws:iam::123456789012:role/ci-deploy", False),
        ("StringNotLike", ["arn:aws:iam::*:role/ci-*"], "arn:aws:iam::123456789012:role/human", True),
        ("ArnEquals", ["arn:aws:iam::123456789012:role/x"], "arn:aws:iam::123456789012:role/x", True),
        ("ArnNotEquals", ["arn:aws:iam::123456789012:role/x"], "arn:aws:iam::123456789012:role/x", False),
        ("ArnNotLike", ["arn:aws:iam::123456789012:role/x", SSO_SET], SSO_ROLE, False),
        ("ArnNotLike", ["arn:aws:iam::123456789012:role/x", SSO_SET], "arn:aws:iam::123456789012:role/y", True),
        ("ArnNotLike", ["arn:aws:iam::123456789012:role/x"], None, True),  # a missing key meets a negated operator
        ("ArnLike", ["arn:aws:iam::123456789012:role/x"], None, False),
    ],
)
def test_arn_and_string_operators_follow_iam(
    operator: str, values: list[str], principal: str | None, holds: bool
) -> None:
    document = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {operator: {"aws:PrincipalArn": values}},
            }
        ]
    }
    context = {} if principal is None else {"aws:principalarn": principal}
    assert (bucket_policy_decision(document, "s3:GetObject", "arn:aws:s3:::b/k", context) == "denied") is holds


def test_an_operator_the_patch_does_not_know_is_an_error_not_a_guess() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"ArnNotLikeIfExists": {"aws:PrincipalArn": "x"}},
            }
        ]
    }
    with pytest.raises(ValueError, match="ArnNotLikeIfExists is not evaluated"):
        bucket_policy_decision(document, "s3:GetObject", "arn:aws:s3:::b/k", {})


def test_the_signing_key_comes_from_the_authorization_header_or_a_presigned_url() -> None:
    header = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE123/20261205/us-east-1/s3/aws4_request, SignedHeaders=host"
    assert signing_access_key({"Authorization": header}, {}) == "ASIAEXAMPLE123"
    assert signing_access_key({}, {"X-Amz-Credential": "AKIAEXAMPLE/20261205/us-east-1/s3/aws4_request"}) == (
        "AKIAEXAMPLE"
    )
    assert signing_access_key({}, {}) is None


def _role_session(endpoint: str, role_path: str, role_name: str) -> Any:
    """An S3 client signing as a session of a role created in the emulator (its path included)."""
    import boto3  # pylint: disable=import-outside-toplevel

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam", endpoint).create_role(
        Path=role_path, RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    credentials = client("sts", endpoint).assume_role(RoleArn=role["Arn"], RoleSessionName="someone@example.com")[
        "Credentials"
    ]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_the_principal_is_the_signers_role_with_its_path(moto_endpoint: str) -> None:
    """Two identities against one bucket policy: the listed permission set's session reads and writes, an unlisted
    role's session and the static test key (moto's user/moto) are refused, as on AWS."""
    sso_path = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    deployer = _role_session(moto_endpoint, sso_path, "AWSReservedSSO_PaymentDeployer_0a1b2c3d")
    other = _role_session(moto_endpoint, sso_path, "AWSReservedSSO_ReadOnly_4e5f6a7b")
    static = client("s3", moto_endpoint)
    arn = "arn:aws:s3:::patch-named"
    static.create_bucket(Bucket="patch-named")
    static.put_object(Bucket="patch-named", Key="a.tar.gz", Body=b"artifact")
    static.put_bucket_policy(
        Bucket="patch-named",
        Policy=policy_document(
            [
                deny_object_reads_except("Readers", arn, ["arn:aws:iam::123456789012:role/api", SSO_SET]),
                deny_object_writes_except("Writers", arn, [SSO_SET]),
            ]
        ),
    )
    assert deployer.get_object(Bucket="patch-named", Key="a.tar.gz")["Body"].read() == b"artifact"
    assert deployer.head_object(Bucket="patch-named", Key="a.tar.gz")["ContentLength"] == len(b"artifact")
    deployer.put_object(Bucket="patch-named", Key="b.tar.gz", Body=b"next")
    for refused in (other, static):
        with pytest.raises(refused.exceptions.ClientError, match=r"403|AccessDenied|Forbidden"):
            refused.get_object(Bucket="patch-named", Key="a.tar.gz")
        with pytest.raises(refused.exceptions.ClientError, match=r"403|AccessDenied|Forbidden"):
            refused.put_object(Bucket="patch-named", Key="c.tar.gz", Body=b"x")
    # A multi-object delete is judged per key, as the signer's too.
    errors = other.delete_objects(Bucket="patch-named", Delete={"Objects": [{"Key": "b.tar.gz"}]}).get("Errors", [])
    assert [error["Code"] for error in errors] == ["AccessDenied"]


def test_a_versioned_bucket_with_a_delete_marker_can_be_emptied(moto_endpoint: str) -> None:
    """What force_destroy does: delete every version and delete marker, then the bucket (unpatched: 500, retried)."""
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="patch-markers")
    s3.put_bucket_versioning(Bucket="patch-markers", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="patch-markers", Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket="patch-markers", Key="gone.txt")  # a delete marker over the version
    listing = s3.list_object_versions(Bucket="patch-markers")
    objects = [
        {"Key": entry["Key"], "VersionId": entry["VersionId"]}
        for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
    ]
    assert len(objects) == 2
    assert not s3.delete_objects(Bucket="patch-markers", Delete={"Objects": objects}).get("Errors")
    s3.delete_bucket(Bucket="patch-markers")


def test_s3_objects_honour_a_tls_only_policy_with_named_readers(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    for bucket, readers in (("patch-artifacts", [EMULATOR_CALLER_ARN]), ("patch-closed", ["arn:aws:iam::1:role/x"])):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=_artifacts_policy(bucket, readers))
        s3.put_object(Bucket=bucket, Key="a.tar.gz", Body=b"artifact")  # unpatched: 403 (the TLS deny matches)
    assert s3.get_object(Bucket="patch-artifacts", Key="a.tar.gz")["Body"].read() == b"artifact"
    with pytest.raises(s3.exceptions.ClientError, match=r"403|AccessDenied|Forbidden"):
        s3.get_object(Bucket="patch-closed", Key="a.tar.gz")


def test_s3_objects_pass_tls_only_policies_and_meet_real_denies(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="patch-frontend")
    arn = "arn:aws:s3:::patch-frontend"
    tls_only = [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{arn}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::1:distribution/E"}},
        },
    ]
    s3.put_bucket_policy(Bucket="patch-frontend", Policy=json.dumps({"Version": "2012-10-17", "Statement": tls_only}))
    s3.put_object(Bucket="patch-frontend", Key="index.html", Body=b"<html></html>")
    assert s3.get_object(Bucket="patch-frontend", Key="index.html")["Body"].read() == b"<html></html>"
    deny_puts = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{arn}/*"}
    s3.put_bucket_policy(
        Bucket="patch-frontend", Policy=json.dumps({"Version": "2012-10-17", "Statement": [*tls_only, deny_puts]})
    )
    with pytest.raises(s3.exceptions.ClientError, match="403"):
        s3.put_object(Bucket="patch-frontend", Key="index.html", Body=b"again")


def test_object_lock_can_be_configured_on_a_bucket_that_holds_objects(moto_endpoint: str) -> None:
    """As on AWS: the archive gets its lock in place, and destroy can remove the configuration with logs inside."""
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="busy-logs")
    s3.put_object(Bucket="busy-logs", Key="before-versioning.log", Body=b"x")
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    with pytest.raises(s3.exceptions.ClientError, match="Versioning must be 'Enabled'"):
        s3.put_object_lock_configuration(Bucket="busy-logs", ObjectLockConfiguration=lock)
    s3.put_bucket_versioning(Bucket="busy-logs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="busy-logs", ObjectLockConfiguration=lock)
    locked = s3.put_object(Bucket="busy-logs", Key="after.log", Body=b"y", ChecksumAlgorithm="SHA256")
    assert (
        s3.head_object(Bucket="busy-logs", Key="after.log", VersionId=locked["VersionId"])["ObjectLockMode"]
        == "GOVERNANCE"
    )
    s3.put_object_lock_configuration(Bucket="busy-logs", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert "Rule" not in s3.get_object_lock_configuration(Bucket="busy-logs")["ObjectLockConfiguration"]


def test_object_lock_configuration_returns_only_the_period_that_was_set(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="locked-logs")
    s3.put_bucket_versioning(Bucket="locked-logs", VersioningConfiguration={"Status": "Enabled"})
    for period in ({"Days": 365}, {"Years": 1}):
        s3.put_object_lock_configuration(
            Bucket="locked-logs",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **period}},
            },
        )
        config = s3.get_object_lock_configuration(Bucket="locked-logs")["ObjectLockConfiguration"]
        assert config == {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **period}},
        }


def test_lifecycle_keeps_newer_noncurrent_versions(moto_endpoint: str) -> None:
    """The artifacts bucket keeps the newest N replaced releases: the rule reads back as set, one without it too."""
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="patch-lifecycle")
    kept = [{"NoncurrentDays": 1, "NewerNoncurrentVersions": 5}, {"NoncurrentDays": 90}]
    rules = [{"ID": f"r{n}", "Status": "Enabled", "Filter": {"Prefix": f"p{n}/"}, "NoncurrentVersionExpiration": e}
             for n, e in enumerate(kept)]  # fmt: skip
    s3.put_bucket_lifecycle_configuration(Bucket="patch-lifecycle", LifecycleConfiguration={"Rules": rules})
    read = s3.get_bucket_lifecycle_configuration(Bucket="patch-lifecycle")["Rules"]
    assert [rule["NoncurrentVersionExpiration"] for rule in read] == kept


def test_eventbridge_notifications_read_back(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    for bucket in ("events-on", "events-off"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket="events-on", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert s3.get_bucket_notification_configuration(Bucket="events-on").get("EventBridgeConfiguration") == {}
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="events-off")


def test_rds_instances_have_distinct_resource_ids_and_keep_performance_insights(moto_endpoint: str) -> None:
    rds = client("rds", moto_endpoint)
    common = {
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "admin_user",
        "ManageMasterUserPassword": True,
        "AllocatedStorage": 20,
    }
    created = [
        rds.create_db_instance(
            DBInstanceIdentifier="patch-db-0",
            EnablePerformanceInsights=True,
            PerformanceInsightsRetentionPeriod=7,
            **common,
        )["DBInstance"],
        rds.create_db_instance(DBInstanceIdentifier="patch-db-1", **common)["DBInstance"],
    ]
    assert created[0]["DbiResourceId"] != created[1]["DbiResourceId"]
    first = rds.describe_db_instances(DBInstanceIdentifier="patch-db-0")["DBInstances"][0]
    assert first["PerformanceInsightsEnabled"] is True
    assert first["PerformanceInsightsRetentionPeriod"] == 7
    second = rds.describe_db_instances(DBInstanceIdentifier="patch-db-1")["DBInstances"][0]
    assert second.get("PerformanceInsightsEnabled", False) is False
    modified = rds.modify_db_instance(
        DBInstanceIdentifier="patch-db-1", EnablePerformanceInsights=True, ApplyImmediately=True
    )["DBInstance"]
    assert modified["PerformanceInsightsEnabled"] is True


def test_rds_user_parameters_have_source_user(moto_endpoint: str) -> None:
    rds = client("rds", moto_endpoint)
    rds.create_db_parameter_group(
        DBParameterGroupName="patch-pg", DBParameterGroupFamily="postgres15", Description="patch test"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="patch-pg",
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
    )
    user = rds.describe_db_parameters(DBParameterGroupName="patch-pg", Source="user")["Parameters"]
    assert [(p["ParameterName"], p["Source"]) for p in user] == [("rds.force_ssl", "user")]
    assert rds.describe_db_parameters(DBParameterGroupName="patch-pg", Source="system")["Parameters"] == []


def test_cloudfront_keeps_origin_access_control_and_invents_nothing(moto_endpoint: str) -> None:
    cloudfront = client("cloudfront", moto_endpoint)
    control_id = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "patch-oac",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    config = {
        "CallerReference": "patch-test",
        "Comment": "",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "patch-site.s3.us-east-1.amazonaws.com",
                    "OriginAccessControlId": control_id,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3",
            "ViewerProtocolPolicy": "https-only",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
    }
    distribution_id = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    read = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    assert read["Origins"]["Items"][0]["OriginAccessControlId"] == control_id
    assert "ForwardedValues" not in read["DefaultCacheBehavior"]
    assert "SSLSupportMethod" not in read["ViewerCertificate"]


def test_cloudfront_response_headers_policy_lifecycle(moto_endpoint: str) -> None:
    cloudfront = client("cloudfront", moto_endpoint)
    config = {
        "Name": "patch-headers",
        "Comment": "c",
        "SecurityHeadersConfig": {
            "StrictTransportSecurity": {
                "Override": True,
                "IncludeSubdomains": True,
                "Preload": True,
                "AccessControlMaxAgeSec": 63072000,
            },
            "FrameOptions": {"Override": True, "FrameOption": "DENY"},
        },
    }
    created = cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    policy_id = created["ResponseHeadersPolicy"]["Id"]
    assert cloudfront.get_response_headers_policy_config(Id=policy_id)["ResponseHeadersPolicyConfig"] == config
    with pytest.raises(cloudfront.exceptions.ResponseHeadersPolicyAlreadyExists):
        cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    updated = cloudfront.update_response_headers_policy(
        Id=policy_id, IfMatch=created["ETag"], ResponseHeadersPolicyConfig={**config, "Comment": "d"}
    )
    assert updated["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Comment"] == "d"
    listed = cloudfront.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]["Items"]
    assert [p["ResponseHeadersPolicy"]["Id"] for p in listed] == [policy_id]
    cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=updated["ETag"])
    with pytest.raises(cloudfront.exceptions.NoSuchResponseHeadersPolicy):
        cloudfront.get_response_headers_policy(Id=policy_id)


def test_target_tracking_policy_reads_back_enabled(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    autoscaling = client("autoscaling", moto_endpoint)
    template_id = ec2.create_launch_template(
        LaunchTemplateName="patch-asg-lt", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="patch-asg",
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
    )
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="patch-asg",
        PolicyName="patch-cpu",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
        },
    )
    policy = autoscaling.describe_policies(AutoScalingGroupName="patch-asg")["ScalingPolicies"][0]
    assert policy["Enabled"] is True
    assert "PredictiveScalingConfiguration" not in policy


def test_autoscaling_group_keeps_its_service_linked_role_and_instance_lifetime(moto_endpoint: str) -> None:
    """The stack's ASG names its own service-linked role (custom suffix); moto creates that role and, patched,
    reports it back instead of the account's default one."""
    iam = client("iam", moto_endpoint)
    role = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="patch")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling_patch"
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    ec2 = client("ec2", moto_endpoint)
    autoscaling = client("autoscaling", moto_endpoint)
    template_id = ec2.create_launch_template(
        LaunchTemplateName="patch-slr-lt", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="patch-slr-asg",
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
        ServiceLinkedRoleARN=role["Arn"],
        MaxInstanceLifetime=2592000,
    )
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["patch-slr-asg"])["AutoScalingGroups"]
    assert group["ServiceLinkedRoleARN"] == role["Arn"] and group["MaxInstanceLifetime"] == 2592000
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="patch-slr-asg", MaxSize=2, MaxInstanceLifetime=86400)
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["patch-slr-asg"])["AutoScalingGroups"]
    assert group["ServiceLinkedRoleARN"] == role["Arn"] and group["MaxSize"] == 2
    assert group["MaxInstanceLifetime"] == 86400


def test_launch_template_tags_stay_off_its_data(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    template_id = ec2.create_launch_template(
        LaunchTemplateName="patch-tagged-lt",
        LaunchTemplateData={
            "ImageId": "ami-12c6146b",
            "InstanceType": "t3.micro",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "api"}]}],
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": "lt"}]}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"][0][
        "LaunchTemplateData"
    ]
    assert [s["ResourceType"] for s in data["TagSpecifications"]] == ["instance"]
    template = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
    assert {"Key": "Name", "Value": "lt"} in template["Tags"]


def test_load_balancer_without_scheme_is_internet_facing(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.9.{index}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"][
            "SubnetId"
        ]
        for index, zone in enumerate("ab")
    ]
    balancer = client("elbv2", moto_endpoint).create_load_balancer(Name="patch-alb", Subnets=subnets)
    assert balancer["LoadBalancers"][0]["Scheme"] == "internet-facing"


def test_flow_log_to_log_group_arn_delivers(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    logs = client("logs", moto_endpoint)
    logs.create_log_group(logGroupName="/patch/flow-logs")
    arn = logs.describe_log_groups(logGroupNamePrefix="/patch/flow-logs")["logGroups"][0]["arn"]
    vpc_id = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    ec2.create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogDestination=arn,
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/patch-flow-logs",
    )
    flow_log = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"][0]
    assert flow_log["LogGroupName"] == "/patch/flow-logs"
    assert flow_log["DeliverLogsStatus"] == "SUCCESS"


def test_default_ebs_key_is_aws_managed(moto_endpoint: str) -> None:
    ec2 = client("ec2", moto_endpoint)
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=True)
    key = client("kms", moto_endpoint).describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert key["KeyManager"] == "AWS"


def test_cloudfront_create_is_idempotent_for_a_repeated_request(moto_endpoint: str) -> None:
    import boto3  # pylint: disable=import-outside-toplevel

    client = boto3.client(
        "cloudfront",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    config = {
        "CallerReference": "retry-1",
        "Comment": "idempotency",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "o", "DomainName": "b.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "o",
            "ViewerProtocolPolicy": "https-only",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    first = client.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    assert client.create_distribution(DistributionConfig=config)["Distribution"]["Id"] == first
    with pytest.raises(client.exceptions.DistributionAlreadyExists):
        client.create_distribution(DistributionConfig={**config, "Comment": "changed"})


def _wsgi_app(status: str, body: bytes) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        request = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])) if "wsgi.input" in environ else b""
        start_response(status, [("Content-Type", "text/xml")])
        return [body + request]

    return app


def _call(app: Any, environ: dict[str, Any]) -> bytes:
    return b"".join(app(environ, lambda *_args: None))


def _form_post(form: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(form)),
        "wsgi.input": io.BytesIO(form),
    }


def test_refused_calls_are_logged_with_operation_code_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    """A failed apply is diagnosed from moto.log: a refused call must show which call and why."""
    body = (
        b'<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceAlreadyExists</Code>'
        b"<Message>DB instance already exists</Message></Error></ErrorResponse>"
    )
    form = b"Action=CreateDBInstance&DBInstanceIdentifier=payment-db"
    answer = _call(ErrorBodyLogger(_wsgi_app("400 BAD REQUEST", body)), _form_post(form))
    assert answer == body + form, "moto must still read the whole request body"
    assert capsys.readouterr().out == (
        "error answer 400 BAD REQUEST CreateDBInstance: DBInstanceAlreadyExists: DB instance already exists\n"
    )


def test_json_and_rest_errors_name_their_operation(capsys: pytest.CaptureFixture[str]) -> None:
    json_error = b'{"__type": "com.amazonaws.kms#NotFoundException", "message": "Key does not exist"}'
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": "TrentService.DescribeKey"}
    _call(ErrorBodyLogger(_wsgi_app("400 BAD REQUEST", json_error)), environ)
    rest = {"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket", "QUERY_STRING": "policy="}
    _call(ErrorBodyLogger(_wsgi_app("404 NOT FOUND", b"<Error><Code>NoSuchBucketPolicy</Code></Error>")), rest)
    assert capsys.readouterr().out.splitlines() == [
        "error answer 400 BAD REQUEST TrentService.DescribeKey: NotFoundException: Key does not exist",
        "error answer 404 NOT FOUND GET /bucket?policy=: NoSuchBucketPolicy:",
    ]


def test_successful_answers_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    assert _call(ErrorBodyLogger(_wsgi_app("200 OK", b"<ok/>")), environ) == b"<ok/>"
    assert capsys.readouterr().out == ""


def test_email_subscriptions_wait_for_their_recipient(moto_endpoint: str) -> None:
    sns = client("sns", moto_endpoint)
    topic = sns.create_topic(Name="patch-alarms")["TopicArn"]
    email = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com", ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    queue = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint="arn:aws:sqs:us-east-1:123456789012:patch-q",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=email)["Attributes"]
    assert (attributes["PendingConfirmation"], attributes["ConfirmationWasAuthenticated"]) == ("true", "false")
    assert sns.get_subscription_attributes(SubscriptionArn=queue)["Attributes"]["PendingConfirmation"] == "false"
    # Subscribing again returns the same, still pending, subscription.
    again = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com", ReturnSubscriptionArn=True)
    assert again["SubscriptionArn"] == email
    assert sns.get_subscription_attributes(SubscriptionArn=email)["Attributes"]["PendingConfirmation"] == "true"


def test_hosted_zone_ids_start_with_z(moto_endpoint: str) -> None:
    route53 = client("route53", moto_endpoint)
    ids = [
        route53.create_hosted_zone(Name=f"zone{n}.example.com", CallerReference=f"z-{n}")["HostedZone"]["Id"]
        for n in range(20)
    ]
    bare = [zone_id.rsplit("/", 1)[-1] for zone_id in ids]
    assert all(zone_id.startswith("Z") and len(zone_id) == 22 for zone_id in bare), bare
    assert len(set(bare)) == len(bare)


# ------------------------------------------------------------------ launch lifecycle hook, refresh, maintenance
def _hooked_group(moto_endpoint: str, name: str, *, capacity: int = 2, hook: bool = True, **extra: Any) -> list[str]:
    """A group behind a target group, its launch hook in CreateAutoScalingGroup's LifecycleHookSpecificationList;
    returns the target group's ARN and the template id."""
    ec2 = client("ec2", moto_endpoint)
    vpc_id = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    target_group = client("elbv2", moto_endpoint).create_target_group(
        Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    hooks = [
        {
            "LifecycleHookName": "payment-api-boot",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "DefaultResult": "ABANDON",
            "HeartbeatTimeout": 1800,
        }
    ]
    client("autoscaling", moto_endpoint).create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=capacity,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        VPCZoneIdentifier=subnet["SubnetId"],
        TargetGroupARNs=[target_group],
        **({"LifecycleHookSpecificationList": hooks} if hook else {}),
        **extra,
    )
    return [target_group, template_id]


def _states(moto_endpoint: str, name: str) -> dict[str, str]:
    (group,) = client("autoscaling", moto_endpoint).describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}


def _targets(moto_endpoint: str, target_group: str) -> set[str]:
    health = client("elbv2", moto_endpoint).describe_target_health(TargetGroupArn=target_group)
    return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}


def test_initial_lifecycle_hook_is_kept_as_a_hook(moto_endpoint: str) -> None:
    _hooked_group(moto_endpoint, "patch-hook-asg", capacity=0)
    (hook,) = client("autoscaling", moto_endpoint).describe_lifecycle_hooks(AutoScalingGroupName="patch-hook-asg")[
        "LifecycleHooks"
    ]
    assert (hook["LifecycleHookName"], hook["LifecycleTransition"]) == (
        "payment-api-boot",
        "autoscaling:EC2_INSTANCE_LAUNCHING",
    )
    assert (hook["DefaultResult"], hook["HeartbeatTimeout"]) == ("ABANDON", 1800)
    # Given no notification target, AWS reports none (moto invented an SQS queue and a role).
    assert "NotificationTargetARN" not in hook and "RoleARN" not in hook


def test_a_hooked_instance_waits_out_of_service_until_its_boot_completes_the_hook(moto_endpoint: str) -> None:
    target_group, _ = _hooked_group(moto_endpoint, "patch-wait-asg")
    autoscaling = client("autoscaling", moto_endpoint)
    states = _states(moto_endpoint, "patch-wait-asg")
    assert sorted(states.values()) == ["Pending:Wait", "Pending:Wait"]
    assert lifecycle.waiting_instances(autoscaling, "patch-wait-asg") == sorted(states)
    assert not _targets(moto_endpoint, target_group), "a waiting instance must not receive traffic"
    # A capacity update counts the waiting instances: it launches none beside them.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="patch-wait-asg", DesiredCapacity=2)
    assert _states(moto_endpoint, "patch-wait-asg") == states
    first, second = sorted(states)
    autoscaling.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="patch-wait-asg", LifecycleHookName="payment-api-boot", InstanceId=first
    )
    lifecycle.complete(autoscaling, "patch-wait-asg", first, "CONTINUE")
    after = _states(moto_endpoint, "patch-wait-asg")
    assert (after[first], after[second]) == ("InService", "Pending:Wait")
    assert _targets(moto_endpoint, target_group) == {first}
    with pytest.raises(autoscaling.exceptions.ClientError, match="No active Lifecycle Action"):
        lifecycle.complete(autoscaling, "patch-wait-asg", first, "CONTINUE")


def test_an_abandoned_instance_is_terminated_and_replaced(moto_endpoint: str) -> None:
    target_group, _ = _hooked_group(moto_endpoint, "patch-abandon-asg", capacity=1)
    autoscaling = client("autoscaling", moto_endpoint)
    (failed,) = lifecycle.waiting_instances(autoscaling, "patch-abandon-asg")
    lifecycle.complete(autoscaling, "patch-abandon-asg", failed, "ABANDON")
    states = _states(moto_endpoint, "patch-abandon-asg")
    assert failed not in states and list(states.values()) == ["Pending:Wait"], states
    reservations = client("ec2", moto_endpoint).describe_instances(InstanceIds=[failed])["Reservations"]
    assert reservations[0]["Instances"][0]["State"]["Name"] == "terminated"
    assert not _targets(moto_endpoint, target_group)
    with pytest.raises(autoscaling.exceptions.ClientError, match="No Lifecycle Hook found"):
        autoscaling.complete_lifecycle_action(
            AutoScalingGroupName="patch-abandon-asg",
            LifecycleHookName="another-hook",
            InstanceId=next(iter(states)),
            LifecycleActionResult="CONTINUE",
        )


def test_without_a_hook_instances_go_in_service_at_once(moto_endpoint: str) -> None:
    target_group, _ = _hooked_group(moto_endpoint, "patch-nohook-asg", capacity=1, hook=False)
    states = _states(moto_endpoint, "patch-nohook-asg")
    assert list(states.values()) == ["InService"]
    assert _targets(moto_endpoint, target_group) == set(states)


def test_a_hooked_group_drains_for_deletion(moto_endpoint: str) -> None:
    """Terraform deletes a group by setting its sizes to 0 and waiting for no instance: waiting ones count."""
    _hooked_group(moto_endpoint, "patch-drain-asg")
    client("autoscaling", moto_endpoint).update_auto_scaling_group(
        AutoScalingGroupName="patch-drain-asg", MinSize=0, MaxSize=0, DesiredCapacity=0
    )
    assert _states(moto_endpoint, "patch-drain-asg") == {}


def test_instance_refresh_is_recorded_and_read_back(moto_endpoint: str) -> None:
    _hooked_group(moto_endpoint, "patch-refresh-asg", capacity=0)
    autoscaling = client("autoscaling", moto_endpoint)
    preferences = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    refresh_id = autoscaling.start_instance_refresh(
        AutoScalingGroupName="patch-refresh-asg", Strategy="Rolling", Preferences=preferences
    )["InstanceRefreshId"]
    (refresh,) = autoscaling.describe_instance_refreshes(AutoScalingGroupName="patch-refresh-asg")["InstanceRefreshes"]
    assert refresh["InstanceRefreshId"] == refresh_id and refresh["Status"] == "Successful"
    assert refresh["Preferences"]["MinHealthyPercentage"] == 100
    assert refresh["Preferences"]["MaxHealthyPercentage"] == 200
    assert not autoscaling.describe_instance_refreshes(AutoScalingGroupName="patch-hook-asg")["InstanceRefreshes"]
    with pytest.raises(autoscaling.exceptions.ClientError, match="ActiveInstanceRefreshNotFound"):
        autoscaling.cancel_instance_refresh(AutoScalingGroupName="patch-refresh-asg")


def test_instance_maintenance_policy_is_kept(moto_endpoint: str) -> None:
    policy = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    _hooked_group(moto_endpoint, "patch-maintenance-asg", capacity=0, InstanceMaintenancePolicy=policy)
    autoscaling = client("autoscaling", moto_endpoint)

    def read() -> dict[str, Any] | None:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["patch-maintenance-asg"])[
            "AutoScalingGroups"
        ]
        found: dict[str, Any] | None = group.get("InstanceMaintenancePolicy")
        return found

    assert read() == policy
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="patch-maintenance-asg",
        InstanceMaintenancePolicy={"MinHealthyPercentage": 90, "MaxHealthyPercentage": 120},
    )
    assert read() == {"MinHealthyPercentage": 90, "MaxHealthyPercentage": 120}
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="patch-maintenance-asg",
        InstanceMaintenancePolicy={"MinHealthyPercentage": -1, "MaxHealthyPercentage": -1},
    )
    assert read() is None


def test_a_hook_put_before_the_group_is_sized_holds_its_instances(moto_endpoint: str) -> None:
    """The AWS provider's path for initial_lifecycle_hook (the sandbox's request log): CreateAutoScalingGroup with no
    instance, PutLifecycleHook, then UpdateAutoScalingGroup to the group's sizes."""
    _hooked_group(moto_endpoint, "patch-put-hook-asg", capacity=0, hook=False)
    autoscaling = client("autoscaling", moto_endpoint)
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName="patch-put-hook-asg",
        LifecycleHookName="payment-api-boot",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        DefaultResult="ABANDON",
        HeartbeatTimeout=1800,
    )
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="patch-put-hook-asg", MinSize=2, DesiredCapacity=2)
    assert sorted(_states(moto_endpoint, "patch-put-hook-asg").values()) == ["Pending:Wait", "Pending:Wait"]


def test_a_group_launches_from_a_launch_template_version_made_after_it(moto_endpoint: str) -> None:
    """An apply that changes the launch template makes a new version (CreateLaunchTemplateVersion); the next launch
    from it (a scale-out, a refresh's replacement) used to be a 500 because moto stored that version's UserData
    unparsed."""
    import base64  # pylint: disable=import-outside-toplevel

    ec2, autoscaling = client("ec2", moto_endpoint), client("autoscaling", moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.31.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    encoded = [base64.b64encode(f"#!/bin/bash\necho version {n}\n".encode()).decode() for n in (1, 2)]
    template = ec2.create_launch_template(
        LaunchTemplateName="lt-versions", LaunchTemplateData={"ImageId": image, "UserData": encoded[0]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="lt-versions",
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnet,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
    )
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": image, "UserData": encoded[1]}
    )
    autoscaling.set_desired_capacity(AutoScalingGroupName="lt-versions", DesiredCapacity=2)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["lt-versions"])["AutoScalingGroups"][0]
    assert len(group["Instances"]) == 2
    version = ec2.describe_launch_template_versions(LaunchTemplateId=template, Versions=["2"])
    assert version["LaunchTemplateVersions"][0]["LaunchTemplateData"]["UserData"] == encoded[1]


def test_a_rotation_moves_only_awscurrent_and_awsprevious(moto_endpoint: str) -> None:
    """secretsmanager_rotation_keeps_custom_labels: the stack's first version keeps its own label through rotations
    (lib/components/idempotency_secret.py), as AWS keeps it; unpatched, moto replaces its labels with AWSPREVIOUS."""
    secrets = client("secretsmanager", moto_endpoint)
    arn = secrets.create_secret(Name="fidelity-rotation-labels")["ARN"]
    first = secrets.put_secret_value(
        SecretId=arn, SecretString="first-" + "a" * 40, VersionStages=["AWSCURRENT", "terraform-initial"]
    )["VersionId"]
    second = secrets.put_secret_value(SecretId=arn, SecretString="second-" + "b" * 40)["VersionId"]

    def stages() -> dict[str, list[str]]:
        found: dict[str, list[str]] = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
        return {version: sorted(labels) for version, labels in found.items()}

    assert stages() == {first: ["AWSPREVIOUS", "terraform-initial"], second: ["AWSCURRENT"]}
    third = secrets.put_secret_value(SecretId=arn, SecretString="third-" + "c" * 40)["VersionId"]
    assert stages() == {first: ["terraform-initial"], second: ["AWSPREVIOUS"], third: ["AWSCURRENT"]}
    previous = secrets.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
    assert previous.startswith("second-")
    assert secrets.get_secret_value(SecretId=arn, VersionStage="terraform-initial")["SecretString"].startswith("first-")
