"""The fleet's idempotency HMAC secret as the apply left it (``lib/components/idempotency_secret.py``): encrypted with
the data key, a generated first value that the Terraform state does not hold, and two rotations done here, outside
Terraform. The sandbox's next phases then apply again (``settings``) and plan again (``drift``, which must show no
change): an apply does not undo a rotation, and the instance booted in ``settings`` fetches the rotated value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lib.components.idempotency_secret import INITIAL_VERSION_LABEL, SECRET_LENGTH
from lib.config import StackConfig


def _labels(secrets: Any, arn: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return {version: sorted(labels) for version, labels in found.items()}


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_the_secret_is_generated_kept_out_of_state_and_rotatable_outside_terraform(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    secrets, arn = aws("secretsmanager"), output("idempotency_secret_arn")
    described = secrets.describe_secret(SecretId=arn)
    assert described["KmsKeyId"] == output("data_kms_key_arn")
    assert "RotationEnabled" not in described or described["RotationEnabled"] is False
    ((initial, labels),) = _labels(secrets, arn).items()
    assert labels == sorted(["AWSCURRENT", INITIAL_VERSION_LABEL])
    first = secrets.get_secret_value(SecretId=arn)["SecretString"]
    assert len(first) == SECRET_LENGTH and first.isalnum()
    state = expected.local_state_path
    assert state.is_file(), f"no local state at {state}"
    assert first not in state.read_text(encoding="utf-8"), "the generated value is in the Terraform state"
    rotated = []
    for _ in range(2):  # as docs/payment-api.md says to rotate (never twice within the retention on a real fleet)
        value = secrets.get_random_password(PasswordLength=SECRET_LENGTH, ExcludePunctuation=True)["RandomPassword"]
        rotated.append(secrets.put_secret_value(SecretId=arn, SecretString=value)["VersionId"])
    assert _labels(secrets, arn) == {
        initial: [INITIAL_VERSION_LABEL],
        rotated[0]: ["AWSPREVIOUS"],
        rotated[1]: ["AWSCURRENT"],
    }
