"""The Firehose fidelity patches (``tools/sandbox/moto_firehose.py``), checked through boto3 against our moto server,
beside tests/sandbox/test_moto_patches.py (which is at pylint's 1,000-line limit), as test_moto_sts.py is for
moto_sts.py. Unpatched, the first fails (no Status: every plan re-enables the stream's encryption) and the second
(shipped logs unlocked in the write-once archive), and the third (any KeyARN stored)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.sandbox.emulator import client


def test_firehose_stream_created_encrypted_reads_back_enabled(moto_endpoint: str) -> None:
    """tools/sandbox/moto_firehose.py: Terraform reads ``server_side_encryption.enabled`` from the Status."""
    firehose = client("firehose", moto_endpoint)
    s3 = client("s3", moto_endpoint)
    s3.create_bucket(Bucket="firehose-encryption-status")
    for name, encryption in (("encrypted", {"KeyType": "AWS_OWNED_CMK"}), ("plain", None)):
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::firehose-encryption-status",
            },
            **({"DeliveryStreamEncryptionConfigurationInput": encryption} if encryption else {}),
        )
    described = {
        name: firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"].get(
            "DeliveryStreamEncryptionConfiguration"
        )
        for name in ("encrypted", "plain")
    }
    assert described["encrypted"] == {"KeyType": "AWS_OWNED_CMK", "Status": "ENABLED"}
    assert (described["plain"] or {}).get("Status") != "ENABLED"


def test_firehose_delivery_into_a_locked_bucket_is_locked(moto_endpoint: str) -> None:
    """tools/sandbox/moto_firehose.py: a delivered object takes the bucket's default retention; into a bucket
    without Object Lock, it has none."""
    firehose, s3 = client("firehose", moto_endpoint), client("s3", moto_endpoint)
    s3.create_bucket(Bucket="firehose-locked", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="firehose-locked",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    s3.create_bucket(Bucket="firehose-unlocked")
    for bucket in ("firehose-locked", "firehose-unlocked"):
        firehose.create_delivery_stream(
            DeliveryStreamName=f"to-{bucket}",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": "shipped/",
            },
        )
        firehose.put_record(DeliveryStreamName=f"to-{bucket}", Record={"Data": b"line\n"})
    modes = {}
    for bucket in ("firehose-locked", "firehose-unlocked"):
        (item,) = s3.list_objects_v2(Bucket=bucket, Prefix="shipped/")["Contents"]
        modes[bucket] = s3.head_object(Bucket=bucket, Key=item["Key"]).get("ObjectLockMode")
    assert modes == {"firehose-locked": "COMPLIANCE", "firehose-unlocked": None}


def _encrypted_stream(firehose: Any, name: str, key_arn: str | None) -> None:
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::firehose-cmk",
        },
        DeliveryStreamEncryptionConfigurationInput={
            "KeyType": "CUSTOMER_MANAGED_CMK",
            **({"KeyARN": key_arn} if key_arn else {}),
        },
    )


def test_firehose_takes_only_a_usable_customer_managed_key_of_its_region(moto_endpoint: str) -> None:
    """tools/sandbox/moto_firehose.py firehose_customer_managed_key_is_usable: the log shipping streams' buffers are
    on the logs key of each stream's region. A key of the region is taken and reads back; another region's key, a
    missing KeyARN, an unknown or a disabled key are refused (unpatched, moto stores any KeyARN); switching a stream's
    encryption to another region's key is refused too."""
    firehose, kms = client("firehose", moto_endpoint, "eu-west-1"), client("kms", moto_endpoint, "eu-west-1")
    client("s3", moto_endpoint, "eu-west-1").create_bucket(
        Bucket="firehose-cmk", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    regional = kms.create_key()["KeyMetadata"]["Arn"]
    elsewhere = client("kms", moto_endpoint, "us-east-1").create_key()["KeyMetadata"]["Arn"]
    disabled_key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled_key["KeyId"])  # by id: moto 5.2.5's DisableKey fails on an ARN (not ours to patch)
    disabled = disabled_key["Arn"]
    _encrypted_stream(firehose, "on-regional-key", regional)
    described = firehose.describe_delivery_stream(DeliveryStreamName="on-regional-key")["DeliveryStreamDescription"]
    assert described["DeliveryStreamEncryptionConfiguration"] == {
        "KeyARN": regional,
        "KeyType": "CUSTOMER_MANAGED_CMK",
        "Status": "ENABLED",
    }
    refusals = (
        ("other-region", elsewhere, "InvalidKMSResourceException", "NotFoundException"),
        ("no-key", None, "InvalidArgumentException", "KeyARN"),
        ("unknown", regional.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000", "InvalidKMS", "NotFound"),
        ("disabled", disabled, "InvalidKMSResourceException", "DisabledException"),
    )
    for name, key_arn, code, says in refusals:
        with pytest.raises(ClientError) as refused:
            _encrypted_stream(firehose, name, key_arn)
        assert code in refused.value.response["Error"]["Code"] and says in str(refused.value), name
    with pytest.raises(ClientError, match="NotFoundException"):
        firehose.start_delivery_stream_encryption(
            DeliveryStreamName="on-regional-key",
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": elsewhere},
        )
