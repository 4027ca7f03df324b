"""Every bucket of the stack (``lib/blocks/buckets.py``; docs/requirements.md#frontend and #log-archive): public
access blocked, versioned, TLS-only (1.2 and later), object events to EventBridge, a name unique per account and
environment, and ACLs off everywhere but the log archive."""

import pytest

from tests.unit.helpers import for_bucket, policy


@pytest.mark.pci("4.2", "10.2, 10.3, 10.5")
def test_every_bucket_blocks_public_access_versions_and_denies_plain_http(resources):
    for bucket in resources["aws_s3_bucket"]:
        block = for_bucket(resources, "aws_s3_bucket_public_access_block", bucket)
        assert all(
            block[k] is True
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        )
        assert (
            for_bucket(resources, "aws_s3_bucket_versioning", bucket)["versioning_configuration"]["status"] == "Enabled"
        )
        statements = policy(for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert all(s["Principal"] != "*" for s in statements if s["Effect"] == "Allow")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_every_bucket_publishes_its_object_events_to_eventbridge(resources):
    """Changes to the payment page's files and writes to the log buckets reach the account's default bus, where
    account-level monitoring subscribes (checkov CKV2_AWS_62 passes instead of being suppressed)."""
    for bucket in resources["aws_s3_bucket"]:
        assert for_bucket(resources, "aws_s3_bucket_notification", bucket)["eventbridge"] is True


@pytest.mark.pci("4.2")
def test_every_bucket_policy_refuses_tls_older_than_1_2(resources):
    """Every bucket policy of the stack, whoever built it, denies every principal and every S3 action on the
    bucket and its objects when the request's TLS version is below 1.2."""
    policies = resources["aws_s3_bucket_policy"]
    assert set(policies) and len(policies) == len(resources["aws_s3_bucket"])
    for name, body in policies.items():
        bucket_arn = body["bucket"].replace(".id}", ".arn}")
        tls = [
            s
            for s in policy(body)["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
        ]
        assert len(tls) == 1, f"{name}: no Deny on s3:TlsVersion < 1.2"
        assert tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*", name
        assert tls[0]["Resource"] == [bucket_arn, f"{bucket_arn}/*"], name


def test_bucket_names_are_unique_per_account_and_environment(resources):
    for body in resources["aws_s3_bucket"].values():
        assert body["bucket"].startswith("payment-") and "-test-" in body["bucket"]
        assert body["bucket"].endswith("${data.aws_caller_identity.current.account_id}")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_only_the_log_bucket_keeps_acls(resources):
    preferred = [
        b
        for b in resources["aws_s3_bucket_ownership_controls"].values()
        if b["rule"]["object_ownership"] != "BucketOwnerEnforced"
    ]
    assert len(preferred) == 1 and "log_archive" in preferred[0]["bucket"]
