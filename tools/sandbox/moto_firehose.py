"""Fidelity patches of the emulator's Kinesis Data Firehose (split from ``tools/sandbox/moto_server.py``, which applies
them through ``PATCH_MODULES``): the audit log shipping of ``lib/components/log_shipping.py`` (CloudWatch Logs ->
Firehose -> the write-once archive). Each patch is registered with ``tools.sandbox.fidelity.fidelity_patch``, tested
in ``tests/sandbox/test_moto_firehose.py`` and listed in docs/developing.md's "Sandbox internals".
"""

# Patching moto means calling its protected helpers (``_format_s3_object_path``).
# pylint: disable=protected-access

from __future__ import annotations

from typing import Any

from tools.sandbox.fidelity import fidelity_patch


@fidelity_patch(
    "Firehose's S3 delivery takes the bucket's default Object Lock retention, as every PutObject to such a bucket "
    "does on AWS (moto writes the object through its backend, past the request layer that applies the default: "
    "shipped logs would sit in the write-once archive unlocked)"
)
def firehose_delivery_takes_default_object_lock() -> None:
    """Deliver as moto does (one object per batch, its key from the stream's prefix), with the bucket's default
    lock mode and retain-until date when the bucket has a default retention."""
    from moto.firehose.models import FirehoseBackend  # pylint: disable=import-outside-toplevel
    from moto.moto_api._internal import mock_random  # pylint: disable=import-outside-toplevel
    from moto.s3.models import s3_backends  # pylint: disable=import-outside-toplevel

    def put_s3_records(
        self: Any,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[dict[str, bytes]],
    ) -> list[dict[str, str]]:
        s3 = s3_backends[self.account_id][self.partition]
        bucket = s3.get_bucket(s3_destination["BucketARN"].split(":")[-1])
        locked = bool(bucket.object_lock_enabled and bucket.has_default_lock)
        key = self._format_s3_object_path(delivery_stream_name, version_id, s3_destination.get("Prefix", ""))
        s3.put_object(
            bucket.name,
            key,
            b"".join(record["Data"] for record in records),
            lock_mode=bucket.default_lock_mode if locked else None,
            lock_until=bucket.default_retention() if locked else None,
        )
        return [{"RecordId": str(mock_random.uuid4())} for _ in records]

    FirehoseBackend.put_s3_records = put_s3_records  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "Firehose DescribeDeliveryStream reports a stream created with server-side encryption as Status ENABLED "
    "(moto echoes the create's input without a Status, so Terraform reads the encryption as disabled and every "
    "plan switches it on again)"
)
def firehose_encryption_status() -> None:
    """A stream created with ``DeliveryStreamEncryptionConfigurationInput`` has its encryption ENABLED at once
    (AWS: ENABLING, then ENABLED within seconds; Terraform waits for ENABLED)."""
    from moto.firehose.models import DeliveryStream  # pylint: disable=import-outside-toplevel

    original_init = DeliveryStream.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        encryption = self.delivery_stream_encryption_configuration
        if encryption and "Status" not in encryption:
            self.delivery_stream_encryption_configuration = {**encryption, "Status": "ENABLED"}

    DeliveryStream.__init__ = init  # type: ignore[method-assign]  # fidelity patch
