"""The emulator's bucket configuration patch (``s3_bucket_configuration_policy`` in tools/sandbox/moto_s3.py; split
from tests/sandbox/test_moto_patches.py, which is at pylint's module size): moto applies a bucket policy to object
requests only, so the log buckets' break-glass Deny is evaluated here as AWS evaluates it."""

from __future__ import annotations

import pytest

from lib.blocks.iam import deny_log_bucket_configuration_changes, deny_log_deletion, policy_document
from tests.sandbox.test_moto_patches import _role_session


def test_the_break_glass_statement_refuses_configuration_changes_to_all_but_its_role(moto_endpoint: str) -> None:
    """The log archive's break-glass Deny (lib/blocks/iam.py) as AWS applies it to bucket configuration calls: the
    deployer's session is refused PutBucketPolicy, DeleteBucketPolicy, Put/DeleteBucketLifecycle and
    PutObjectLockConfiguration; a session of the break-glass role makes each of them; reads stay open."""
    deployer = _role_session(moto_endpoint, "/deployers/", "patch-deployer")
    glass = _role_session(moto_endpoint, "/break-glass/", "patch-log-archive-admin")
    bucket, arn = "patch-archive", "arn:aws:s3:::patch-archive"
    role = "arn:aws:iam::123456789012:role/break-glass/patch-log-archive-admin"
    policy = policy_document([deny_log_deletion(arn), deny_log_bucket_configuration_changes(arn, role)])
    lifecycle_rules = {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 400}}]}
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    deployer.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    # Before the policy exists nothing refuses the deployer: the first apply creates lifecycle, lock, then policy.
    deployer.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle_rules)
    deployer.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)
    deployer.put_bucket_policy(Bucket=bucket, Policy=policy)
    calls = {
        "PutBucketPolicy": lambda s3: s3.put_bucket_policy(Bucket=bucket, Policy=policy),
        "PutBucketLifecycleConfiguration": lambda s3: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=lifecycle_rules
        ),
        "PutObjectLockConfiguration": lambda s3: s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration=lock
        ),
        "DeleteBucketLifecycle": lambda s3: s3.delete_bucket_lifecycle(Bucket=bucket),
        "DeleteBucketPolicy": lambda s3: s3.delete_bucket_policy(Bucket=bucket),
    }
    for name, call in calls.items():
        with pytest.raises(deployer.exceptions.ClientError, match="AccessDenied"):
            call(deployer)
        assert deployer.get_bucket_policy(Bucket=bucket)["Policy"], name
    for call in calls.values():
        call(glass)  # the last one deletes the policy
    with pytest.raises(glass.exceptions.ClientError, match="NoSuchBucketPolicy"):
        glass.get_bucket_policy(Bucket=bucket)
    # With the policy gone, nothing refuses the deployer again (a development archive without the role).
    deployer.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle_rules)
