"""AWS facts shared by configuration validation and Terraform variable validation blocks.

Kept in one place so the synth-time check (``lib.config``) and the plan-time check (the ``validation``
blocks in ``lib.variables``) cannot drift apart.
"""

import re

# RDS for PostgreSQL major versions in standard support (source: Amazon RDS for PostgreSQL release
# calendar, checked 2026-11). Give the major version only: RDS resolves it to the latest patch, whereas a
# full version that RDS never shipped (seed failure 1: "15.5") fails at deploy time.
SUPPORTED_POSTGRES_MAJOR_VERSIONS: tuple[str, ...] = ("14", "15", "16", "17")

# The values CloudWatch Logs accepts for retentionInDays (PutRetentionPolicy API reference).
CLOUDWATCH_RETENTION_DAYS: frozenset[int] = frozenset({
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
})

# Shape checks only; the preflight checks families against the list of families AWS offers.
EC2_INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
DB_INSTANCE_CLASS_PATTERN = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
