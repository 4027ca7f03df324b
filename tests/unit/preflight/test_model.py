"""The preflight engine (``preflight/model.py``, ``preflight/__init__.py``): the rule registry, the report, and
the real synthesized stack run through every rule without an error and without being changed."""

from __future__ import annotations

import copy
from typing import Any

from preflight import RULES, errors, format_report, run_preflight
from tests.unit.preflight.builders import assert_clean, db, only, stack


def test_every_rule_has_an_id_and_a_one_line_rationale() -> None:
    assert len(RULES) >= 18
    for rule_id, registered in RULES.items():
        assert rule_id.startswith("PF-") and rule_id == rule_id.upper()
        assert registered.rationale and "\n" not in registered.rationale


def test_an_empty_stack_has_no_findings() -> None:
    assert_clean(run_preflight({}))


def test_format_report_counts() -> None:
    report = format_report(only(stack(db(engine_version="15.5")), "PF-RDS-ENGINE-VERSION"), source="x")
    assert report.endswith(f"preflight FAILED for x: 1 error(s), 0 warning(s), {len(RULES)} rules")


def test_real_synthesized_stack_has_no_preflight_errors(synth_json: dict[str, Any]) -> None:
    findings = run_preflight(synth_json)
    assert not errors(findings), format_report(findings)


def test_preflight_does_not_mutate_its_input(synth_json: dict[str, Any]) -> None:
    before = copy.deepcopy(synth_json)
    run_preflight(synth_json)
    assert synth_json == before
