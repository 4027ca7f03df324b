"""The log archive (``lib/components/log_archive.py``; docs/requirements.md#log-archive): load balancer and
CloudFront logs under SSE-S3 with ACLs for CloudFront, write-once for a year (COMPLIANCE in production, GOVERNANCE
in development), deletion denied, and S3 access logs in their own bucket."""

import pytest
from tap_contract.examples import BREAK_GLASS_ROLE_ARN as EXAMPLE_BREAK_GLASS_ROLE_ARN

from tests.unit.helpers import by_path, component_bucket, for_bucket, only, policy, ref, s3_access_bucket


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_bucket_sse_s3_acls_for_cloudfront_and_lifecycle(resources):
    bucket = component_bucket(resources, "log_archive")
    sse = for_bucket(resources, "aws_s3_bucket_server_side_encryption_configuration", bucket)
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    assert (
        for_bucket(resources, "aws_s3_bucket_ownership_controls", bucket)["rule"]["object_ownership"]
        == "BucketOwnerPreferred"
    )
    rule = for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
    assert rule["status"] == "Enabled" and rule["expiration"][0]["days"] >= 365
    assert [t["storage_class"] for t in rule["transition"]] == ["STANDARD_IA", "GLACIER"]
    allow = {
        s["Sid"]
        for s in policy(for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
        if s["Effect"] == "Allow"
    }
    assert allow == {"AlbAccessLogDelivery"}


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_archive_is_write_once_in_compliance_mode_for_a_year(resources):
    """The archive (ALB and CloudFront logs) locks every version for 365 days in COMPLIANCE mode in production,
    switched on in place after versioning; S3 server access logs go to their own bucket (AWS refuses a bucket
    with an Object Lock default retention as their target)."""
    archive = component_bucket(resources, "log_archive")
    body = resources["aws_s3_bucket"][archive]
    assert not body.get("force_destroy")
    assert "object_lock_enabled" not in body  # ForceNew on aws_s3_bucket: the lock resource keeps the bucket
    lock = for_bucket(resources, "aws_s3_bucket_object_lock_configuration", archive)
    assert lock["object_lock_enabled"] == "Enabled"
    assert lock["rule"]["default_retention"] == {"mode": "COMPLIANCE", "days": 365}
    versioning = by_path(resources, "aws_s3_bucket_versioning", "log_archive/logs_versioning")[0]
    assert lock["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]
    assert len(resources["aws_s3_bucket_object_lock_configuration"]) == 1
    # S3 server access logs of the frontend, the artifacts and the archive itself (who reads the logs) go to their
    # own bucket.
    targets = {body["bucket"]: body["target_bucket"] for body in resources["aws_s3_bucket_logging"].values()}
    access = ref("aws_s3_bucket", s3_access_bucket(resources), "bucket")
    assert targets == {
        ref("aws_s3_bucket", component_bucket(resources, "frontend")): access,
        ref("aws_s3_bucket", component_bucket(resources, "api_release")): access,
        ref("aws_s3_bucket", archive): access,
    }


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_buckets_deny_deletion_and_keep_versions_past_the_retention(resources):
    archive, access = component_bucket(resources, "log_archive"), s3_access_bucket(resources)
    for bucket in (archive, access):
        statements = policy(for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
        deny = next(s for s in statements if s.get("Sid") == "DenyLogDeletion")
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and "Condition" not in deny
        assert set(deny["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"}
        assert deny["Resource"].endswith("/*")
        rule = for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
        assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] >= 365
        assert rule["expiration"][0]["days"] >= 365
    access_statements = policy(for_bucket(resources, "aws_s3_bucket_policy", access))["Statement"]
    assert {s["Sid"] for s in access_statements if s["Effect"] == "Allow"} == {"S3ServerAccessLogDelivery"}
    assert (
        for_bucket(resources, "aws_s3_bucket_ownership_controls", access)["rule"]["object_ownership"]
        == "BucketOwnerEnforced"
    )


@pytest.mark.pci("10.2, 10.3, 10.5", "7.2, 8.2, 8.6")
def test_s3_log_delivery_writes_only_for_the_buckets_that_log_there(resources):
    """aws:SourceArn names exactly the buckets whose server access logging targets the access-log bucket (the
    archive, the artifacts and the frontend), besides aws:SourceAccount: no other bucket can log into it."""
    access = s3_access_bucket(resources)
    delivery = next(
        s
        for s in policy(for_bucket(resources, "aws_s3_bucket_policy", access))["Statement"]
        if s.get("Sid") == "S3ServerAccessLogDelivery"
    )
    logged = {
        f"arn:aws:s3:::{resources['aws_s3_bucket'][logging['bucket'].split('.')[1]]['bucket']}"
        for logging in resources["aws_s3_bucket_logging"].values()
    }
    assert len(logged) == 3
    assert set(delivery["Condition"]["ArnLike"]["aws:SourceArn"]) == logged
    assert set(delivery["Condition"]["StringEquals"]) == {"aws:SourceAccount"}


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_development_locks_in_governance_mode_and_only_the_sandbox_empties_buckets(dev_synth_json):
    dev = dev_synth_json["resource"]
    lock = only(dev, "aws_s3_bucket_object_lock_configuration")
    assert lock["rule"]["default_retention"] == {"mode": "GOVERNANCE", "days": 365}
    assert all(not b.get("force_destroy") for b in dev["aws_s3_bucket"].values())


@pytest.mark.pci("10.3.3, 10.5.1")
def test_only_the_break_glass_role_may_change_the_log_buckets_policy_lifecycle_and_lock(resources):
    """Production names BREAK_GLASS_ROLE_ARN: both log buckets' policies refuse changes to themselves, the lifecycle
    and the Object Lock configuration to every principal but that role (aws:PrincipalArn, the role's ARN with its
    path for each of its sessions); each policy is created after its bucket's lifecycle (and the archive's lock), so
    the first apply, as the deployer, can create all of them."""
    role = EXAMPLE_BREAK_GLASS_ROLE_ARN
    archive, access = component_bucket(resources, "log_archive"), s3_access_bucket(resources)
    for bucket in (archive, access):
        body = for_bucket(resources, "aws_s3_bucket_policy", bucket)
        deny = next(s for s in policy(body)["Statement"] if s.get("Sid") == "DenyLogBucketConfigurationChanges")
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
        assert set(deny["Action"]) == {
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketObjectLockConfiguration",
        }
        assert deny["Resource"] == ref("aws_s3_bucket", bucket, "arn")
        assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [role]}}
        lifecycle = next(
            name
            for name, value in resources["aws_s3_bucket_lifecycle_configuration"].items()
            if value["bucket"] == ref("aws_s3_bucket", bucket, "id")
        )
        assert f"aws_s3_bucket_lifecycle_configuration.{lifecycle}" in body["depends_on"]
    lock = next(iter(resources["aws_s3_bucket_object_lock_configuration"]))
    archive_policy = for_bucket(resources, "aws_s3_bucket_policy", archive)
    assert f"aws_s3_bucket_object_lock_configuration.{lock}" in archive_policy["depends_on"]


@pytest.mark.pci("10.3.3, 10.5.1")
def test_without_a_break_glass_role_the_log_policies_refuse_only_deletion(dev_synth_json):
    """Development without BREAK_GLASS_ROLE_ARN: today's statements, no configuration Deny (the deployer could not
    apply a later change of the policy or lifecycle otherwise)."""
    dev = dev_synth_json["resource"]
    for body in dev["aws_s3_bucket_policy"].values():
        sids = {s.get("Sid") for s in policy(body)["Statement"]}
        assert "DenyLogBucketConfigurationChanges" not in sids
    archive_policies = [
        body for body in dev["aws_s3_bucket_policy"].values() if "DenyLogDeletion" in str(body["policy"])
    ]
    assert len(archive_policies) == 2
