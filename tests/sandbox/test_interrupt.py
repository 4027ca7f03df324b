"""Ctrl-C during apply: the runner says it was you, what it cleaned up, and blames no emulator call; ``make deploy``
(which the sandbox runs) passes one interrupt on to Terraform and says what its apply left.

A stand-in ``terraform`` (first on PATH) plans 104 resources and then hangs in apply until interrupted, so
the test reaches the apply step in seconds with the real runner, emulator, ``make deploy``, synth and account
preflight.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools.sandbox.runner import INTERRUPTED_EXIT, LOCK_FILE

ROOT = Path(__file__).resolve().parents[2]
FAKE_TERRAFORM = """#!/bin/sh
case "$1" in
  version) echo '{"terraform_version": "1.11.4"}' ;;
  init) mkdir -p .terraform; echo "Terraform has been successfully initialized!" ;;
  plan) echo "Plan: 104 to add, 0 to change, 0 to destroy."; exit 2 ;;
  show) echo '{"resource_changes": [{"address": "aws_vpc.main", "change": {"actions": ["create"]}}]}' ;;
  apply) echo "aws_vpc.main: Creation complete after 1s [id=vpc-1]"
         trap 'echo "Interrupt received. Gracefully shutting down..."; exit 1' INT
         sleep 120 & wait ;;
esac
exit 0
"""


def test_ctrl_c_during_apply_is_reported_as_yours_with_the_cleanup(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "terraform").write_text(FAKE_TERRAFORM, encoding="utf-8")
    (fake_bin / "terraform").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "ENVIRONMENT_SUFFIX": "ctrlc",
        "PYTHONUNBUFFERED": "1",
    }
    assert not LOCK_FILE.exists() or not LOCK_FILE.read_text(encoding="utf-8").strip(), "a sandbox is running here"
    process = subprocess.Popen(  # pylint: disable=consider-using-with  # read line by line, signalled mid-run
        [sys.executable, "-m", "tools.sandbox"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[str] = []
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    deploy_log = ROOT / "sandbox-logs" / "deploy.log"
    for line in process.stdout:
        output.append(line)
        if line.startswith("[sandbox] deploy ..."):
            break
        assert time.monotonic() < deadline, "".join(output)
    while "[deploy] apply ..." not in (deploy_log.read_text(encoding="utf-8") if deploy_log.is_file() else ""):
        assert time.monotonic() < deadline and process.poll() is None, "".join(output)
        time.sleep(0.5)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    output.append(process.stdout.read())
    code = process.wait(timeout=120)
    text = "".join(output)
    assert code == INTERRUPTED_EXIT, text
    assert "[sandbox] interrupted by you: stopping terraform and the emulator" in text
    assert "[sandbox] INTERRUPTED by you during 'deploy'" in text
    assert re.search(r"cleaned up: make deploy \(pid \d+\) interrupted and waited for", text), text
    deployed = deploy_log.read_text(encoding="utf-8")
    assert (
        "[deploy] INTERRUPTED during 'apply': Terraform stopped after the calls in flight and saved its state"
        in deployed
    ), deployed
    assert "Interrupt received. Gracefully shutting down..." in deployed, "terraform got no interrupt of its own"
    stopped = re.search(r"emulator \(pid (\d+)\) stopped", text)
    assert stopped, text
    moto_pid = int(stopped.group(1))
    assert "refused" not in text and "FAILED" not in text
    try:
        os.kill(moto_pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the emulator outlived the run"
