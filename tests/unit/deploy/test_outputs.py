"""``cfn-outputs/flat-outputs.json``: each writer owns its stack's key and never removes another's; ``make clean``
refuses while the file holds a deployment's key (tools/deploy/outputs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.deploy import outputs

ROOT = Path(__file__).resolve().parents[3]


def test_terraform_outputs_flatten_to_plain_values() -> None:
    raw = {
        "vpc_id": {"value": "vpc-1", "type": "string", "sensitive": False},
        "subnet_ids": {"value": ["a", "b"], "type": ["list", "string"], "sensitive": False},
    }
    assert outputs.flatten(raw) == {"subnet_ids": ["a", "b"], "vpc_id": "vpc-1"}


def test_a_writer_merges_its_key_and_keeps_every_other(tmp_path: Path) -> None:
    path = tmp_path / "cfn-outputs" / "flat-outputs.json"
    outputs.write_stack("TapStackprod", {"alb_dns_name": "a"}, path)
    outputs.write_stack("TapStacksandbox", {"alb_dns_name": "s"}, path)
    outputs.write_stack("TapStackprod", {"alb_dns_name": "b"}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "TapStackprod": {"alb_dns_name": "b"},
        "TapStacksandbox": {"alb_dns_name": "s"},
    }
    assert outputs.remove_stack("TapStacksandbox", path)
    assert not outputs.remove_stack("TapStacksandbox", path)
    assert outputs.read(path) == {"TapStackprod": {"alb_dns_name": "b"}}
    assert outputs.remove_stack("TapStackprod", path) and not path.exists()


def test_a_missing_stack_names_the_ones_the_file_has(tmp_path: Path) -> None:
    path = tmp_path / "flat-outputs.json"
    outputs.write_stack("TapStackprod", {}, path)
    with pytest.raises(outputs.OutputsError, match=r"no outputs for TapStackqa \(it has: TapStackprod\)"):
        outputs.stack_outputs("TapStackqa", path)


def test_a_file_of_another_shape_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "flat-outputs.json"
    path.write_text('{"vpc_id": "vpc-1"}', encoding="utf-8")
    with pytest.raises(outputs.OutputsError, match="move it away"):
        outputs.write_stack("TapStackprod", {}, path)
    assert path.read_text(encoding="utf-8") == '{"vpc_id": "vpc-1"}'


def _check_clean(folder: Path) -> subprocess.CompletedProcess[str]:
    """``make clean``'s guard, run with the project's code against a copy of the outputs file in ``folder``."""
    script = (
        f"import sys; from pathlib import Path; from tools.deploy import outputs; "
        f"outputs.OUTPUTS_FILE = Path({str(folder / 'flat-outputs.json')!r}); "
        "outputs.ROOT = outputs.OUTPUTS_FILE.parent; sys.exit(outputs.main(['check-clean']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT_SUFFIX"}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_make_clean_refuses_while_another_stack_has_outputs(tmp_path: Path) -> None:
    assert _check_clean(tmp_path).returncode == 0  # no file
    outputs.write_stack("TapStacksandbox", {"x": 1}, tmp_path / "flat-outputs.json")
    assert _check_clean(tmp_path).returncode == 0  # only the sandbox's own key
    outputs.write_stack("TapStackprod", {"x": 1}, tmp_path / "flat-outputs.json")
    refused = _check_clean(tmp_path)
    assert refused.returncode == 2
    assert "holds the outputs of TapStackprod" in refused.stderr and "Nothing was deleted" in refused.stderr
