"""What a newcomer meets first: `make` alone, a missing tool, a synth without the project's Node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _bin_without(tmp_path: Path, *missing: str) -> str:
    """A PATH holding every tool the check looks for, except ``missing``."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("python3", "node", "npm", "terraform", "make", "sh", "env"):
        found = shutil.which(tool)
        if found and tool not in missing:
            (folder / tool).symlink_to(found)
    return str(folder)


def test_make_alone_prints_the_grouped_help() -> None:
    result = subprocess.run(["make", "-s"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    for heading in ("start (start here):", "develop (", "check (", "deploy ("):
        assert heading in result.stdout
    for target in ("make sandbox", "make test", "make synth", "make validate"):
        assert target in result.stdout


def test_a_missing_tool_is_named_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": _bin_without(tmp_path, "node", "npm")}
    result = subprocess.run(
        [sys.executable, "tools/prereqs.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("prerequisite missing: npm 9.0+ is not on PATH") for line in lines), lines
    assert all("Fix:" in line for line in lines) and "Traceback" not in result.stderr


def test_npm_without_a_node_to_run_on_is_named(tmp_path: Path) -> None:
    """The machine's node only runs npm (the project's Node comes from package-lock.json): npm must run."""
    env = {**os.environ, "PATH": _bin_without(tmp_path, "node")}
    result = subprocess.run(
        [sys.executable, "tools/prereqs.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("prerequisite broken: npm is on PATH but `npm --version` gives no version")


def test_synth_with_a_missing_node_says_so_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-node" / "node"
    env = {
        **os.environ,
        "PATH": _bin_without(tmp_path, "node"),
        "CDKTF_OUTDIR": str(tmp_path / "out"),
        "JSII_NODE": str(missing),
    }
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"Configuration error: JSII_NODE='{missing}' is not an executable")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
