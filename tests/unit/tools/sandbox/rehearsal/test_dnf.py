"""The dnf stand-in: allowed AL2023 names pass only when usable in the root; anything else fails as dnf does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.tools.sandbox.rehearsal.support import StandinRoot


def provide(root: StandinRoot, *paths: str) -> None:
    """Make the root hold these commands, as the rehearsal's overlay of the host does (links to the host's)."""
    for path in paths:
        target = root.path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        host = Path(path)
        if host.exists():
            target.symlink_to(host)
        else:
            target.write_text("#!/bin/sh\n", encoding="utf-8")
            target.chmod(0o755)


def test_allowed_packages_whose_commands_exist_install(root: StandinRoot) -> None:
    provide(root, "/usr/bin/python3.11", "/usr/bin/jq", "/usr/sbin/nft")
    if not os.access("/usr/bin/python3.11", os.X_OK):
        pytest.skip("the host has no /usr/bin/python3.11 (Debian 12: python3.11, python3.11-venv)")
    result = root.run("dnf", "install", "-y", "-q", "python3.11", "amazon-cloudwatch-agent", "nftables", "jq")
    assert result.returncode == 0, result.stderr
    assert "Complete!" not in result.stdout, "-q is quiet"
    assert "amazon-cloudwatch-agent: on AL2023 2023.11.20260406" in result.stdout
    assert root.run("dnf", "install", "-y", "jq").stdout.endswith("Complete!\n")


@pytest.mark.parametrize(
    ("names", "missing"),
    [(["pyhton3.11"], "pyhton3.11"), (["jq", "amazon-cloudwatch-agnet", "nftable"], "amazon-cloudwatch-agnet nftable")],
)
def test_a_misspelt_name_fails_like_dnf_and_installs_nothing(root: StandinRoot, names: list[str], missing: str) -> None:
    provide(root, "/usr/bin/jq")
    result = root.run("dnf", "install", "-y", *names)
    assert result.returncode == 1
    for name in missing.split():
        assert f"No match for argument: {name}\n" in result.stderr
    assert f"Error: Unable to find a match: {missing}\n" in result.stderr
    assert result.stdout == "", "nothing is installed when one name is missing"


def test_an_allowed_package_missing_from_this_host_names_the_command(root: StandinRoot) -> None:
    provide(root, "/usr/bin/jq")
    result = root.run("dnf", "install", "-y", "jq", "tar")
    assert result.returncode == 1
    assert "tar provides /usr/bin/tar on AL2023, and /usr/bin/tar is missing on this host" in result.stderr


def test_a_failing_probe_names_the_package_and_why(root: StandinRoot) -> None:
    allow_list = root.path / "usr/share/rehearsal-standins/al2023_packages.json"
    allow_list.write_text(
        allow_list.read_text(encoding="utf-8").replace('"import ensurepip, venv"', '"import no_such_module"'),
        encoding="utf-8",
    )
    provide(root, "/usr/bin/python3.11")
    result = root.run("dnf", "install", "-y", "python3.11")
    assert result.returncode == 1
    assert "python3.11: probe /usr/bin/python3.11 -c import no_such_module failed" in result.stderr
    assert "python3.11-venv" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["install", "jq"], "Operation aborted."),
        (["update", "-y"], "No such command: update."),
        (["install", "-y", "--nogpgcheck", "jq"], "unknown option --nogpgcheck"),
        (["install", "-y"], "Error: Need to pass a list of pkgs to install"),
        (["-y"], "Error: No command given."),
    ],
)
def test_what_a_boot_script_must_not_do_is_refused(root: StandinRoot, args: list[str], message: str) -> None:
    provide(root, "/usr/bin/jq")
    result = root.run("dnf", *args)
    assert result.returncode == 1
    assert message in result.stderr


def test_setopt_is_accepted_and_said(root: StandinRoot) -> None:
    provide(root, "/usr/bin/jq")
    result = root.run("dnf", "--setopt=install_weak_deps=False", "install", "-y", "-q", "jq")
    assert result.returncode == 0, result.stderr
    assert "--setopt=install_weak_deps=False accepted" in result.stderr


def test_the_security_upgrade_of_the_amis_release_passes_and_applies_nothing(root: StandinRoot) -> None:
    """boot/hardening.sh's `dnf upgrade --security --releasever=<the AMI's>`: the release is the root's
    /etc/amazon-linux-release (install_standins writes AL2023's)."""
    release = root.read("/etc/amazon-linux-release").split()[3]
    result = root.run("dnf", "upgrade", "--security", f"--releasever={release}", "-y", "-q")
    assert result.returncode == 0, result.stderr
    assert f"upgrade --security --releasever={release}: on AL2023 this applies the security errata" in result.stdout
    assert "nothing was applied" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--security", "--releasever=2023.0.20230315", "-y"], "needs --releasever=2023."),
        (["--security", "-y"], "got none"),
        (["--releasever=RELEASE", "-y"], "without --security would take every update"),
        (["--security", "--releasever=RELEASE"], "Operation aborted."),
        (["--security", "--releasever=RELEASE", "-y", "openssl"], "not chosen packages"),
    ],
)
def test_a_security_upgrade_of_another_release_or_without_its_options_is_refused(
    root: StandinRoot, args: list[str], says: str
) -> None:
    release = root.read("/etc/amazon-linux-release").split()[3]
    result = root.run("dnf", "upgrade", *(arg.replace("RELEASE", release) for arg in args))
    assert result.returncode == 1 and says in result.stderr, result.stderr
