"""``python -m preflight`` (``preflight/__main__.py``): exit status 0 on a clean stack, 1 with the report on an
error, 2 on a file it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.__main__ import main as preflight_main
from tests.unit.preflight.builders import AUDITED, db, res, stack


def test_cli_exit_status_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.tf.json", tmp_path / "bad.tf.json"
    # PF-RDS-FORCE-SSL: a database names its own group, which forces TLS (and audits, and applies each right).
    forced_tls = (
        "aws_db_parameter_group",
        *res(
            "params",
            family="postgres15",
            parameter=[
                {
                    "name": name,
                    "value": value,
                    "apply_method": "pending-reboot" if name == "shared_preload_libraries" else "immediate",
                }
                for name, value in {**AUDITED, "rds.force_ssl": "1"}.items()
            ],
        ),
    )
    # PF-RDS-EVENTS: the database's events go to a topic.
    events = (
        "aws_db_event_subscription",
        *res(
            "events",
            source_type="db-instance",
            source_ids=["${aws_db_instance.db.identifier}"],
            sns_topic="${aws_sns_topic.alarms.arn}",
        ),
    )
    # PF-RDS-BACKUP: an AWS Backup selection names the database.
    backup = ("aws_backup_selection", *res("selection", resources=["${aws_db_instance.db.arn}"]))
    good.write_text(
        json.dumps(stack(db(parameter_group_name="${aws_db_parameter_group.params.name}"), forced_tls, events, backup)),
        encoding="utf-8",
    )
    bad.write_text(
        json.dumps(
            stack(
                db(engine_version="15.5", parameter_group_name="${aws_db_parameter_group.params.name}"),
                forced_tls,
                events,
                backup,
            )
        ),
        encoding="utf-8",
    )
    assert preflight_main([str(good)]) == 0
    assert preflight_main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "[ERROR] PF-RDS-ENGINE-VERSION Stack/db (aws_db_instance.db)" in out
    assert "preflight FAILED" in out and "1 error(s)" in out
    assert preflight_main([str(tmp_path / "missing.json")]) == 2
