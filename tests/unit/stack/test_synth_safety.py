"""Synth never destroys what it did not write: state, tfvars, other folders; and it pins the provider.

The refusals themselves (empty ``CDKTF_OUTDIR``, the project root, a foreign folder, an old output holding
state) are rows of ``test_cli_inputs.py``; here: what synth does keep and replace when it goes ahead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import tap
from lib import config as config_module
from lib.config import StackConfig
from lib.synth_output import MARKER, OutputDirError, check_replaceable, operator_files
from tools.tfcli import terraform_env


@pytest.fixture(name="project")
def fixture_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root of the test's own, so local state lands there and not in the real checkout."""
    monkeypatch.setattr(config_module, "PROJECT_ROOT", tmp_path)
    return tmp_path


def _config() -> StackConfig:
    return StackConfig.from_env({"ENVIRONMENT_SUFFIX": "safety"}, region_file=Path("/nonexistent"))


def test_local_state_survives_two_synths(project: Path, synth_json: dict) -> None:
    assert synth_json  # the session's jsii kernel is up: these synths take about a second each
    state = project / "terraform.TapStacksafety.tfstate"
    state.write_text('{"version": 4, "resources": ["live"]}', encoding="utf-8")
    outdir = project / "cdktf.out"
    for _ in range(2):
        stack_file = tap.synthesize(_config(), outdir)
    backend = json.loads(stack_file.read_text(encoding="utf-8"))["terraform"]["backend"]
    assert backend == {"local": {"path": str(state)}}
    assert state.read_text(encoding="utf-8") == '{"version": 4, "resources": ["live"]}'
    assert (outdir / MARKER).is_file()


def test_an_earlier_output_is_replaced_but_not_a_foreign_folder(tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    (earlier / "stacks" / "TapStackdev").mkdir(parents=True)
    (earlier / "manifest.json").write_text('{"version": "0.21.0", "stacks": {}}', encoding="utf-8")
    check_replaceable(earlier)  # written before the marker existed: cdktf's layout is proof enough
    (earlier / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputDirError, match="did not write"):
        check_replaceable(earlier)


def test_a_folder_of_empty_folders_holds_nothing_to_lose(tmp_path: Path) -> None:
    (tmp_path / "cdktf.out" / "stacks").mkdir(parents=True)  # what `npx cdktf synth --output elsewhere` leaves
    check_replaceable(tmp_path / "cdktf.out")


def test_terraform_caches_are_not_operator_files(tmp_path: Path) -> None:
    stack = tmp_path / "stacks" / "TapStackdev"
    (stack / ".terraform").mkdir(parents=True)
    (stack / ".terraform" / "terraform.tfstate").write_text("{}", encoding="utf-8")  # backend settings cache
    (stack / "prod.tfvars").write_text("", encoding="utf-8")
    assert operator_files(tmp_path) == [stack / "prod.tfvars"]


def test_the_committed_provider_lock_is_in_every_stack_folder(project: Path) -> None:
    stack_file = tap.synthesize(_config(), project / "out")
    lock = stack_file.parent / ".terraform.lock.hcl"
    assert lock.read_bytes() == tap.PROVIDER_LOCK_FILE.read_bytes()
    assert 'version     = "5.100.0"' in lock.read_text(encoding="utf-8")


def test_a_provider_that_does_not_match_the_lock_is_refused(project: Path) -> None:
    stack_dir = tap.synthesize(_config(), project / "out").parent
    lock = stack_dir / ".terraform.lock.hcl"
    lock.write_text(lock.read_text(encoding="utf-8").replace('"h1:', '"h1:AAAA'), encoding="utf-8")
    result = subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=stack_dir,
                            env=terraform_env(), capture_output=True, text=True, check=False, timeout=120)
    shutil.rmtree(stack_dir / ".terraform", ignore_errors=True)
    assert result.returncode == 1
    assert "doesn't match any of the checksums previously recorded in the dependency lock file" in \
        " ".join(result.stderr.split())


def test_make_clean_refuses_while_the_output_holds_state(tmp_path: Path) -> None:
    from lib.synth_output import main as check_main  # pylint: disable=import-outside-toplevel

    output = tmp_path / "cdktf.out"
    (output / "stacks" / "TapStackdev").mkdir(parents=True)
    (output / MARKER).write_text("m", encoding="utf-8")
    assert check_main([str(output)]) == 0
    (output / "stacks" / "TapStackdev" / "terraform.TapStackdev.tfstate").write_text("{}", encoding="utf-8")
    assert check_main([str(output)]) == 2
    assert check_main([str(tmp_path / "missing")]) == 0
