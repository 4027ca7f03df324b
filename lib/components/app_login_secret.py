"""The application's database login: one Secrets Manager secret the migration host writes and the API instances read.

Why (issue 27 item 2, PCI DSS 7.2.1, 8.3.2, 8.6.2): the serving fleet holds neither the RDS master credential nor a DDL
one. The per-release migration host (``MigrationHost``, the only role that reads the master secret) sets a fresh random
password on one of two login roles, ``payment_app_a`` and ``payment_app_b`` (DML only, members of ``payment_app``), and
puts a new version of this secret naming it: JSON ``{"username": ..., "password": ...}``, staged ``AWSCURRENT`` and
labelled with the login's name. Each release takes the login the ``AWSCURRENT`` version does not name (its label says
which, through ``DescribeSecret``: the host never reads the value), so the instances that booted earlier keep the
other login, valid until the release after next: an instance refresh never cuts off the fleet still serving.

- Encrypted with the stack's data key (PCI DSS 3.5): the host encrypts through Secrets Manager only
  (``kms:GenerateDataKey`` with ``kms:ViaService``), the instances decrypt the same way.
- Only the migration host's role may ``PutSecretValue`` (and ``DescribeSecret``); only the instance role may
  ``GetSecretValue`` (``Compute``), and root's payment-api-credentials.service hands the value to the units with
  ``LoadCredential=db-login``: never an environment file, never the disk.
- No version from Terraform: the value is never in Terraform state; the first migration host writes the first version,
  before the API group launches (the group depends on the host's run).
- No rotation Lambda: each release rotates it (the emulator cannot run a Lambda without docker, and a rotation outside a
  release would have to restart the fleet).
- Destroy: the secret waits out ``recovery_window_days`` (0 without deletion protection, as the idempotency secret).
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from lib.blocks.secrets import check_recovery_window, stack_secret
from lib.naming import Naming


@dataclass(frozen=True, kw_only=True)
class AppLoginSecretProps:
    """Where the secret is named, how it is encrypted and how long a deleted one can be restored."""

    naming: Naming
    """Names and tags."""
    data_key_arn: str
    """The stack's data key, which encrypts the secret (PCI DSS 3.5)."""
    recovery_window_days: int = 30
    """Days a deleted secret can be restored (0: deleted at once; else 7 to 30).

    @default 30 - the longest; ``lib/tap_stack.py`` passes ``StackConfig.secret_recovery_window_days`` (0 without
    deletion protection)."""

    def __post_init__(self) -> None:
        check_recovery_window(self.recovery_window_days)


class AppLoginSecret(Construct):
    """The secret; its versions come from the migration host, one per release."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AppLoginSecretProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._secret = stack_secret(
            self,
            naming=naming,
            component="app-db-login",
            description="Payment API: the application's DML database login (payment_app_a or payment_app_b), written "
            "by the migration host each release, read by the API instances (docs/operating.md)",
            key_arn=props.data_key_arn,
            recovery_window_days=props.recovery_window_days,
            rotation="Rotated every release by the migration host (a fresh password on the login the fleet does not "
            "use, then a new AWSCURRENT version naming it): a rotation Lambda could not keep the serving fleet's login "
            "valid.",
        )

    @property
    def arn(self) -> str:
        return self._secret.arn
