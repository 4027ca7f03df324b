"""Every alarm (and RDS event subscription and EventBridge rule) the stack creates has a runbook in docs/operating.md,
under a heading with its name as AWS shows it (``<project>-<name>-<suffix>``): an alarm added without one fails here,
so the on-call engineer never receives an alarm the guide does not explain."""

from __future__ import annotations

import re
from typing import Any

from lib.config import StackConfig
from tests.conftest import PRODUCTION_ENV, ROOT


def test_every_alarm_of_the_stack_has_a_runbook(resources: dict[str, dict[str, Any]]) -> None:
    config = StackConfig.from_env(dict(PRODUCTION_ENV))
    prefix, suffix = f"{config.project}-", f"-{config.environment_suffix}"
    names = [alarm["alarm_name"] for alarm in resources["aws_cloudwatch_metric_alarm"].values()]
    names += [subscription["name"] for subscription in resources["aws_db_event_subscription"].values()]
    names += [rule["name"] for rule in resources.get("aws_cloudwatch_event_rule", {}).values()]
    assert names and all(name.startswith(prefix) and name.endswith(suffix) for name in names), names
    expected = {f"<project>-{name[len(prefix) : -len(suffix)]}-<suffix>" for name in names}
    guide = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([^`]+)`$", guide, flags=re.MULTILINE))
    assert expected <= documented, (
        f"alarms or event subscriptions without a runbook in docs/operating.md: {sorted(expected - documented)}"
    )
    assert documented <= expected, f"runbooks of alarms the stack no longer has: {sorted(documented - expected)}"
