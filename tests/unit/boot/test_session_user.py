"""The Session Manager user on both hosts (issue 28 item 4): ``boot/session-user.sh``'s function run for real with
bash against stand-in ``id`` and ``useradd`` on PATH, and both hosts' boots calling that one function (the preferences
are account-wide, so the migration host's sessions run as ssm-user too)."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

BOOT = Path(__file__).resolve().parents[3] / "services" / "payment_api" / "boot"
# `id NAME` succeeds when $USERS/NAME exists; `useradd ... NAME` creates it and records its arguments.
FAKE_ID = '#!/bin/bash\n[ -e "$USERS/${!#}" ]\n'
FAKE_USERADD = '#!/bin/bash\necho "$*" >>"$USERS/useradd.log"\ntouch "$USERS/${!#}"\n'


def _run(tmp_path: Path, *, user_exists: bool) -> tuple[str, Path]:
    bin_dir, users, sudoers = tmp_path / "bin", tmp_path / "users", tmp_path / "sudoers.d"
    for folder in (bin_dir, users, sudoers):
        folder.mkdir()
    for name, text in (("id", FAKE_ID), ("useradd", FAKE_USERADD)):
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755 | stat.S_IXUSR)
    if user_exists:
        (users / "ssm-user").touch()
    agent_sudoers = sudoers / "ssm-agent-users"
    agent_sudoers.write_text("ssm-user ALL=(ALL) NOPASSWD:ALL\n", encoding="utf-8")
    script = f'set -Eeuo pipefail; . "{BOOT / "session-user.sh"}"; session_user_without_sudo; echo "$SESSION_USER"'
    done = subprocess.run(
        ["/bin/bash", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "USERS": str(users), "SSM_SUDOERS": str(agent_sudoers)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert not agent_sudoers.exists(), "the agent's passwordless sudo is removed"
    log = users / "useradd.log"
    return done.stdout.strip(), log


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_a_missing_session_user_is_created_without_sudo(tmp_path: Path) -> None:
    user, log = _run(tmp_path, user_exists=False)
    assert user == "ssm-user"
    assert log.read_text(encoding="utf-8").split() == ["--create-home", "--shell", "/bin/bash", "ssm-user"]


def test_an_existing_session_user_is_kept_and_loses_the_agents_sudo(tmp_path: Path) -> None:
    _, log = _run(tmp_path, user_exists=True)
    assert not log.exists()


@pytest.mark.pci("7.2, 8.2, 8.6")
@pytest.mark.parametrize("script", ["hardening.sh", "migration-host.sh"])
def test_both_hosts_share_the_one_function(script: str) -> None:
    text = (BOOT / script).read_text(encoding="utf-8")
    assert '. "$BOOT/session-user.sh"' in text
    assert re.search(r"^session_user_without_sudo$", text, re.M), script
    # Shared, not copied: the user is created and the agent's sudoers removed in session-user.sh only.
    for path in BOOT.glob("*.sh"):
        if path.name != "session-user.sh":
            body = path.read_text(encoding="utf-8")
            assert "ssm-agent-users" not in body.replace("(/etc/sudoers.d/ssm-agent-users)", ""), path.name
            assert not re.search(r"useradd .*(SESSION_USER|ssm-user)", body), path.name


def test_the_migration_host_sources_it_after_prepare() -> None:
    """``$BOOT`` is set by boot/prepare.sh, which the migration host sources first."""
    text = (BOOT / "migration-host.sh").read_text(encoding="utf-8")
    assert text.index('. "$APP/boot/prepare.sh"') < text.index('. "$BOOT/session-user.sh"')
