"""``make regions`` (tools/release/regions.py): one line per region and type, and a failure names its region."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tap
from lib.artifact import PaymentApiArtifact
from lib.config import StackConfig
from tools.release import regions


def test_every_supported_region_is_covered_by_default() -> None:
    assert regions.supported_regions()[0] == "us-east-1" and len(regions.supported_regions()) >= 15
    assert "regions" in (Path(__file__).resolve().parents[3] / "Makefile").read_text().split("TEST_STEPS :=")[1]


def test_a_refused_synth_fails_the_step_naming_the_region_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def synthesize(config: StackConfig, outdir: Path, artifact: PaymentApiArtifact | None = None) -> Path:
        assert artifact is not None
        if config.aws_region == "eu-west-1" and config.environment_type == "production":
            print("[ERROR] PF-KEY-SERVICE-ACCESS somewhere: the reason", file=sys.stderr)
            raise tap.PreflightError("preflight found 1 error(s)")
        assert artifact.build_kind == config.environment_type
        return outdir / "cdk.tf.json"

    monkeypatch.setattr(tap, "synthesize", synthesize)
    assert regions.main(["--region", "us-east-1", "--region", "eu-west-1"]) == 1
    out, err = capsys.readouterr()
    assert out.count("[regions] ") == 5 and "eu-west-1       production" in out and "FAILED" in out
    assert "FAILED: eu-west-1 production" in out
    assert "eu-west-1 production: synth refused" in err and "PF-KEY-SERVICE-ACCESS" in err


def test_an_unknown_region_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert regions.main(["--region", "mars-north-1"]) == 2
    assert "mars-north-1: not a supported region" in capsys.readouterr().err
