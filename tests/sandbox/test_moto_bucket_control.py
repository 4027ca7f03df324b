"""The emulator's S3 judges the requests that change a bucket's policy, event notifications or lifecycle by its
bucket policy (``tools/sandbox/moto_s3.s3_bucket_configuration_policy``; issue 28 re-review L-2): the frontend
bucket's ``DenyControlChangesButDeployers`` holds against all but the deployers, as on AWS. Beside
``test_moto_patches.py``, which is at pylint's module length."""

from __future__ import annotations

import pytest

from lib.blocks.iam import deny_bucket_control_changes_except, deny_object_writes_except, policy_document
from tests.sandbox.test_moto_patches import SSO_SET, _role_session
from tools.sandbox.emulator import client


def test_bucket_control_requests_are_the_deployers_only(moto_endpoint: str) -> None:
    """The frontend bucket's DenyControlChangesButDeployers: a listed deployer's session (Terraform) changes the
    notifications, the lifecycle and the policy itself; an unlisted role's session and the static test key are
    refused, as on AWS (unpatched moto judged only object requests: everyone could)."""
    sso_path = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    deployer = _role_session(moto_endpoint, sso_path, "AWSReservedSSO_PaymentDeployer_1a2b3c4d")
    other = _role_session(moto_endpoint, sso_path, "AWSReservedSSO_ReadOnly_5e6f7a8b")
    static = client("s3", moto_endpoint)
    bucket, arn = "patch-control", "arn:aws:s3:::patch-control"
    static.create_bucket(Bucket=bucket)
    document = policy_document(
        [
            deny_object_writes_except("DenyWritesButDeployers", arn, [SSO_SET]),
            deny_bucket_control_changes_except("DenyControlChangesButDeployers", arn, [SSO_SET]),
        ]
    )
    static.put_bucket_policy(Bucket=bucket, Policy=document)
    lifecycle_rules = {"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}
    for refused in (other, static):
        for call in (
            lambda s3: s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            ),
            lambda s3: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle_rules),
            lambda s3: s3.delete_bucket_lifecycle(Bucket=bucket),
            lambda s3: s3.put_bucket_policy(Bucket=bucket, Policy=document),
            lambda s3: s3.delete_bucket_policy(Bucket=bucket),
        ):
            with pytest.raises(refused.exceptions.ClientError, match=r"403|AccessDenied|Forbidden"):
                call(refused)
    assert static.get_bucket_policy(Bucket=bucket)["Policy"]  # reads are not control changes
    deployer.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    deployer.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle_rules)
    deployer.put_bucket_policy(Bucket=bucket, Policy=document)
    deployer.delete_bucket_policy(Bucket=bucket)
    static.put_bucket_policy(Bucket=bucket, Policy=document.replace(SSO_SET, "arn:aws:iam::1:role/x"))
    assert "arn:aws:iam::1:role/x" in static.get_bucket_policy(Bucket=bucket)["Policy"]  # no policy: no deny
