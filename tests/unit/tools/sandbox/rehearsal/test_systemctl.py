"""The systemctl stand-in: units start from their files as systemd would start them, or fail naming what was wrong."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.tools.sandbox.rehearsal.support import SERVICE_USER, StandinRoot, service_uid
from tools.sandbox.rehearsal.standin_programs.systemctl import UnitError, parse_env_file

ONESHOT = """[Unit]
Description=test oneshot

[Service]
Type=oneshot
RemainAfterExit=yes
User={user}
{extra}
ExecStart=/bin/sh -c {command!r}
StandardOutput=append:/var/log/test/oneshot.log
StandardError=inherit
"""
SERVICE = """[Unit]
Description=test service
{unit_extra}

[Service]
User={user}
{extra}
ExecStart=/bin/sh -c {command!r}
StandardOutput=append:/var/log/test/service.log
StandardError=inherit

[Install]
WantedBy=multi-user.target
"""


def oneshot(root: StandinRoot, name: str, command: str, extra: str = "") -> None:
    root.unit(name, ONESHOT.format(user=SERVICE_USER, extra=extra, command=command))


def service(root: StandinRoot, name: str, command: str, extra: str = "", unit_extra: str = "") -> None:
    root.unit(name, SERVICE.format(user=SERVICE_USER, extra=extra, command=command, unit_extra=unit_extra))


def wait_for(predicate: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def pid_of(root: StandinRoot, unit: str) -> int:
    return int(root.read(f"/run/standin-systemd/{unit}.pid"))


def test_a_oneshot_runs_as_its_user_with_its_environment(root: StandinRoot) -> None:
    root.write(
        "/etc/app/common.env",
        '# settings\nPLAIN=one two  \nQUOTED="a \\"b\\" $HOME"\nSINGLE=\'$literal\'\n\n; other comment\n'
        "CONTINUED=first\\\n second\n",
    )
    oneshot(
        root,
        "app-migrate.service",
        'echo "uid=$(id -u) plain=[$PLAIN] quoted=[$QUOTED] single=[$SINGLE] cont=[$CONTINUED] env=[$FROM_UNIT]"',
        extra="EnvironmentFile=/etc/app/common.env\nEnvironmentFile=-/etc/app/optional.env\nEnvironment=FROM_UNIT=yes",
    )
    result = root.run("systemctl", "start", "app-migrate.service")
    assert result.returncode == 0, result.stderr
    assert root.read("/var/log/test/oneshot.log") == (
        f'uid={service_uid()} plain=[one two] quoted=[a "b" $HOME] single=[$literal] cont=[first second] env=[yes]\n'
    )
    assert root.run("systemctl", "is-active", "app-migrate").stdout == "active\n"
    show = root.run("systemctl", "show", "-p", "ActiveState", "--value", "app-migrate.service")
    assert show.stdout == "active\n"


def test_a_unit_with_an_unknown_key_fails_on_verify_and_does_not_run(root: StandinRoot) -> None:
    oneshot(root, "typo.service", "echo ran", extra="ExecStartt=/bin/true")
    result = root.run("systemctl", "start", "typo.service")
    assert result.returncode == 1
    assert "typo.service: systemd-analyze verify printed warnings (exit 0)" in result.stderr
    assert "Unknown key 'ExecStartt' in section [Service], ignoring." in result.stderr
    assert not (root.path / "var/log/test/oneshot.log").exists()
    assert root.run("systemctl", "is-active", "typo.service").returncode == 3


def test_a_missing_command_fails_on_verify(root: StandinRoot) -> None:
    root.unit("gone.service", "[Service]\nType=oneshot\nExecStart=/opt/app/venv/bin/no-such-command\n")
    result = root.run("systemctl", "start", "gone")
    assert result.returncode == 1
    assert "Command /opt/app/venv/bin/no-such-command is not executable" in result.stderr


def test_a_directive_the_standin_does_not_model_fails_naming_it(root: StandinRoot) -> None:
    oneshot(root, "cond.service", "echo ran", extra="Nice=5")
    result = root.run("systemctl", "start", "cond.service")
    assert result.returncode == 1
    assert "cond.service: [Service] Nice= is not modelled by the systemctl stand-in" in result.stderr


def test_hardening_is_accepted_and_said_not_enforced(root: StandinRoot) -> None:
    oneshot(root, "hard.service", "echo ran", extra="ProtectSystem=strict\nNoNewPrivileges=yes\nPrivateTmp=yes")
    result = root.run("systemctl", "start", "hard.service")
    assert result.returncode == 0, result.stderr
    assert "hard.service: accepted, NOT enforced by the stand-in: NoNewPrivileges, PrivateTmp, ProtectSystem" in (
        result.stderr
    )


def test_a_failing_oneshot_fails_its_dependent_which_never_starts(root: StandinRoot) -> None:
    oneshot(root, "app-migrate.service", "echo 'relation payments does not exist' >&2; exit 3")
    service(
        root,
        "app.service",
        "echo started; exec sleep 60",
        unit_extra="Requires=app-migrate.service\nAfter=app-migrate.service",
    )
    result = root.run("systemctl", "enable", "--now", "app.service")
    assert result.returncode == 1
    assert "A dependency job for app.service failed." in result.stderr
    assert "app.service: Requires=app-migrate.service, which failed:" in result.stderr
    assert "Job for app-migrate.service failed because the control process exited with error code." in result.stderr
    assert "app-migrate.service: ExecStart=/bin/sh -c echo 'relation payments" in result.stderr
    assert "exited with status 3" in result.stderr
    assert "last 1 lines of app-migrate.service's output" in result.stderr
    assert "relation payments does not exist" in result.stderr, "the tail of the unit's output is shown"
    assert not (root.path / "var/log/test/service.log").exists(), "the dependent never ran"
    states = root.run("systemctl", "is-active", "app-migrate.service", "app.service")
    assert (states.stdout, states.returncode) == ("failed\nfailed\n", 3)


def test_requires_without_after_is_refused(root: StandinRoot) -> None:
    oneshot(root, "first.service", "true")
    service(root, "second.service", "exec sleep 60", unit_extra="Requires=first.service")
    result = root.run("systemctl", "start", "second.service")
    assert result.returncode == 1
    assert "second.service: Requires=first.service without After=first.service: systemd starts both at once" in (
        result.stderr
    )


def test_a_service_starts_detached_as_its_user_after_its_requirements(root: StandinRoot) -> None:
    oneshot(root, "app-migrate.service", "echo migrated")
    service(
        root,
        "app.service",
        'echo "serving as $(id -u)"; exec sleep 60',
        unit_extra="Requires=app-migrate.service\nAfter=app-migrate.service",
    )
    result = root.run("systemctl", "enable", "--now", "app.service")
    assert result.returncode == 0, result.stderr
    link = root.path / "etc/systemd/system/multi-user.target.wants/app.service"
    assert os.readlink(link) == "/etc/systemd/system/app.service"
    assert root.read("/var/log/test/oneshot.log") == "migrated\n"
    pid = pid_of(root, "app.service")
    assert Path(f"/proc/{pid}").stat().st_uid == service_uid()
    assert os.getsid(pid) != os.getsid(0), "started in a session of its own (setsid), outliving systemctl"
    wait_for(lambda: "serving as" in root.read("/var/log/test/service.log"))
    assert root.read("/var/log/test/service.log") == f"serving as {service_uid()}\n"
    assert root.run("systemctl", "show", "-p", "MainPID", "app").stdout == f"MainPID={pid}\n"
    stopped = root.run("systemctl", "stop", "app.service")
    assert stopped.returncode == 0, stopped.stderr
    wait_for(
        lambda: (
            not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split()[2]
        )
    )
    assert root.run("systemctl", "is-active", "app.service").stdout == "inactive\n"


def test_restart_always_restarts_a_service_that_dies(root: StandinRoot) -> None:
    service(root, "flaky.service", "echo up; exec sleep 60", extra="Restart=always\nRestartSec=100ms")
    assert root.run("systemctl", "start", "flaky").returncode == 0
    first = pid_of(root, "flaky.service")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: pid_of(root, "flaky.service") != first)
    wait_for(lambda: root.read("/var/log/test/service.log") == "up\nup\n")
    assert root.run("systemctl", "is-active", "flaky").stdout == "active\n"


def test_a_service_that_keeps_failing_hits_the_start_limit(root: StandinRoot) -> None:
    service(root, "crash.service", "exit 1", extra="Restart=on-failure\nRestartSec=10ms")
    root.run("systemctl", "start", "crash")
    wait_for(lambda: root.run("systemctl", "is-active", "crash").stdout == "failed\n")
    assert "start request repeated too quickly" in root.read("/run/standin-systemd/crash.service.result")


def test_load_credential_is_readable_by_the_units_user_only(root: StandinRoot) -> None:
    root.write("/etc/app/db.env", "PASSWORD=s3cret\n", mode=0o600)
    service(
        root,
        "cred.service",
        'cat "$CREDENTIALS_DIRECTORY/db"; exec sleep 60',
        extra="LoadCredential=db:/etc/app/db.env",
    )
    assert root.run("systemctl", "start", "cred.service").returncode == 0
    wait_for(lambda: "PASSWORD" in root.read("/var/log/test/service.log"))
    assert root.read("/var/log/test/service.log") == "PASSWORD=s3cret\n", "the unit's user reads it"
    directory = root.path / "run/credentials/cred.service"
    credential = directory / "db"
    assert (stat.S_IMODE(directory.stat().st_mode), directory.stat().st_uid) == (0o500, service_uid())
    assert (stat.S_IMODE(credential.stat().st_mode), credential.stat().st_uid) == (0o400, service_uid())
    other = subprocess.run(["cat", str(credential)], user="nobody", capture_output=True, text=True, check=False)
    assert other.returncode != 0 and "Permission denied" in other.stderr, "another user cannot"
    root.run("systemctl", "stop", "cred.service")
    assert not directory.exists(), "removed when the unit stops"


def test_a_missing_environment_file_or_credential_fails_naming_it(root: StandinRoot) -> None:
    oneshot(root, "noenv.service", "true", extra="EnvironmentFile=/etc/app/missing.env")
    result = root.run("systemctl", "start", "noenv")
    assert result.returncode == 1
    assert "noenv.service: EnvironmentFile=/etc/app/missing.env: no such file" in result.stderr
    oneshot(root, "nocred.service", "true", extra="LoadCredential=db:/etc/app/missing")
    result = root.run("systemctl", "start", "nocred")
    assert "nocred.service: LoadCredential=db:/etc/app/missing: /etc/app/missing is not a readable file" in (
        result.stderr
    )


def test_prefixes_and_exec_start_pre(root: StandinRoot) -> None:
    oneshot(root, "pre.service", "echo main", extra="ExecStartPre=-/bin/false\nExecStartPre=/bin/sh -c 'echo pre'")
    assert root.run("systemctl", "start", "pre").returncode == 0
    assert root.read("/var/log/test/oneshot.log") == "pre\nmain\n", "'-' ignores the failure, order kept"
    oneshot(root, "badpre.service", "echo main", extra="ExecStartPre=/bin/sh -c 'echo no; exit 2'")
    result = root.run("systemctl", "start", "badpre")
    assert "badpre.service: ExecStartPre=/bin/sh -c echo no; exit 2 exited with status 2" in result.stderr


def test_a_timer_is_verified_and_runs_nothing(root: StandinRoot) -> None:
    oneshot(root, "rotate.service", "echo rotated")
    root.unit(
        "rotate.timer", "[Unit]\nDescription=t\n\n[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n"
    )
    result = root.run("systemctl", "enable", "--now", "rotate.timer")
    assert result.returncode == 0, result.stderr
    assert "rotate.timer: active, triggers rotate.service (OnCalendar=daily); the stand-in schedules nothing" in (
        result.stderr
    )
    assert (root.path / "etc/systemd/system/timers.target.wants/rotate.timer").is_symlink()
    assert not (root.path / "var/log/test/oneshot.log").exists()
    root.unit("bad.timer", "[Timer]\nOnCalendar=every tuesday-ish\n")
    oneshot(root, "bad.service", "true")
    assert "Failed to parse" in root.run("systemctl", "start", "bad.timer").stderr


def test_enable_without_install_section_warns_and_unknown_verbs_fail(root: StandinRoot) -> None:
    oneshot(root, "plain.service", "true")
    result = root.run("systemctl", "enable", "plain.service")
    assert result.returncode == 0
    assert "The unit files have no installation config" in result.stderr
    assert "Unit nothere.service not found." in root.run("systemctl", "start", "nothere").stderr
    assert "Unknown command verb 'reload-or-restart'" in root.run("systemctl", "reload-or-restart", "x").stderr
    assert root.run("systemctl", "daemon-reload").returncode == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("export A=1\n", "'export A=1' is not a KEY=VALUE assignment systemd accepts"),
        ("A B=1\n", "'A B=1' is not a KEY=VALUE"),
        ("JUSTAKEY\n", "'JUSTAKEY' is not a KEY=VALUE"),
        ('A="unterminated\n', 'unterminated " quote'),
    ],
)
def test_an_environment_file_line_systemd_would_skip_is_an_error(text: str, message: str) -> None:
    with pytest.raises(UnitError, match=message.replace("(", r"\(")):
        parse_env_file(text, "/etc/app/x.env")


def test_env_file_values_follow_systemds_quoting() -> None:
    parsed = parse_env_file(
        "A = spaced  \nB=\"multi\nline\"\nC='it''s'\nD=esc\\ aped\nE=\"keep \\n and \\$\"\n", "/etc/app/x.env"
    )
    assert parsed == {"A": "spaced", "B": "multi\nline", "C": "its", "D": "esc aped", "E": "keep \\n and $"}


def test_units_get_systemds_clean_environment_plus_default_environment(root: StandinRoot) -> None:
    root.write("/etc/systemd/system.conf", '[Manager]\nDefaultEnvironment="AWS_ENDPOINT_URL=http://10.200.0.1:5000"\n')
    oneshot(root, "env.service", 'echo "endpoint=[$AWS_ENDPOINT_URL] caller=[$FROM_CALLER] path=[$PATH] home=[$HOME]"')
    command = ["/usr/bin/python3", str(root.path / "usr/bin/systemctl"), "start", "env.service"]
    env = {**os.environ, "STANDIN_ROOT": str(root.path), "FROM_CALLER": "leaked"}
    assert subprocess.run(command, env=env, check=False, capture_output=True).returncode == 0
    home = Path(os.path.expanduser(f"~{SERVICE_USER}"))
    assert root.read("/var/log/test/oneshot.log") == (
        f"endpoint=[http://10.200.0.1:5000] caller=[] path=[/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin] "
        f"home=[{home}]\n"
    )


def test_a_required_unit_that_does_not_exist_fails_on_verify(root: StandinRoot) -> None:
    oneshot(root, "lonely.service", "true", extra="")
    text = (root.path / "etc/systemd/system/lonely.service").read_text(encoding="utf-8")
    root.unit("lonely.service", text.replace("[Unit]\n", "[Unit]\nRequires=db.service\nAfter=db.service\n"))
    result = root.run("systemctl", "start", "lonely.service")
    assert result.returncode == 1
    assert "lonely.service: systemd-analyze verify failed (exit 1):" in result.stderr
    assert "Failed to create lonely.service/start: Unit db.service not found." in result.stderr


# The hardening block the boot's units carry today (lib/blocks/templates/payment_api_user_data.sh, HARDENING).
BOOT_HARDENING = """NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
IPAddressDeny=169.254.169.254/32
UMask=0077"""


def test_the_boots_hardened_units_start_and_umask_applies(root: StandinRoot) -> None:
    oneshot(root, "app-migrate.service", "echo migrated", extra=BOOT_HARDENING)
    service(
        root,
        "app.service",
        "umask; exec sleep 60",
        extra=f"Restart=always\nRestartSec=2\n{BOOT_HARDENING}",
        unit_extra="Requires=app-migrate.service\nAfter=app-migrate.service",
    )
    result = root.run("systemctl", "enable", "--now", "app.service")
    assert result.returncode == 0, result.stderr
    assert "NOT enforced by the stand-in: AmbientCapabilities, CapabilityBoundingSet, IPAddressDeny" in result.stderr
    wait_for(lambda: (root.path / "var/log/test/service.log").exists() and root.read("/var/log/test/service.log") != "")
    assert root.read("/var/log/test/service.log") == "0077\n"
    assert stat.S_IMODE((root.path / "var/log/test/service.log").stat().st_mode) == 0o600, "created under UMask=0077"


def test_the_credentials_root_is_traversable_whatever_made_it(root: StandinRoot) -> None:
    """systemd's /run/credentials is 0755; the boot runs under umask 077, which made it 0700 and kept the unit's
    user out of its own folder (the payment API refused to start: Permission denied)."""
    root.write("/etc/app/db.env", "PASSWORD=s3cret\n", mode=0o600)
    (root.path / "run/credentials").mkdir(parents=True, mode=0o700, exist_ok=True)
    (root.path / "run/credentials").chmod(0o700)
    service(
        root,
        "cred2.service",
        'cat "$CREDENTIALS_DIRECTORY/db"; exec sleep 60',
        extra="LoadCredential=db:/etc/app/db.env",
    )
    assert root.run("systemctl", "start", "cred2.service").returncode == 0
    wait_for(lambda: "PASSWORD" in root.read("/var/log/test/service.log"))
    assert stat.S_IMODE((root.path / "run/credentials").stat().st_mode) == 0o755
    root.run("systemctl", "stop", "cred2.service")
