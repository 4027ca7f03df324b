"""File-integrity monitoring on the API instances (issue 28 item 4): ``boot/integrity-check.sh`` run for real with
bash against a stand-in ``aide`` on PATH that exits with a chosen status (AIDE's exit code is a bitmask: 1 added, 2
removed, 4 changed; 14-19 its errors), and the timer and service units checked by ``systemd-analyze verify``. The boot
rehearsal runs the real AIDE on a booted instance (tests/sandbox/test_boot_rehearsal.py)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lib.components.file_integrity import FINDINGS_PATTERN
from tests.unit.components.test_file_integrity import matches
from tests.unit.tools.sandbox.rehearsal.support import skip_unless_root_with_systemd

BOOT = Path(__file__).resolve().parents[3] / "services" / "payment_api" / "boot"
SCRIPT = BOOT / "integrity-check.sh"
UNITS = ("payment-api-integrity.service", "payment-api-integrity.timer")
# The stand-in prints a two-line report and exits with $AIDE_STATUS; it records its arguments.
FAKE_AIDE = """#!/bin/bash
echo "$*" >>"$CALLS"
printf 'AIDE found differences between database and filesystem!!\\n\\nf+++++++++++++++++: /opt/payment-api/evil\\n'
exit "$AIDE_STATUS"
"""


def _check(tmp_path: Path, status: int | None) -> list[str]:
    """Run the script with an ``aide`` exiting ``status`` (None: no aide on PATH); the log's lines, times removed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("date", "nice", "timeout", "mktemp", "head", "tail", "tr", "rm", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).unlink(missing_ok=True)
        (bin_dir / tool).symlink_to(found)
    aide = bin_dir / "aide"
    aide.unlink(missing_ok=True)
    if status is not None:
        aide.write_text(FAKE_AIDE, encoding="utf-8")
        aide.chmod(aide.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "file-integrity.log"
    log.unlink(missing_ok=True)
    env = {"PATH": str(bin_dir), "CALLS": str(tmp_path / "calls.log"), "AIDE_STATUS": str(status or 0)}
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT), str(log)], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert all(line[:21].endswith("Z ") and line[21:].startswith("file-integrity: ") for line in lines), lines
    return [line[21:] for line in lines]


def test_a_clean_check_writes_one_line_the_filter_does_not_count(tmp_path: Path) -> None:
    assert _check(tmp_path, 0) == ["file-integrity: no differences"]
    assert not matches(FINDINGS_PATTERN, "file-integrity: no differences")
    assert (tmp_path / "calls.log").read_text(encoding="utf-8").split() == ["--config=/etc/aide.conf", "--check"]


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize(
    ("status", "kinds"),
    [
        (1, ["added"]),
        (2, ["removed"]),
        (4, ["changed"]),
        (5, ["added", "changed"]),
        (7, ["added", "removed", "changed"]),
    ],
)
def test_each_bit_of_aides_exit_code_is_a_finding_line_then_the_report(
    tmp_path: Path, status: int, kinds: list[str]
) -> None:
    lines = _check(tmp_path, status)
    findings = [f"file-integrity: finding: {kind} entries" for kind in kinds]
    assert lines[: len(kinds)] == findings
    assert "file-integrity: report: f+++++++++++++++++: /opt/payment-api/evil" in lines[len(kinds) :]
    assert [line for line in lines if matches(FINDINGS_PATTERN, line)] == findings


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize(
    ("status", "said"), [(17, "aide --check exited 17: AIDE found"), (None, "aide is not installed")]
)
def test_a_check_that_cannot_run_is_a_counted_failure(tmp_path: Path, status: int | None, said: str) -> None:
    lines = _check(tmp_path, status)
    assert len(lines) == 1 and lines[0].startswith(f"file-integrity: check failed: {said}"), lines
    assert matches(FINDINGS_PATTERN, lines[0])


def test_the_timer_and_its_service_verify_silently(tmp_path: Path) -> None:
    skip_unless_root_with_systemd()
    for unit in UNITS:
        shutil.copy(BOOT / unit, tmp_path / unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / unit) for unit in UNITS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    timer = (BOOT / "payment-api-integrity.timer").read_text(encoding="utf-8")
    assert "OnCalendar=hourly" in timer and "Persistent=true" in timer
    service = (BOOT / "payment-api-integrity.service").read_text(encoding="utf-8")
    assert "Type=oneshot" in service and "TimeoutStartSec=20min" in service
    assert "ReadWritePaths=/var/log/os-security\n" in service and "ProtectSystem=strict" in service


def _real_aide() -> None:
    """The host's AIDE (Debian's, installed as the boot rehearsal installs it), or the test is skipped, saying why."""
    from tools.debian import MissingPackage, ensure  # pylint: disable=import-outside-toplevel

    try:
        ensure("aide", "aide")
    except MissingPackage as err:
        pytest.skip(f"the real AIDE is not installed here: {err}")


@pytest.mark.pci("10.7, 11.5")
def test_the_boots_configuration_with_the_real_aide_finds_a_changed_and_an_added_file(tmp_path: Path) -> None:
    """integrity.sh's ``aide_configuration`` (the function itself, read from the script) over a stand-in service tree,
    initialised and checked with the host's AIDE through integrity-check.sh: the unchanged tree reports no difference;
    a changed file and an added one are the two findings the alarm's filter counts, and the report names both."""
    _real_aide()
    app, database = tmp_path / "opt" / "payment-api", tmp_path / "aide"
    (app / "boot").mkdir(parents=True)
    database.mkdir()
    (app / "boot" / "configure.sh").write_text("echo configure\n", encoding="utf-8")
    (app / "manifest.json").write_text("{}\n", encoding="utf-8")
    conf = tmp_path / "aide.conf"
    write = (
        f'source <(sed -n "/^aide_configuration() {{/,/^}}/p" "{BOOT / "integrity.sh"}")\n'
        f'APP="{app}" AIDE_CONF="{conf}" AIDE_DB_DIR="{database}"\n'
        f'aide_configuration >"{conf}"\n'
        f'aide --config="{conf}" --init >/dev/null && mv "{database}/aide.db.new.gz" "{database}/aide.db.gz"\n'
    )
    done = subprocess.run(["/bin/bash", "-c", write], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"\n{app} SERVICE\n" in conf.read_text(encoding="utf-8")
    log = tmp_path / "file-integrity.log"

    def check() -> list[str]:
        before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
        ran = subprocess.run(
            ["/bin/bash", str(SCRIPT), str(log)],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AIDE_CONF": str(conf)},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        return [line[21:] for line in log.read_text(encoding="utf-8").splitlines()[before:]]

    assert check() == ["file-integrity: no differences"]
    with (app / "boot" / "configure.sh").open("a", encoding="utf-8") as script:
        script.write("echo changed after the boot\n")
    (app / "boot" / "extra.sh").write_text("echo extra\n", encoding="utf-8")
    found = check()
    assert [line for line in found if matches(FINDINGS_PATTERN, line)] == [
        "file-integrity: finding: added entries",
        "file-integrity: finding: changed entries",
    ], found
    report = "\n".join(found)
    assert f"{app}/boot/extra.sh" in report and f"{app}/boot/configure.sh" in report
