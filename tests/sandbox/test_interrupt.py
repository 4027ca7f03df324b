"""Ctrl-C during apply: the runner says it was you, what it cleaned up, and blames no emulator call.

A stand-in ``terraform`` (first on PATH) plans 104 resources and then hangs in apply until interrupted, so
the test reaches the apply phase in seconds with the real runner, emulator and synth.
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
  init) echo "Terraform has been successfully initialized!" ;;
  plan) echo "Plan: 104 to add, 0 to change, 0 to destroy." ;;
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
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}", "ENVIRONMENT_SUFFIX": "ctrlc",
           "PYTHONUNBUFFERED": "1"}
    assert not LOCK_FILE.exists() or not LOCK_FILE.read_text(encoding="utf-8").strip(), "a sandbox is running here"
    process = subprocess.Popen(  # pylint: disable=consider-using-with  # read line by line, signalled mid-run
        [sys.executable, "-m", "tools.sandbox"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    output: list[str] = []
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if line.startswith("[sandbox] apply ..."):
            time.sleep(1)
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "".join(output)
    output.append(process.stdout.read())
    code = process.wait(timeout=120)
    text = "".join(output)
    assert code == INTERRUPTED_EXIT, text
    assert "[sandbox] interrupted by you: stopping terraform and the emulator" in text
    assert "[sandbox] INTERRUPTED by you during 'apply'" in text
    assert re.search(r"cleaned up: terraform \(pid \d+\) interrupted and waited for", text), text
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
