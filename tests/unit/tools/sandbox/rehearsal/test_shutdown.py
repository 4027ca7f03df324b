"""The shutdown stand-in (tools/sandbox/rehearsal/standin_programs/shutdown.py): a power-off now is recorded for the
migration phase, anything else is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.sandbox.rehearsal.standin_programs import shutdown
from tools.sandbox.rehearsal.standins import FILES

PROGRAM = Path(shutdown.__file__)


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROGRAM), *args],
        env={"STANDIN_ROOT": str(root)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_a_power_off_now_is_recorded(tmp_path: Path) -> None:
    done = run(tmp_path, "-h", "now")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / shutdown.RECORD).read_text().rstrip().endswith("shutdown -h now")


@pytest.mark.parametrize("args", [("-r", "now"), ("-h", "+1"), ("-c",), ("now",)])
def test_anything_else_is_refused_and_not_recorded(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 1 and "only a power-off now is rehearsed" in done.stderr
    assert not (tmp_path / shutdown.RECORD).exists()


def test_it_is_installed_where_the_script_finds_it() -> None:
    assert ("/usr/sbin/shutdown", PROGRAM) in [(path, source) for path, source, _mode, _why in FILES]
