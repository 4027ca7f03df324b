"""Terraform ephemeral resources (Terraform 1.10+), which cdktf 0.21 and its AWS bindings do not model.

An ephemeral resource is opened at every plan and apply and never written to the state or the saved plan: its value
may feed only write-only arguments (``secret_string_wo``), provider settings or other ephemeral values. The stack
uses it for the values only AWS should ever hold (a generated secret), so they never reach Terraform state
(PCI DSS 3.5, 8.3).

cdktf writes whatever an element's ``to_terraform`` returns into the stack's JSON, so this element emits the
``ephemeral`` block itself; Terraform's JSON syntax takes it as it takes ``data``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdktf import TerraformElement
from constructs import Construct

# The provider's ephemeral resources used here, with the attribute that carries the value.
EPHEMERAL_TYPES = {"aws_secretsmanager_random_password": "random_password"}
ATTRIBUTE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class EphemeralResource(TerraformElement):
    """``ephemeral "<resource_type>" "<id>" { ... }``; :meth:`value` is a reference for write-only arguments."""

    def __init__(self, scope: Construct, construct_id: str, *, resource_type: str, config: Mapping[str, Any]) -> None:
        if resource_type not in EPHEMERAL_TYPES:
            raise ValueError(
                f"ephemeral resource type {resource_type!r} is not modelled: use one of "
                f"{', '.join(sorted(EPHEMERAL_TYPES))}, or add it to EPHEMERAL_TYPES with its value attribute"
            )
        bad = [key for key in config if not ATTRIBUTE_NAME.match(key)]
        if bad:
            raise ValueError(f"{resource_type}: {bad} are not Terraform argument names (lower case, underscores)")
        super().__init__(scope, construct_id, "ephemeral")
        self._resource_type = resource_type
        self._config = dict(config)

    def to_terraform(self) -> Any:
        """The element's JSON: merged into the stack's ``ephemeral`` block by cdktf's synth."""
        return {"ephemeral": {self._resource_type: {self.friendly_unique_id: self._config}}}

    @property
    def value(self) -> str:
        """A reference to the generated value (``${ephemeral.<type>.<id>.<attribute>}``)."""
        attribute = EPHEMERAL_TYPES[self._resource_type]
        return f"${{ephemeral.{self._resource_type}.{self.friendly_unique_id}.{attribute}}}"
