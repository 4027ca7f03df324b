"""The sandbox's host address (``tools.sandbox.stripe_emulator.HostAddress``): a run killed before its clean-up
leaves the address on ``lo``; the next run takes it over instead of failing, and a run still using it is left alone.

A CI run once failed in its sandbox step with "cannot add 10.213.0.1/32 to lo: Address already assigned": an earlier
run on the machine had been killed mid-cycle, and the check meant to catch that compared ``10.213.0.1`` with
``ip -o addr``'s ``10.213.0.1/32``, so it never matched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.sandbox.stripe_emulator import HostAddress, SandboxStripeError

# In the rehearsal's 10.213.0.0/16, index 0 (no boot's); the sandbox uses .1 and the boot rehearsal tests .2.
ADDRESS = "10.213.0.3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="adding an address to lo needs root and iproute2"
)


def _on_lo() -> bool:
    listed = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    return f"{ADDRESS}/32" in listed.stdout.split()


@pytest.fixture(autouse=True)
def _clean_lo() -> Iterator[None]:
    subprocess.run(["ip", "addr", "del", f"{ADDRESS}/32", "dev", "lo"], capture_output=True, check=False)
    yield
    subprocess.run(["ip", "addr", "del", f"{ADDRESS}/32", "dev", "lo"], capture_output=True, check=False)


def test_an_address_is_added_and_removed(tmp_path: Path) -> None:
    host = HostAddress(ADDRESS, lock_dir=tmp_path)
    host.add()
    assert _on_lo() and host.present()
    host.remove()
    assert not _on_lo() and not host.present()


def test_an_address_left_by_a_killed_run_is_taken_over_and_removed_at_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)  # what a killed run leaves
    host = HostAddress(ADDRESS, lock_dir=tmp_path)
    host.add()
    assert "left on the host by a run that ended without removing it" in capsys.readouterr().out
    assert _on_lo()
    host.remove()
    assert not _on_lo()


def test_an_address_in_use_by_a_live_run_is_refused_and_left_alone(tmp_path: Path) -> None:
    holder = HostAddress(ADDRESS, lock_dir=tmp_path)
    holder.add()
    try:
        # Another process (a second sandbox run) tries the same address while the first still holds it.
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from tools.sandbox.stripe_emulator import HostAddress, "
                "SandboxStripeError\ntry:\n    HostAddress(sys.argv[1], lock_dir=Path(sys.argv[2])).add()\n"
                "except SandboxStripeError as err:\n    print(err)\n    sys.exit(3)",
                ADDRESS,
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
            timeout=60,
        )
        assert other.returncode == 3, other.stdout + other.stderr
        assert f"pid {os.getpid()}" in other.stdout and "run one at a time" in other.stdout
        assert _on_lo(), "the refused run must not remove the address the live run uses"
    finally:
        holder.remove()
    assert not _on_lo()


def test_a_refused_add_holds_no_lock(tmp_path: Path) -> None:
    """Refused in the same process too (a second HostAddress), and the refusal leaves the first one's lock alone."""
    first = HostAddress(ADDRESS, lock_dir=tmp_path)
    first.add()
    with pytest.raises(SandboxStripeError, match="in use by another sandbox run"):
        HostAddress(ADDRESS, lock_dir=tmp_path).add()
    first.remove()
    second = HostAddress(ADDRESS, lock_dir=tmp_path)
    second.add()
    second.remove()
    assert not _on_lo()
