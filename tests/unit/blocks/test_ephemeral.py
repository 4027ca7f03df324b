"""``lib/blocks/ephemeral.py``: an ephemeral block cdktf does not model, written into the stack's JSON as Terraform
reads it, and refused for types whose value attribute is not known."""

from __future__ import annotations

import json

import pytest
from cdktf import TerraformStack
from cdktf import Testing as CdktfTesting

from lib.blocks.ephemeral import EphemeralResource


def test_the_block_and_its_reference() -> None:
    stack = TerraformStack(CdktfTesting.app(), "stack")
    generated = EphemeralResource(
        stack, "generated", resource_type="aws_secretsmanager_random_password", config={"password_length": 40}
    )
    document = json.loads(CdktfTesting.synth(stack))
    ((name, body),) = document["ephemeral"]["aws_secretsmanager_random_password"].items()
    assert body == {"password_length": 40}
    assert generated.value == f"${{ephemeral.aws_secretsmanager_random_password.{name}.random_password}}"


def test_an_unmodelled_type_is_refused_naming_the_known_ones() -> None:
    stack = TerraformStack(CdktfTesting.app(), "stack")
    with pytest.raises(ValueError, match=r"'aws_kms_secrets' is not modelled: use one of aws_secretsmanager_random"):
        EphemeralResource(stack, "x", resource_type="aws_kms_secrets", config={})


def test_an_argument_that_is_not_a_terraform_name_is_refused() -> None:
    stack = TerraformStack(CdktfTesting.app(), "stack")
    with pytest.raises(ValueError, match=r"\['PasswordLength'\] are not Terraform argument names"):
        EphemeralResource(stack, "x", resource_type="aws_secretsmanager_random_password", config={"PasswordLength": 40})
