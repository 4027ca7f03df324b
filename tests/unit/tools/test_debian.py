"""tools.debian's decisions, with apt-get, PATH and the user id replaced (nothing is installed)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools import debian


class FakeSystem:
    """PATH (``on_path``), the user id, and apt-get: each ``apt-get install`` of a package in ``installs`` puts
    its commands on PATH (or its files in place) when ``install_works`` (after an ``update`` if ``needs_update``)."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        *,
        root: bool = True,
        apt: bool = True,
        needs_update: bool = False,
        installs: dict[str, Callable[[], None]] | None = None,
    ) -> None:
        self.on_path: dict[str, str] = {"apt-get": "/usr/bin/apt-get"} if apt else {}
        self.calls: list[list[str]] = []
        self.updated, self.needs_update = False, needs_update
        self.installs = installs or {}
        monkeypatch.setattr(debian.os, "geteuid", lambda: 0 if root else 1000)
        monkeypatch.setattr(debian.shutil, "which", self.on_path.get)
        monkeypatch.setattr(debian.subprocess, "run", self.run)

    def run(self, command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        if command == ["apt-get", "update"]:
            self.updated = True
            return subprocess.CompletedProcess(command, 0)
        package = command[-1]
        if package in self.installs and (self.updated or not self.needs_update):
            self.installs[package]()
            return subprocess.CompletedProcess(command, 0)
        return subprocess.CompletedProcess(command, 100)

    def provides(self, package: str, command: str) -> None:
        self.installs[package] = lambda: self.on_path.update({command: f"/usr/bin/{command}"})


INSTALL_WRK = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]


def test_a_present_command_is_returned_without_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch)
    system.on_path["wrk"] = "/opt/wrk"
    assert debian.ensure("wrk", "wrk") == "/opt/wrk"
    assert not system.calls


def test_another_name_of_the_command_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch)
    system.on_path["chromium-browser"] = "/usr/bin/chromium-browser"
    assert debian.ensure("chromium", "chromium", also=("chromium-browser",)) == "/usr/bin/chromium-browser"
    assert not system.calls


def test_a_missing_command_is_installed_as_root_without_recommends(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch)
    system.provides("wrk", "wrk")
    assert debian.ensure("wrk", "wrk") == "/usr/bin/wrk"
    assert system.calls == [INSTALL_WRK], "no apt-get update when the install works"


def test_apt_get_update_runs_once_when_the_install_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch, needs_update=True)
    system.provides("wrk", "wrk")
    assert debian.ensure("wrk", "wrk") == "/usr/bin/wrk"
    assert system.calls == [INSTALL_WRK, ["apt-get", "update"], INSTALL_WRK]


def test_a_package_that_does_not_install_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch)
    with pytest.raises(debian.MissingPackage, match=r"'wrkk'.*apt-cache policy wrkk"):
        debian.ensure("wrk", "wrkk")
    assert system.calls == [
        ["apt-get", "install", "-y", "--no-install-recommends", "wrkk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "wrkk"],
    ]


@pytest.mark.parametrize("root, apt", [(False, True), (True, False)], ids=["not root", "no apt-get"])
def test_without_root_or_apt_the_error_names_the_package_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, root: bool, apt: bool
) -> None:
    system = FakeSystem(monkeypatch, root=root, apt=apt)
    system.provides("wrk", "wrk")
    with pytest.raises(debian.MissingPackage) as raised:
        debian.ensure("wrk", "wrk")
    assert "Debian package 'wrk'" in str(raised.value)
    assert "apt-get install -y --no-install-recommends wrk" in str(raised.value)
    assert not system.calls


def test_a_package_without_the_command_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch)
    system.installs["chromium-common"] = lambda: None
    with pytest.raises(debian.MissingPackage, match="'chromium' is still not on PATH"):
        debian.ensure("chromium", "chromium-common")


def test_files_are_installed_only_when_one_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    control, library = tmp_path / "pgaudit.control", tmp_path / "pgaudit.so"
    library.touch()
    system = FakeSystem(monkeypatch, installs={"postgresql-15-pgaudit": control.touch})
    debian.ensure_files([library], "postgresql-15-pgaudit")
    assert not system.calls
    debian.ensure_files([control, library], "postgresql-15-pgaudit")
    assert system.calls == [["apt-get", "install", "-y", "--no-install-recommends", "postgresql-15-pgaudit"]]
    assert control.exists()


def test_files_still_missing_after_the_install_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeSystem(monkeypatch, installs={"postgresql-15-pgaudit": lambda: None})
    with pytest.raises(debian.MissingPackage, match=r"still missing: .*pgaudit\.so"):
        debian.ensure_files([tmp_path / "pgaudit.so"], "postgresql-15-pgaudit")
