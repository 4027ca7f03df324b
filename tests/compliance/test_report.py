"""``docs/compliance.md`` describes a fixed production configuration: the caller's suffix, type and folder
change nothing, and the check ignores only the stamp block."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.docs import compliance_report
from tools.docs.compliance_report import OUTPUT, without_stamp

ROOT = Path(__file__).resolve().parents[2]


def test_the_check_passes_whatever_the_callers_environment_and_folder(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ENVIRONMENT_SUFFIX": "alice",
        "ENVIRONMENT_TYPE": "development",
        "AWS_REGION": "eu-west-1",
        "DELETION_PROTECTION": "false",
        "CDKTF_OUTDIR": str(tmp_path / "elsewhere"),
    }
    script = ROOT / "tools" / "docs" / "compliance_report.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr


def test_the_report_is_for_production_and_stamped() -> None:
    text = OUTPUT.read_text(encoding="utf-8")
    assert "Stack `TapStackprod`" in text and "ENVIRONMENT_TYPE=production" in text
    assert "CKV_AWS_174" not in text.split("## Suppressed checkov findings", 1)[1]  # development-only suppression
    assert without_stamp(text) != text and "Inputs hash" not in without_stamp(text)


def test_an_unsuppressed_checkov_failure_fails_the_report(capsys) -> None:
    """`make scan` covers the development stack; the production configuration's own findings stop `make compliance`
    and `make compliance-check` instead of being printed as a count nobody reads."""
    failed = {
        "check_id": "CKV_AWS_378",
        "check_name": "LB uses HTTP",
        "address": "aws_lb_target_group.tg",
        "path": "TapStackprod/compute/target_group",
    }
    assert compliance_report.unsuppressed_failures({"passed": [], "failed": [failed]}) == 1
    assert "CKV_AWS_378 FAILED on TapStackprod/compute/target_group" in capsys.readouterr().err
    assert compliance_report.unsuppressed_failures({"passed": [failed], "failed": []}) == 0
