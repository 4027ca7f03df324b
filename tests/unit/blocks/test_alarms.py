"""The alarm blocks (``lib/blocks/alarms.py``): a metric-math alarm watches its expression, never its inputs."""

from __future__ import annotations

from typing import Any


def test_metric_math_inputs_are_not_returned(resources: dict[str, dict[str, Any]]) -> None:
    """Every input of every metric-math alarm states ``return_data`` (metric_query sets it false); only the expression
    the alarm watches, and the WAF alarm's metric beside its anomaly band, return data."""
    math_alarms = {
        name: body for name, body in resources["aws_cloudwatch_metric_alarm"].items() if "metric_query" in body
    }
    assert math_alarms, "no metric-math alarm in the synthesized stack"
    for name, alarm in math_alarms.items():
        unstated = [query["id"] for query in alarm["metric_query"] if "return_data" not in query]
        assert not unstated, f"{name}: metric queries {unstated} do not state return_data (use metric_query)"
        returned = [query["id"] for query in alarm["metric_query"] if query["return_data"]]
        expected = 2 if alarm.get("threshold_metric_id") else 1
        assert len(returned) == expected, f"{name}: {returned} return data, expected {expected} query(ies)"
