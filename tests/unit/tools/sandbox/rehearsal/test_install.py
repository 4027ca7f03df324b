"""install_standins: what it writes into the rehearsal's root, what it reports, and the allow-list's citations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tools.sandbox.rehearsal.support import PROGRAMS, StandinRoot, skip_unless_root_with_systemd
from tools.sandbox.rehearsal.standins import StandinInstallError, install_standins

HERE = Path(__file__).resolve().parents[5] / "tools/sandbox/rehearsal"
# What the boot script installs today and what the lead may add (issue #22).
REQUIRED_PACKAGES = {"python3.11", "amazon-cloudwatch-agent", "nftables", "jq", "aide"}


def test_the_standins_and_al2023_layout_are_installed_and_listed(root: StandinRoot) -> None:
    for path in PROGRAMS.values():
        target = root.path / path.lstrip("/")
        assert os.access(target, os.X_OK), path
        assert target.read_text(encoding="utf-8").startswith("#!/usr/bin/python3\n"), path
    for directory in ("/etc/sysconfig", "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d"):
        assert (root.path / directory.lstrip("/")).is_dir()
    listed = "\n".join(root.notes)
    for path in [*PROGRAMS.values(), "/usr/lib/systemd/system/nftables.service", "/etc/sysconfig/"]:
        assert f"created {path}" in listed, path
    assert "does not enforce" in listed and "ProtectSystem=" in listed


def test_a_second_install_changes_nothing_and_a_replaced_file_is_reported(root: StandinRoot) -> None:
    again = install_standins(root.path)
    assert [line for line in again if not line.startswith("note:")] == []
    (root.path / "usr/bin/systemctl").write_text("#!/bin/sh\n", encoding="utf-8")
    assert "replaced /usr/bin/systemctl: systemctl stand-in: units started from their files" in install_standins(
        root.path
    )


def test_the_hosts_root_is_refused() -> None:
    with pytest.raises(StandinInstallError, match="host's /"):
        install_standins(Path("/"))
    with pytest.raises(StandinInstallError, match="not a directory"):
        install_standins(Path(tempfile.gettempdir()) / "no-such-standin-root")


def test_al2023s_nftables_unit_loads_the_sysconfig_rules_and_verifies_silently(root: StandinRoot) -> None:
    skip_unless_root_with_systemd()
    unit = root.path / "usr/lib/systemd/system/nftables.service"
    text = unit.read_text(encoding="utf-8")
    assert "ExecStart=/sbin/nft -f /etc/sysconfig/nftables.conf" in text
    assert "Type=oneshot" in text and "RemainAfterExit=yes" in text
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_allowed_package_cites_a_named_al2023_release() -> None:
    packages = json.loads((HERE / "al2023_packages.json").read_text(encoding="utf-8"))["packages"]
    assert REQUIRED_PACKAGES <= set(packages)
    for name, entry in packages.items():
        assert re.fullmatch(
            r"https://docs\.(aws\.amazon\.com|amazonaws\.cn)/linux/al2023/\S+\.html", entry["source_url"]
        )
        release = re.fullmatch(r"2023\.\d+\.(\d{4})(\d{2})(\d{2})", entry["release"])
        assert release, name
        assert entry["date"] == "-".join(release.groups()), f"{name}: the date is the release's"
        assert entry["seen"], name
        assert entry["provides"] and all(path.startswith("/") for path in entry["provides"]), name


def test_the_agent_schema_is_closed_everywhere() -> None:
    schema = json.loads((HERE / "cloudwatch_agent_schema.json").read_text(encoding="utf-8"))

    def objects(node: dict[str, Any]) -> list[dict[str, Any]]:
        found = [node] if node.get("type") == "object" else []
        for child in [*node.get("properties", {}).values(), node.get("items")]:
            if isinstance(child, dict):
                found += objects(child)
        return found

    assert all(node["additionalProperties"] is False for node in objects(schema))


def test_al2023s_aide_path_links_to_debians(root: StandinRoot) -> None:
    """The allow-list names AL2023's /usr/sbin/aide; the host's Debian aide is /usr/bin/aide, linked there (a second
    install changes nothing)."""
    link = root.path / "usr/sbin/aide"
    assert link.is_symlink() and str(link.readlink()) == "/usr/bin/aide"
    assert "created /usr/sbin/aide -> /usr/bin/aide" in "\n".join(root.notes)
    packages = json.loads((HERE / "al2023_packages.json").read_text(encoding="utf-8"))["packages"]
    assert packages["aide"]["provides"] == ["/usr/sbin/aide"]
    assert not [line for line in install_standins(root.path) if line.startswith("created /usr/sbin/aide")]
