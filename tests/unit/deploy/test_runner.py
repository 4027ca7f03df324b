"""``make deploy`` / ``make plan``'s decisions that need no account: the plan summary, the confirmation, the artifact
kind, where the plan goes (tools/deploy/runner.py). The whole path runs in the sandbox (``make sandbox``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.deploy import runner
from tools.deploy.environment import load

ROOT = Path(__file__).resolve().parents[3]


def _change(address: str, *actions: str) -> dict[str, Any]:
    return {"address": address, "change": {"actions": list(actions)}}


def test_the_plan_summary_lists_what_it_destroys_or_replaces() -> None:
    plan = {
        "resource_changes": [
            _change("aws_vpc.a", "create"),
            _change("aws_s3_bucket.b", "no-op"),
            _change("aws_db_instance.db", "update"),
            _change("aws_kms_key.k", "delete"),
            _change("aws_lb.alb", "delete", "create"),
            _change("aws_instance.i", "create", "delete"),
        ],
        "output_changes": {"x": {"actions": ["update"]}, "y": {"actions": ["no-op"]}},
    }
    summary = runner.summarize_plan(plan)
    assert (summary["create"], summary["update"], summary["delete"], summary["replace"]) == (1, 1, 1, 2)
    assert summary["outputs_changed"] == 1 and summary["changes"]
    assert summary["destroyed"] == ["aws_kms_key.k (destroyed)", "aws_lb.alb (replaced)", "aws_instance.i (replaced)"]
    assert summary["changed"] == {
        "aws_vpc.a": "create",
        "aws_db_instance.db": "update",
        "aws_kms_key.k": "delete",
        "aws_lb.alb": "replace",
        "aws_instance.i": "replace",
    }
    text = runner.describe_plan(summary)
    assert text.startswith("1 to create, 1 to update, 2 to replace, 1 to destroy")
    assert "\n    ! aws_kms_key.k (destroyed)" in text


def test_an_empty_plan_has_no_changes() -> None:
    summary = runner.summarize_plan({"resource_changes": [_change("aws_vpc.a", "no-op")]})
    assert not summary["changes"] and summary["destroyed"] == []


def _environment(tmp_path: Path, **environ: str) -> Any:
    return load("qa", {"AWS_REGION": "eu-west-1", **environ}, tmp_path)


def test_without_a_terminal_or_auto_approve_nothing_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    summary = runner.summarize_plan({"resource_changes": [_change("aws_vpc.a", "create")]})
    with pytest.raises(runner.DeployError, match=r"AUTO_APPROVE is not 1.*plans/TapStackqa.tfplan"):
        runner.confirm(_environment(tmp_path), summary, auto_approve=False)
    assert runner.confirm(_environment(tmp_path), summary, auto_approve=True) == "AUTO_APPROVE=1"


def test_on_a_terminal_the_stack_name_confirms_and_destroys_are_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    summary = runner.summarize_plan({"resource_changes": [_change("aws_db_instance.db", "delete")]})
    asked: list[str] = []

    def answer(text: str) -> str:
        asked.append(text)
        return "yes"

    with pytest.raises(runner.DeployError, match="not confirmed"):
        runner.confirm(_environment(tmp_path), summary, auto_approve=False, ask=answer)
    assert "DESTROYS or REPLACES 1 resource(s)" in asked[0] and "Type TapStackqa to apply" in asked[0]
    assert (
        runner.confirm(_environment(tmp_path), summary, auto_approve=False, ask=lambda _: "TapStackqa")
        == "confirmed on the terminal"
    )


def test_the_plan_is_saved_outside_every_synth_output(tmp_path: Path) -> None:
    environment = _environment(tmp_path)
    assert runner.plan_file(environment) == ROOT / "plans" / "TapStackqa.tfplan"
    assert "plans/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert runner.stack_folder(environment) == ROOT / "cdktf.out" / "stacks" / "TapStackqa"
    moved = _environment(tmp_path, CDKTF_OUTDIR="/tmp/elsewhere")
    assert runner.stack_folder(moved) == Path("/tmp/elsewhere/stacks/TapStackqa")


def test_every_account_gets_a_production_artifact_and_only_the_sandbox_a_development_one(tmp_path: Path) -> None:
    assert runner.wanted_artifact_kind(_environment(tmp_path)) == "production"
    assert runner.wanted_artifact_kind(_environment(tmp_path, ENVIRONMENT_TYPE="development")) == "production"
    sandbox = _environment(tmp_path, SANDBOX_ENDPOINT_URL="http://127.0.0.1:5000")
    assert runner.wanted_artifact_kind(sandbox) == "development"


def test_an_interruption_says_what_each_step_leaves() -> None:
    assert set(runner.LEFT_BY) == {
        "prerequisites",
        "environment",
        "artifact",
        "synth",
        "account",
        "init",
        "migrate",
        "plan",
        "archive",
        "confirm",
        "apply",
        "outputs",
        "post-apply",
        "frontend",
        "verify",
    }
    assert "saved its state" in runner.LEFT_BY["apply"]


def test_the_during_apply_hook_runs_while_the_apply_runs_and_is_stopped_after_it(tmp_path: Path) -> None:
    """DEPLOY_DURING_APPLY_HOOK (the sandbox's migration phase): started before the apply, SIGTERM after it; a hook
    that ends cleanly on the signal passes, one that fails fails the step, naming it."""
    import os  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel

    marker = tmp_path / "started"
    watcher = tmp_path / "watcher.py"
    watcher.write_text(
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(int(sys.argv[2])))\n"
        "pathlib.Path(sys.argv[1]).write_text('up')\n"
        "while True:\n    time.sleep(0.1)\n"
    )
    env = dict(os.environ)

    def until_up() -> None:
        deadline = time.monotonic() + 30
        while not marker.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.read_text() == "up"  # running while the "apply" runs

    with runner.during_apply(f"{sys.executable} {watcher} {marker} 0", env):
        until_up()
    marker.unlink()
    with pytest.raises(runner.DeployError, match=r"the during-apply hook .* exited 3"):
        with runner.during_apply(f"{sys.executable} {watcher} {marker} 3", env):
            until_up()
    with runner.during_apply(None, env):
        pass  # no hook: nothing runs
