"""Frontend, log and artifacts buckets: encryption, versioning, public access block, ownership, TLS-only policy,
access logging and the log lifecycle (PCI DSS 3.5, 4.2, 7.2, 10.5.1)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from typing import Any

import pytest
from packaging.utils import parse_wheel_filename

from tools.sandbox.deployer_roles import DEPLOYER, DEPLOYER_PRINCIPAL_ARNS, SECOND_DEPLOYER, UNLISTED, SandboxRole

BUCKET_OUTPUTS = ("frontend_bucket_name", "log_bucket_name", "s3_access_log_bucket_name", "artifacts_bucket_name")
LOG_BUCKET_OUTPUTS = ("log_bucket_name", "s3_access_log_bucket_name")


def _policy(aws: Callable[[str], Any], bucket: str) -> dict[str, Any]:
    return dict(json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"]))


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("bucket_output", BUCKET_OUTPUTS)
def test_public_access_fully_blocked(
    aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str
) -> None:
    config = aws("s3").get_public_access_block(Bucket=output(bucket_output))["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("bucket_output", BUCKET_OUTPUTS)
def test_versioning_enabled(aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str) -> None:
    assert aws("s3").get_bucket_versioning(Bucket=output(bucket_output)).get("Status") == "Enabled"


@pytest.mark.pci("4.2")
@pytest.mark.parametrize("bucket_output", BUCKET_OUTPUTS)
def test_policy_denies_requests_without_tls(
    aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str
) -> None:
    bucket = output(bucket_output)
    denies = [
        s
        for s in _policy(aws, bucket)["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert denies, "a Deny on aws:SecureTransport=false is required"
    resources = set(_listify(denies[0]["Resource"]))
    assert {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= resources
    assert denies[0]["Principal"] in ("*", {"AWS": "*"})


@pytest.mark.pci("4.2")
@pytest.mark.parametrize("bucket_output", BUCKET_OUTPUTS)
def test_policy_denies_tls_older_than_1_2(
    aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str
) -> None:
    bucket = output(bucket_output)
    denies = [
        s
        for s in _policy(aws, bucket)["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("NumericLessThan", {}).get("s3:TlsVersion") in ("1.2", 1.2)
    ]
    assert len(denies) == 1, "a Deny on s3:TlsVersion NumericLessThan 1.2 is required"
    assert {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= set(_listify(denies[0]["Resource"]))
    assert denies[0]["Principal"] in ("*", {"AWS": "*"})


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_frontend_bucket_encrypted_with_customer_key(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    rule = aws("s3").get_bucket_encryption(Bucket=output("frontend_bucket_name"))["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    key = aws("kms").describe_key(KeyId=default["KMSMasterKeyID"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"


@pytest.mark.pci("10.2, 10.3, 10.5")
@pytest.mark.parametrize("bucket_output", LOG_BUCKET_OUTPUTS)
def test_log_bucket_uses_sse_s3_for_alb_delivery(
    aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str
) -> None:
    rule = aws("s3").get_bucket_encryption(Bucket=output(bucket_output))["ServerSideEncryptionConfiguration"]["Rules"][
        0
    ]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_object_ownership(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    def ownership(bucket: str) -> str:
        controls = aws("s3").get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        return str(controls["Rules"][0]["ObjectOwnership"])

    assert ownership(output("frontend_bucket_name")) == "BucketOwnerEnforced"
    # CloudFront standard logging writes with ACLs: the log bucket alone keeps them.
    assert ownership(output("log_bucket_name")) == "BucketOwnerPreferred"


def test_frontend_policy_allows_only_its_distribution(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    distribution_arn = aws("cloudfront").get_distribution(Id=output("cloudfront_distribution_id"))["Distribution"][
        "ARN"
    ]
    allows = [s for s in _policy(aws, output("frontend_bucket_name"))["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert _listify(allow["Action"]) == ["s3:GetObject"]
    assert allow["Condition"]["StringEquals"]["aws:SourceArn"] == distribution_arn


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_frontend_access_logging_to_log_bucket(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    logging = aws("s3").get_bucket_logging(Bucket=output("frontend_bucket_name"))["LoggingEnabled"]
    # Not the archive: AWS refuses a bucket with an Object Lock default retention as a server access log target.
    assert logging["TargetBucket"] == output("s3_access_log_bucket_name")
    assert logging["TargetPrefix"]


@pytest.mark.pci("10.2, 10.3, 10.5")
@pytest.mark.parametrize("bucket_output", LOG_BUCKET_OUTPUTS)
def test_log_bucket_lifecycle_transitions_and_expires(
    aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str
) -> None:
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=output(bucket_output))["Rules"]
    enabled = [r for r in rules if r["Status"] == "Enabled"]
    assert enabled
    assert any(r.get("Transitions") for r in enabled), "logs should move to cheaper storage"
    expiry_days = [r["Expiration"]["Days"] for r in enabled if "Days" in r.get("Expiration", {})]
    assert expiry_days and min(expiry_days) >= 365, "PCI DSS 10.5.1: keep at least 12 months"
    noncurrent = [
        r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in enabled if "NoncurrentVersionExpiration" in r
    ]
    assert noncurrent and min(noncurrent) >= 365, "replaced versions are kept at least as long as the retention"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_archive_object_lock_through_the_s3_api(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: Any
) -> None:
    """Object Lock is on with a 365-day default retention: GOVERNANCE in the sandbox (a development stack, which
    must be destroyable), COMPLIANCE in production (unit test and PF-LOG-ARCHIVE-WORM). A log written to the archive
    is locked: deleting its version is refused, as it would be on AWS; the S3 access-log bucket has no lock (AWS
    refuses a locked bucket as a server access logging target)."""
    s3, bucket = aws("s3"), output("log_bucket_name")
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": expected.log_lock_mode, "Days": 365}},
    }
    assert expected.log_lock_mode == "GOVERNANCE"
    with pytest.raises(s3.exceptions.ClientError, match="ObjectLockConfigurationNotFound"):
        s3.get_object_lock_configuration(Bucket=output("s3_access_log_bucket_name"))
    put = s3.put_object(
        Bucket=bucket, Key="alb/AWSLogs/integration-test.log", Body=b"log line\n", ChecksumAlgorithm="SHA256"
    )
    # HeadObject carries the version's lock (moto 5 has no GetObjectRetention: it answers GetObject's body).
    head = s3.head_object(Bucket=bucket, Key="alb/AWSLogs/integration-test.log", VersionId=put["VersionId"])
    assert head["ObjectLockMode"] == expected.log_lock_mode
    assert (head["ObjectLockRetainUntilDate"] - head["LastModified"]).days >= 364
    # Refused twice over: the DenyLogDeletion statement (403 Forbidden) and, without it, the lock (AccessDenied).
    with pytest.raises(s3.exceptions.ClientError, match=r"AccessDenied|Forbidden|\(403\)"):
        s3.delete_object(Bucket=bucket, Key="alb/AWSLogs/integration-test.log", VersionId=put["VersionId"])
    # The object stays: the sandbox's destroy removes it with force_destroy, which bypasses GOVERNANCE retention.


@pytest.mark.pci("10.2, 10.3, 10.5")
@pytest.mark.parametrize("bucket_output", LOG_BUCKET_OUTPUTS)
def test_log_buckets_deny_deletion(aws: Callable[[str], Any], output: Callable[[str], Any], bucket_output: str) -> None:
    deny = next(s for s in _policy(aws, output(bucket_output))["Statement"] if s.get("Sid") == "DenyLogDeletion")
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(_listify(deny["Action"]))


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_the_artifact_is_stored_under_its_hash_encrypted_with_the_data_key_and_read_by_deployers_only(
    aws: Callable[[str], Any], output: Callable[[str], Any], as_role: Callable[[SandboxRole, str], Any]
) -> None:
    key, sha256, bucket = output("api_artifact_key"), output("api_artifact_sha256"), output("artifacts_bucket_name")
    assert key == "payment-api/payment-api.tar.gz"  # every release: a version of one key, named by its metadata
    head = as_role(DEPLOYER, "s3").head_object(Bucket=bucket, Key=key)
    assert head["Metadata"]["sha256"] == sha256
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == output("data_kms_key_arn")
    readers = next(s for s in _policy(aws, bucket)["Statement"] if s["Sid"] == "DenyReadsButInstancesAndDeployers")
    # The instance role, the migration host's and DEPLOYER_PRINCIPAL_ARNS, matched as ARNs (the permission set is a
    # pattern).
    assert readers["Effect"] == "Deny"
    principals = readers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert principals[1].endswith(":role/payment-migration-host-sandbox")
    assert principals[2:] == DEPLOYER_PRINCIPAL_ARNS.split(",")
    for refused in (aws("s3"), as_role(UNLISTED, "s3")):  # the static test key (moto's user/moto), an unlisted role
        with pytest.raises(refused.exceptions.ClientError, match="403"):
            refused.head_object(Bucket=bucket, Key=key)


@pytest.mark.pci("6.4.3, 11.6.1", "7.2, 8.2, 8.6")
def test_only_the_named_deployers_write_the_frontend(
    aws: Callable[[str], Any], output: Callable[[str], Any], as_role: Callable[[SandboxRole, str], Any]
) -> None:
    bucket = output("frontend_bucket_name")
    writers = next(s for s in _policy(aws, bucket)["Statement"] if s["Sid"] == "DenyWritesButDeployers")
    assert writers["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == DEPLOYER_PRINCIPAL_ARNS.split(",")
    for refused in (aws("s3"), as_role(UNLISTED, "s3")):
        with pytest.raises(refused.exceptions.ClientError, match="403"):
            refused.put_object(Bucket=bucket, Key="not-a-deployer.js", Body=b"alert(1)")
    second = as_role(SECOND_DEPLOYER, "s3")
    put = second.put_object(Bucket=bucket, Key="second-deployer.txt", Body=b"written by the second deployer")
    # The version itself (s3:DeleteObjectVersion), so the bucket holds nothing the stack did not write.
    second.delete_object(Bucket=bucket, Key="second-deployer.txt", VersionId=put["VersionId"])


def boot_lock_and_wheels(archive: bytes) -> tuple[set[str], set[str]]:
    """The artifact's requirements.lock lines and, for every wheel it holds, ``name==version --hash=sha256:<its>``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        files = {
            member.name.split("/", 1)[1]: tar.extractfile(member).read()  # type: ignore[union-attr]  # None only for non-files, filtered below
            for member in tar.getmembers()
            if member.isfile()
        }
    locked = {line for line in files["requirements.lock"].decode().splitlines() if line and not line.startswith("#")}
    wheels = set()
    for name, data in files.items():
        if name.endswith(".whl"):
            dist, version, _, _ = parse_wheel_filename(name.rsplit("/", 1)[-1])
            wheels.add(f"{dist}=={version} --hash=sha256:{hashlib.sha256(data).hexdigest()}")
    return locked, wheels


@pytest.mark.pci("6.3.2")
def test_the_deployed_artifact_locks_every_wheel_the_boot_installs_by_its_hash(
    output: Callable[[str], Any], as_role: Callable[[SandboxRole, str], Any]
) -> None:
    """The release the instances install (read back from the artifacts bucket) carries requirements.lock: every wheel
    in it by name==version and sha256, which the boot installs with pip --no-index --require-hashes (issue 28)."""
    key, sha256, bucket = output("api_artifact_key"), output("api_artifact_sha256"), output("artifacts_bucket_name")
    s3 = as_role(DEPLOYER, "s3")
    versions = [
        v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] if v["Key"] == key
    ]
    version = next(
        v for v in versions if s3.head_object(Bucket=bucket, Key=key, VersionId=v)["Metadata"]["sha256"] == sha256
    )
    archive = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert hashlib.sha256(archive).hexdigest() == sha256
    locked, wheels = boot_lock_and_wheels(archive)
    assert locked == wheels and any(line.startswith("payment-api==") for line in locked), locked ^ wheels
