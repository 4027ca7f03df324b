"""Synth never destroys what it did not write: state, saved plans, tfvars, notes, other folders; it pins the provider.

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
from lib.synth_output import MARKER, OutputDirError, check_replaceable, kept_files, state_files, written_files
from tools.deploy.tfcli import terraform_env


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


def test_terraform_caches_are_not_state_files(tmp_path: Path) -> None:
    stack = tmp_path / "stacks" / "TapStackdev"
    (stack / ".terraform").mkdir(parents=True)
    (stack / ".terraform" / "terraform.tfstate").write_text("{}", encoding="utf-8")  # backend settings cache
    (stack / "terraform.tfstate").write_text("{}", encoding="utf-8")
    assert state_files(tmp_path) == [stack / "terraform.tfstate"]


def test_a_saved_plan_tfvars_and_notes_survive_a_synth_and_are_named(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20: the README saves a plan at cdktf.out/stacks/TapStack<suffix>/<name>.tfplan; the next synth kept
    nothing of it. Now it replaces only what it wrote and says what it kept."""
    outdir = project / "cdktf.out"
    stack_dir = tap.synthesize(_config(), outdir).parent
    mine = {
        stack_dir / "prod.tfplan": b"PK\x03\x04 a saved plan",
        stack_dir / "prod.tfvars": b'certificate_arn = "x"\n',
        outdir / "NOTES.md": b"why we applied on Friday\n",
        stack_dir / ".terraform" / "providers" / "p": b"cache",
    }
    for path, data in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (stack_dir / "cdk.tf.json").write_text("{}", encoding="utf-8")  # synth's own file: replaced
    capsys.readouterr()
    tap.synthesize(_config(), outdir)
    assert {path: path.read_bytes() for path in mine} == mine
    assert json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))["terraform"]
    err = capsys.readouterr().err
    assert f"Kept in {outdir}" in err
    for name in (
        "NOTES.md",
        "stacks/TapStacksafety/prod.tfplan",
        "stacks/TapStacksafety/prod.tfvars",
        "stacks/TapStacksafety/.terraform/",
    ):
        assert name in err
    assert "providers/p" not in err, "terraform init's cache is named once"
    written = written_files(outdir)
    assert {
        "manifest.json",
        "stacks/TapStacksafety/cdk.tf.json",
        "stacks/TapStacksafety/.terraform.lock.hcl",
    } <= written and not {p.relative_to(outdir).as_posix() for p in mine} & written
    assert all(
        name.startswith("stacks/TapStacksafety/assets/")
        for name in written
        - {"manifest.json", "stacks/TapStacksafety/cdk.tf.json", "stacks/TapStacksafety/.terraform.lock.hcl"}
    )


def test_a_stack_synth_no_longer_writes_goes_but_not_the_plan_beside_it(project: Path) -> None:
    outdir = project / "cdktf.out"
    old_stack = tap.synthesize(_config(), outdir).parent
    (old_stack / "old.tfplan").write_bytes(b"plan")
    other = StackConfig.from_env({"ENVIRONMENT_SUFFIX": "other"}, region_file=Path("/nonexistent"))
    tap.synthesize(other, outdir)
    assert sorted(p.name for p in old_stack.iterdir()) == ["old.tfplan"], "synth's files went, the plan stayed"
    (old_stack / "old.tfplan").unlink()
    tap.synthesize(other, outdir)
    assert (outdir / "stacks" / "TapStackother" / "cdk.tf.json").is_file()
    assert kept_files(outdir) == []


def test_a_file_of_yours_where_synth_now_writes_is_refused_before_anything_changes(project: Path) -> None:
    outdir = project / "cdktf.out"
    tap.synthesize(_config(), outdir)
    theirs = outdir / "stacks" / "TapStackother" / "cdk.tf.json"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("hand-written", encoding="utf-8")
    before = sorted(p.relative_to(outdir).as_posix() for p in outdir.rglob("*"))
    other = StackConfig.from_env({"ENVIRONMENT_SUFFIX": "other"}, region_file=Path("/nonexistent"))
    with pytest.raises(
        OutputDirError,
        match=r"holds files of yours where synth now writes: "
        r"stacks/TapStackother/cdk\.tf\.json",
    ):
        tap.synthesize(other, outdir)
    assert sorted(p.relative_to(outdir).as_posix() for p in outdir.rglob("*")) == before
    assert theirs.read_text(encoding="utf-8") == "hand-written"


