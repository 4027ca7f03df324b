"""A stand-in root per test: ``install_standins`` into a fresh directory; services a test starts are stopped at its
end, by the pids the stand-in recorded."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.tools.sandbox.rehearsal.support import StandinRoot, skip_unless_root_with_systemd, stop_started_services
from tools.sandbox.rehearsal.standins import install_standins


@pytest.fixture
def root() -> Iterator[StandinRoot]:
    skip_unless_root_with_systemd()
    # Not tmp_path: pytest's base directory is 0700, and a unit's User= must be able to enter its working directory.
    path = Path(tempfile.mkdtemp(prefix="standin-root-"))
    path.chmod(0o755)
    standin_root = StandinRoot(path=path, notes=install_standins(path))
    try:
        yield standin_root
    finally:
        stop_started_services(standin_root)
        shutil.rmtree(path)
