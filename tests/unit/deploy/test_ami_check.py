"""tools/deploy/ami_check.py on plan JSON fixtures (tests/unit/deploy/ami_plans/, shaped like `terraform show
-json`): the scheduled plan says "new AMI available" and exits 2 only when a plan updates an existing launch template's
image_id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.deploy.ami_check import NEW_AMI_EXIT, main

PLANS = Path(__file__).resolve().parent / "ami_plans"
ROOT = Path(__file__).resolve().parents[3]
OLD, NEW = "ami-0a1b2c3d4e5f60718", "ami-0b2d4f6a8c0e1f3a5"


@pytest.mark.pci("6.3.3")
def test_a_plan_after_an_ami_release_reports_each_launch_template_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(PLANS / "ami_new_release.json")]) == NEW_AMI_EXIT == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        f"new AMI available: aws_launch_template.compute_launch_template_5B3C9A41 {OLD} -> {NEW}",
        f"new AMI available: aws_launch_template.migration_host_launch_template_7D2E0F13 {OLD} -> {NEW}",
    ]
    assert "make deploy ENVIRONMENT=<name>" in lines[2]


@pytest.mark.pci("6.3.3")
@pytest.mark.parametrize(
    ("fixture", "says"),
    [
        ("ami_unchanged.json", "no new AMI: no launch template changes its image_id"),
        ("ami_first_apply.json", "no new AMI: no launch template changes its image_id (2 launch template(s) created"),
    ],
)
def test_an_unchanged_ami_or_a_first_apply_exits_0(capsys: pytest.CaptureFixture[str], fixture: str, says: str) -> None:
    assert main([str(PLANS / fixture)]) == 0
    assert capsys.readouterr().out.startswith(says)


def test_an_ami_known_only_at_apply_or_a_file_that_is_no_plan_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([str(PLANS / "ami_unknown.json")]) == 1
    assert "image_id is known only at apply" in capsys.readouterr().err
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"TapStackprod": {}}', encoding="utf-8")
    assert main([str(outputs)]) == 1
    assert "not a plan's JSON" in capsys.readouterr().err


def test_the_module_runs_as_the_ci_job_calls_it() -> None:
    """The documented command (docs/operating.md): its exit status is the job's."""
    completed = subprocess.run(
        [sys.executable, "-m", "tools.deploy.ami_check", str(PLANS / "ami_new_release.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert completed.returncode == 2 and completed.stdout.startswith("new AMI available: "), completed.stderr