def test_a_marker_naming_paths_outside_the_output_deletes_nothing_there(project: Path) -> None:
    outdir = project / "cdktf.out"
    tap.synthesize(_config(), outdir)
    victim = project / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    marker = json.loads((outdir / MARKER).read_text(encoding="utf-8"))
    marker["files"] += ["../victim.txt", str(victim)]
    (outdir / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    tap.synthesize(_config(), outdir)
    assert victim.read_text(encoding="utf-8") == "keep"


def test_the_committed_provider_lock_is_in_every_stack_folder(project: Path) -> None:
    stack_file = tap.synthesize(_config(), project / "out")
    lock = stack_file.parent / ".terraform.lock.hcl"
    assert lock.read_bytes() == tap.PROVIDER_LOCK_FILE.read_bytes()
    assert 'version     = "5.100.0"' in lock.read_text(encoding="utf-8")


def test_a_provider_that_does_not_match_the_lock_is_refused(project: Path) -> None:
    stack_dir = tap.synthesize(_config(), project / "out").parent
    lock = stack_dir / ".terraform.lock.hcl"
    lock.write_text(lock.read_text(encoding="utf-8").replace('"h1:', '"h1:AAAA'), encoding="utf-8")
    result = subprocess.run(
        ["terraform", "init", "-backend=false", "-input=false", "-no-color"],
        cwd=stack_dir,
        env=terraform_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    shutil.rmtree(stack_dir / ".terraform", ignore_errors=True)
    assert result.returncode == 1
    assert "doesn't match any of the checksums previously recorded in the dependency lock file" in " ".join(
        result.stderr.split()
    )


def test_make_clean_refuses_while_the_output_holds_state_or_files_synth_did_not_write(tmp_path: Path) -> None:
    from lib.synth_output import main as check_main  # pylint: disable=import-outside-toplevel

    output = tmp_path / "cdktf.out"
    (output / "stacks" / "TapStackdev").mkdir(parents=True)
    (output / MARKER).write_text(json.dumps({"files": ["stacks/TapStackdev/cdk.tf.json"]}), encoding="utf-8")
    (output / "stacks" / "TapStackdev" / "cdk.tf.json").write_text("{}", encoding="utf-8")
    assert check_main([str(output)]) == 0
    (output / "stacks" / "TapStackdev" / "prod.tfplan").write_text("plan", encoding="utf-8")
    assert check_main([str(output)]) == 2
    (output / "stacks" / "TapStackdev" / "prod.tfplan").unlink()
    (output / "stacks" / "TapStackdev" / "terraform.TapStackdev.tfstate").write_text("{}", encoding="utf-8")
    assert check_main([str(output)]) == 2
    assert check_main([str(tmp_path / "missing")]) == 0


def test_an_output_from_before_the_marker_listed_files_keeps_the_plan(project: Path) -> None:
    """A marker of the old kind (text, no list): synth's files are cdktf's manifest, stack JSON, lock and assets."""
    outdir = project / "cdktf.out"
    stack_dir = outdir / "stacks" / "TapStacksafety"
    stack_dir.mkdir(parents=True)
    (outdir / MARKER).write_text("Written by tap.py: this folder is synth output.\n", encoding="utf-8")
    (outdir / "manifest.json").write_text('{"version": "0.21.0", "stacks": {}}', encoding="utf-8")
    (stack_dir / "cdk.tf.json").write_text("{}", encoding="utf-8")
    (stack_dir / "prod.tfplan").write_bytes(b"plan")
    assert kept_files(outdir) == ["stacks/TapStacksafety/prod.tfplan"]
    tap.synthesize(_config(), outdir)
    assert (stack_dir / "prod.tfplan").read_bytes() == b"plan"
    assert json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))["terraform"]
