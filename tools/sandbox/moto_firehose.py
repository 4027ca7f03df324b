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


@fidelity_patch(
    "Firehose refuses a customer managed key it cannot use: no KeyARN, a key of another region or account, a "
    "missing, disabled or pending-deletion key (moto 5.2.5 stores any KeyARN, so a stream pointed at the wrong "
    "region's logs key would apply in the sandbox and fail on AWS)"
)
def firehose_customer_managed_key_is_usable() -> None:
    """CreateDeliveryStream and StartDeliveryStreamEncryption with ``KeyType`` CUSTOMER_MANAGED_CMK check the key as
    Firehose does before it creates its grant: InvalidArgumentException without a KeyARN, InvalidKMSResourceException
    (KMS's NotFound/Disabled/InvalidState code) for a key the stream's region and account do not hold enabled."""
    # pylint: disable=import-outside-toplevel
    from moto.firehose.exceptions import FirehoseException, InvalidArgumentException
    from moto.firehose.models import FirehoseBackend
    from moto.kms.models import kms_backends

    def check(backend: Any, encryption: dict[str, Any] | None) -> None:
        if not encryption or encryption.get("KeyType") != "CUSTOMER_MANAGED_CMK":
            return
        key_arn = encryption.get("KeyARN")
        if not key_arn:
            raise InvalidArgumentException("KeyARN must be specified when KeyType is CUSTOMER_MANAGED_CMK.")
        parts = str(key_arn).split(":")
        key = None
        if len(parts) == 6 and parts[3] == backend.region_name and parts[4] == backend.account_id:
            key = kms_backends[backend.account_id][backend.region_name].keys.get(parts[5].removeprefix("key/"))
        if key is None:
            state = "NotFoundException"
        else:
            state = {"Enabled": "", "Disabled": "DisabledException"}.get(key.key_state, "InvalidStateException")
        if state:
            raise FirehoseException(
                "InvalidKMSResourceException",
                f"Firehose cannot use KMS key {key_arn} in {backend.region_name}: KMS.{state}",
            )

    original_create = FirehoseBackend.create_delivery_stream
    original_start = FirehoseBackend.start_delivery_stream_encryption

    def create(self: Any, *args: Any, **kwargs: Any) -> str:
        # moto's handler passes the arguments by position: the encryption input is the fifth after self.
        check(self, kwargs.get("delivery_stream_encryption_configuration_input", args[4] if len(args) > 4 else None))
        result: str = original_create(self, *args, **kwargs)
        return result

    def start(self: Any, stream_name: str, encryption_config: dict[str, Any]) -> None:
        check(self, encryption_config)
        original_start(self, stream_name, encryption_config)

    FirehoseBackend.create_delivery_stream = create  # type: ignore[method-assign]  # fidelity patch
    FirehoseBackend.start_delivery_stream_encryption = start  # type: ignore[method-assign]  # fidelity patch
