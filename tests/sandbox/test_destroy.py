"""make destroy's calls (tools/deploy/destroy.py) against our moto server: emptying versioned buckets, deleting a
GOVERNANCE log archive with the bypass behind its deny-delete policy, refusing a COMPLIANCE one, and the final snapshot
DeleteDBInstance takes. These are where the emulator had to behave as AWS does for the sandbox's destroy phase to
prove anything; moto 5.2.5 does, unpatched (the tests pin it: a regression fails here, not in a sandbox run).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.blocks.iam import deny_log_bucket_configuration_changes, deny_log_deletion, policy_document
from tools.deploy import break_glass
from tools.deploy.destroy import DestroyError, delete_log_bucket, delete_migration_results, empty_bucket
from tools.sandbox.emulator import client


def _versioned_bucket(s3: Any, name: str, *, lock_mode: str | None = None) -> None:
    if lock_mode:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": lock_mode, "Days": 365}},
            },
        )
    else:
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _versions(s3: Any, bucket: str) -> int:
    page = s3.list_object_versions(Bucket=bucket)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def test_empty_bucket_deletes_every_version_and_delete_marker(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    _versioned_bucket(s3, "destroy-artifacts")
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket="destroy-artifacts", Key="release.tar.gz", Body=body)
    s3.put_object(Bucket="destroy-artifacts", Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket="destroy-artifacts", Key="gone.txt")  # a delete marker over a version
    assert _versions(s3, "destroy-artifacts") == 5
    assert empty_bucket(s3, "destroy-artifacts") == 5
    assert _versions(s3, "destroy-artifacts") == 0
    s3.delete_bucket(Bucket="destroy-artifacts")  # AWS refuses a bucket with any version left


def test_a_governance_log_archive_is_deleted_behind_its_deny_policy_with_the_bypass(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    bucket = "payment-logs-destroy-123456789012"
    _versioned_bucket(s3, bucket, lock_mode="GOVERNANCE")
    s3.put_object(Bucket=bucket, Key="alb/AWSLogs/1.log.gz", Body=b"log", ChecksumAlgorithm="SHA256")
    # Without the bypass the lock holds, as on AWS (moto honours GOVERNANCE and the bypass header unpatched).
    with pytest.raises(DestroyError, match="could not be deleted"):
        empty_bucket(s3, bucket)
    deny = policy_document([deny_log_deletion(f"arn:aws:s3:::{bucket}")])
    s3.put_bucket_policy(Bucket=bucket, Policy=deny)
    # With the deny-delete policy even the bypass is refused (our bucket-policy patch evaluates it as AWS does).
    with pytest.raises(DestroyError, match="could not be deleted"):
        empty_bucket(s3, bucket, bypass_governance=True)
    assert delete_log_bucket(s3, bucket) == 1
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_compliance_log_archive_is_never_emptied(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint)
    bucket = "payment-logs-prod-123456789012"
    _versioned_bucket(s3, bucket, lock_mode="COMPLIANCE")
    s3.put_object(Bucket=bucket, Key="alb/AWSLogs/1.log.gz", Body=b"log", ChecksumAlgorithm="SHA256")
    with pytest.raises(DestroyError, match="Object Lock retention stays until it expires"):
        empty_bucket(s3, bucket, bypass_governance=True)
    assert _versions(s3, bucket) == 1


def test_delete_db_instance_takes_the_final_snapshot_it_is_given(moto_endpoint: str) -> None:
    rds = client("rds", moto_endpoint)
    rds.create_db_instance(
        DBInstanceIdentifier="payment-db-destroy",
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="payment_admin",
        MasterUserPassword="not-a-secret-1",
        DeletionProtection=True,
    )
    with pytest.raises(rds.exceptions.ClientError, match="deletion protection"):
        rds.delete_db_instance(DBInstanceIdentifier="payment-db-destroy", SkipFinalSnapshot=True)
    rds.modify_db_instance(DBInstanceIdentifier="payment-db-destroy", DeletionProtection=False, ApplyImmediately=True)
    final = "payment-db-destroy-final-20260101000000"
    rds.delete_db_instance(DBInstanceIdentifier="payment-db-destroy", FinalDBSnapshotIdentifier=final)
    snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=final)["DBSnapshots"][0]
    assert snapshot["DBInstanceIdentifier"] == "payment-db-destroy" and snapshot["SnapshotType"] == "manual"


def test_the_migration_hosts_results_are_deleted_and_nothing_else(moto_endpoint: str) -> None:
    """The hosts write one parameter per release under the folder (not Terraform's): destroy deletes exactly those."""
    ssm = client("ssm", moto_endpoint, "eu-west-1")
    folder = "/payment/qa/payment-api/migration"
    for name in (f"{folder}/{'a' * 64}", f"{folder}/{'b' * 64}", "/payment/qa/payment-api/runtime", f"{folder}x/c"):
        ssm.put_parameter(Name=name, Value="ok", Type="String", Overwrite=True)
    assert sorted(delete_migration_results(ssm, folder)) == [f"{folder}/{'a' * 64}", f"{folder}/{'b' * 64}"]
    left = {parameter["Name"] for parameter in ssm.describe_parameters()["Parameters"]}
    assert {"/payment/qa/payment-api/runtime", f"{folder}x/c"} <= left and not any(
        name.startswith(folder + "/") for name in left
    )


def test_a_break_glass_archive_is_deleted_by_a_session_of_the_role_only(moto_endpoint: str) -> None:
    """With BREAK_GLASS_ROLE_ARN the archive's policy refuses its own deletion to the deployer (the static key here),
    so destroy's delete-logs takes a session of the role (tools/deploy/break_glass.py), named for the operator."""
    s3, iam = client("s3", moto_endpoint), client("iam", moto_endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(
        Path="/break-glass/", RoleName="destroy-log-archive-admin", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    bucket = "payment-logs-glass-123456789012"
    arn = f"arn:aws:s3:::{bucket}"
    _versioned_bucket(s3, bucket, lock_mode="GOVERNANCE")
    s3.put_object(Bucket=bucket, Key="alb/AWSLogs/1.log.gz", Body=b"log", ChecksumAlgorithm="SHA256")
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy_document([deny_log_deletion(arn), deny_log_bucket_configuration_changes(arn, role)]),
    )
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        delete_log_bucket(s3, bucket)

    def clients(service: str, region: str) -> Any:  # the deployer's
        return client(service, moto_endpoint, region)

    session = break_glass.session_name({"USER": "alice"})
    credentials = break_glass.assume(clients, role, session, "us-east-1", moto_endpoint)
    assert delete_log_bucket(break_glass.s3_client(credentials, "us-east-1"), bucket) == 1
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    # A refused AssumeRole is the unit tests' (tests/unit/deploy/test_destroy.py): moto's STS evaluates no trust policy.
