"""``npx cdktf synth`` works on a fresh set-up and never touches local Terraform state nor a saved plan;
``npx cdktf deploy`` (and diff, destroy) stops at once, before Terraform, and points to
``make deploy ENVIRONMENT=<name>``.

``cdktf.json`` runs ``tools/dev/cdktf_app.py``, which runs ``tap.py`` for a synth. Local state lives in the project
root, so two synths through the CLI leave a state file there exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = "clisynth"
STATE = ROOT / f"terraform.TapStack{SUFFIX}.tfstate"
LIVE_STATE = '{"version": 4, "serial": 7, "resources": ["a live database"]}\n'


def _cdktf(*args: str, outdir: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # Without the JSII_NODE the tests' conftest set: the CLI's app must find the project's Node on its own.
    env = {k: v for k, v in os.environ.items() if k not in ("TERRAFORM_STATE_BUCKET", "ENVIRONMENT_TYPE", "JSII_NODE")}
    env.update({"ENVIRONMENT_SUFFIX": SUFFIX, "CI": "1", "CHECKPOINT_DISABLE": "1", "DISABLE_VERSION_CHECK": "1"})
    return subprocess.run(
        ["npx", "--no-install", "cdktf", *args, "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(autouse=True)
def _no_leftover_output_folder() -> Iterator[None]:
    """The CLI creates ./cdktf.out/stacks/ even with --output elsewhere: remove it again if it was not there."""
    default = ROOT / "cdktf.out"
    existed = default.exists()
    yield
    if not existed and default.is_dir() and not any(p.is_file() for p in default.rglob("*")):
        shutil.rmtree(default)


@pytest.fixture(name="live_state")
def fixture_live_state() -> Iterator[Path]:
    if STATE.exists():
        pytest.fail(f"{STATE} exists already; this test will not overwrite state it did not write")
    STATE.write_text(LIVE_STATE, encoding="utf-8")
    try:
        yield STATE
    finally:
        STATE.unlink(missing_ok=True)


def test_cdktf_synth_twice_keeps_local_state(tmp_path: Path, live_state: Path) -> None:
    if shutil.which("npx") is None or not (ROOT / "node_modules" / ".bin" / "cdktf").exists():
        pytest.fail("the pinned cdktf CLI is not installed: run `make setup` (npm ci)")
    outdir = tmp_path / "cdktf.out"
    plan = outdir / "stacks" / f"TapStack{SUFFIX}" / f"{SUFFIX}.tfplan"
    for _ in range(2):
        result = _cdktf("synth", outdir=outdir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Synthesized TapStack{SUFFIX}" in result.stdout + result.stderr
        assert not re.search(r"end-of-life|DeprecationWarning", result.stdout + result.stderr)  # Node 22, no banner
        if not plan.exists():  # saved where the README once saved it: the second synth keeps it and says so
            plan.write_bytes(b"a saved plan")
    assert plan.read_bytes() == b"a saved plan"
    assert f"stacks/TapStack{SUFFIX}/{SUFFIX}.tfplan" in result.stdout + result.stderr
    stack = json.loads((outdir / "stacks" / f"TapStack{SUFFIX}" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert stack["terraform"]["backend"] == {"local": {"path": str(live_state)}}
    assert live_state.read_text(encoding="utf-8") == LIVE_STATE
    assert (outdir / "stacks" / f"TapStack{SUFFIX}" / ".terraform.lock.hcl").is_file()


def test_cdktf_json_runs_the_projects_environment_and_needs_no_generated_bindings() -> None:
    settings = json.loads((ROOT / "cdktf.json").read_text(encoding="utf-8"))
    assert settings["app"] == ".venv/bin/python -m tools.dev.cdktf_app"
    # A provider listed here makes `cdktf synth` demand `cdktf get` (a full AWS binding generation); the
    # prebuilt cdktf-cdktf-provider-aws package is what the stack imports.
    assert settings["terraformProviders"] == []


@pytest.mark.parametrize(
    ("command", "instead"),
    [
        ("deploy", "make deploy ENVIRONMENT=<name>"),
        ("diff", "make plan ENVIRONMENT=<name>"),
        ("destroy", "destroy steps of docs/operating.md"),
    ],
)
def test_cdktf_deploy_diff_and_destroy_stop_at_once_and_name_the_make_target(
    tmp_path: Path, command: str, instead: str
) -> None:
    """No prompt that waits (stdin is closed, the deadline is a minute), nothing synthesized or planned."""
    if shutil.which("npx") is None or not (ROOT / "node_modules" / ".bin" / "cdktf").exists():
        pytest.fail("the pinned cdktf CLI is not installed: run `make setup` (npm ci)")
    outdir = tmp_path / "cdktf.out"
    extra = ("--auto-approve",) if command in ("deploy", "destroy") else ()
    started = time.monotonic()
    result = _cdktf(command, *extra, outdir=outdir, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"`cdktf {command}` is not a supported path" in output and instead in output, output
    assert "Nothing was synthesized, planned or changed" in output
    assert time.monotonic() - started < 60
    assert not list(outdir.rglob("cdk.tf.json")), "a refused command synthesized a stack"
    assert not list(outdir.rglob(".terraform")), "a refused command ran terraform init"
