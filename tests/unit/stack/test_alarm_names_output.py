"""The ``alarm_names`` output (``lib/blocks/alarms.py`` ``alarm_names``, wired in ``lib/tap_stack.py``): every
CloudWatch alarm of the synthesized stack, whichever component made it, so that ``make verify-deployment`` checks
them all."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tap_contract.identity import Output

ALARM_NAME = re.compile(r"\$\{aws_cloudwatch_metric_alarm\.([A-Za-z0-9_]+)\.alarm_name\}")


@pytest.mark.parametrize("stack", ["production", "development"])
def test_every_alarm_of_the_stack_is_in_the_alarm_names_output(
    stack: str, synth_json: dict[str, Any], dev_synth_json: dict[str, Any]
) -> None:
    synthesized = synth_json if stack == "production" else dev_synth_json
    alarms = set(synthesized["resource"]["aws_cloudwatch_metric_alarm"])
    listed = synthesized["output"][Output.ALARM_NAMES]["value"]
    matches = [ALARM_NAME.fullmatch(item) for item in listed]
    assert all(matches), f"not each the name of an alarm of the stack: {listed}"
    logical = [match.group(1) for match in matches if match]
    assert len(logical) == len(set(logical)), f"alarms listed twice: {logical}"
    assert not alarms - set(logical), f"alarms make verify-deployment would not check: {sorted(alarms - set(logical))}"
    assert set(logical) <= alarms, f"listed alarms the stack does not have: {sorted(set(logical) - alarms)}"
