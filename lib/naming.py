"""Resource names and tags, from one place.

Every name is ``<project>-<component>-<suffix>`` so that two environments never collide in one account
and a resource's environment is visible in the console. Length limits are checked here at synth time
(and again by the preflight over the synthesized JSON), not discovered at apply time.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import StackConfig

# AWS limits for the names this stack builds (ELBv2 API reference, IAM quotas, S3 bucket naming rules).
MAX_NAME_LENGTH = {"alb": 32, "target_group": 32, "iam": 64, "s3": 63, "rds": 63, "default": 255}
ACCOUNT_ID_LENGTH = 12


@dataclass(frozen=True)
class Naming:
    """Builds names and ``Name`` tags for one environment."""

    project: str
    suffix: str

    @classmethod
    def for_config(cls, config: StackConfig) -> Naming:
        return cls(project=config.project, suffix=config.environment_suffix)

    def name(self, component: str, kind: str = "default") -> str:
        """``<project>-<component>-<suffix>``, refused when it would break the AWS limit for ``kind``."""
        value = f"{self.project}-{component}-{self.suffix}"
        limit = MAX_NAME_LENGTH[kind]
        if len(value) > limit:
            raise ValueError(
                f"name {value!r} has {len(value)} characters; AWS allows {limit} for {kind} names. "
                "Shorten the component name or ENVIRONMENT_SUFFIX."
            )
        return value

    def bucket_name(self, component: str, account_id: str) -> str:
        """Globally unique bucket name: the account id keeps two accounts from competing for it."""
        if len(f"{self.project}-{component}-{self.suffix}-") + ACCOUNT_ID_LENGTH > MAX_NAME_LENGTH["s3"]:
            raise ValueError(f"bucket name for {component!r} would exceed 63 characters; shorten ENVIRONMENT_SUFFIX")
        return f"{self.project}-{component}-{self.suffix}-{account_id}"

    def tags(self, component: str, **extra: str) -> dict[str, str]:
        """The per-resource tags; the provider's ``default_tags`` add the environment-wide ones."""
        return {"Name": self.name(component), **extra}
