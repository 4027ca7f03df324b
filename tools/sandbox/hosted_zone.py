"""The sandbox's public hosted zone: the zone an operator brings as ``HOSTED_ZONE_ID``, made in the emulator.

The sandbox's API name (``SANDBOX_DOMAIN``, the name on its certificate) lies in this zone, so the stack writes
its alias record to the ALB there, as it would in a real account; the integration tests read the record back.
The zone is created before the runner's first inventory, so destroy is not expected to remove it (a real zone
outlives every stack that writes in it).
"""

from __future__ import annotations

import uuid
from typing import Any

from tools.sandbox.certificate import SANDBOX_DOMAIN

# The zone holding SANDBOX_DOMAIN: its parent, so the record is a name inside the zone, not its apex.
SANDBOX_ZONE = SANDBOX_DOMAIN.split(".", 1)[1]


def create_sandbox_zone(route53_client: Any, zone_name: str = SANDBOX_ZONE) -> str:
    """Create a public hosted zone for ``zone_name`` in (the emulator's) Route 53; return its id as
    ``HOSTED_ZONE_ID`` takes it (without the ``/hostedzone/`` prefix)."""
    response = route53_client.create_hosted_zone(
        Name=zone_name,
        CallerReference=f"sandbox-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "payment-platform sandbox", "PrivateZone": False},
    )
    return str(response["HostedZone"]["Id"]).rsplit("/", 1)[-1]
