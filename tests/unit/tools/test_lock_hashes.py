"""Every Python lock carries hashes and every install of one uses --require-hashes: a lock without hashes, or a
changed hash, fails the install step with a message naming the package and the fix.

pip runs offline here (``--no-index``, a wheel built in the test), and the index the rewrite reads is a stub on
loopback.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.release import build_artifact as artifact
from tools.release import lock_hashes

DIGESTS = {"six-1.17.0-py2.py3-none-any.whl": "a" * 64, "six-1.17.0.tar.gz": "b" * 64, "six-1.16.0.tar.gz": "c" * 64}


@pytest.mark.pci("6.3.2")
def test_every_lock_carries_hashes() -> None:
    assert lock_hashes.check() == []
    pins = {lock.name: len(lock_hashes.parse(lock)) for lock in lock_hashes.LOCKS}
    assert all(count > 0 for count in pins.values()), pins


@pytest.mark.pci("6.3.2")
def test_every_install_of_a_lock_requires_hashes() -> None:
    """make setup, the checkov and pip-audit venvs, the rehearsal's AWS CLI venv and the instance's boot."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install ([^\n]*)-r (\S+)", makefile)
    assert {lock.rstrip(",") for _, lock in installs} == {
        "requirements-dev.txt",
        "requirements-checkov.txt",
        "requirements-audit.txt",
    }
    assert all("--require-hashes" in options for options, _ in installs), installs
    assert "$(PYTHON) -m tools.release.lock_hashes --check requirements.txt requirements-dev.txt" in makefile
    # The local packages: a second step, without their dependencies (pip refuses editable lines under hashes).
    assert "pip install --no-deps --no-build-isolation -e ./services/contract -e ./services/payment_api" in makefile
    harness = (ROOT / "tools/sandbox/rehearsal/harness.py").read_text(encoding="utf-8")
    assert '"install", "-q", "--require-hashes", "-r", str(AWS_CLI_REQUIREMENTS)' in harness
    boot = (ROOT / "lib/blocks/templates/bootstrap.sh").read_text(encoding="utf-8")
    assert '--require-hashes -r "$APP/requirements.lock"' in boot and "--no-index" in boot


def test_a_lock_without_hashes_is_refused_naming_the_line_and_the_fix(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("# tools\nsix==1.17.0\nrsa==4.7.2 \\\n    --hash=sha256:" + "0" * 64 + "\n", encoding="utf-8")
    assert lock_hashes.check((lock,)) == [
        "requirements.txt:2: six==1.17.0 has no --hash; run `python -m tools.release.lock_hashes <lock>` "
        '(docs/developing.md, "Updating a Python lock")'
    ]
    editable = tmp_path / "editable.txt"
    editable.write_text("-e ./services/contract\n", encoding="utf-8")
    assert "second --no-deps step" in lock_hashes.check((editable,))[0]
    result = subprocess.run(
        [sys.executable, "-m", "tools.release.lock_hashes", "--check", str(lock)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1 and "six==1.17.0 has no --hash" in result.stderr


def _pip_install(lock: Path, wheels: Path, target: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "--require-hashes"]
    command += ["--target", str(target), "--quiet", "-r", str(lock)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.pci("6.3.2")
def test_a_changed_hash_fails_the_install(tmp_path: Path) -> None:
    """pip --require-hashes (as every install runs) refuses a wheel whose sha256 the lock does not list."""
    wheel = artifact.build_wheel(tmp_path, artifact.CONTRACT)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"tap-contract==0.1.0 \\\n    --hash=sha256:{'0' * 64}\n", encoding="utf-8")
    refused = _pip_install(lock, tmp_path, tmp_path / "refused")
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr
    assert f"Got        {digest}" in refused.stderr
    lock.write_text(f"tap-contract==0.1.0 \\\n    --hash=sha256:{digest}\n", encoding="utf-8")
    assert _pip_install(lock, tmp_path, tmp_path / "installed").returncode == 0
    lock.write_text("tap-contract==0.1.0\n", encoding="utf-8")
    unhashed = _pip_install(lock, tmp_path, tmp_path / "unhashed")
    assert unhashed.returncode != 0 and "Hashes are required in --require-hashes mode" in unhashed.stderr


class Index(BaseHTTPRequestHandler):
    """PEP 691 JSON of one project, six, with files of two versions."""

    def do_GET(self) -> None:  # pylint: disable=invalid-name  # http.server's handler name
        files = [{"filename": name, "hashes": {"sha256": digest}} for name, digest in DIGESTS.items()]
        body = json.dumps({"name": "six", "files": files} if self.path == "/six/" else {}).encode()
        self.send_response(200 if self.path == "/six/" else 404)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin  # base signature
        return


@pytest.fixture(name="index")
def stub_index() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_rewrite_adds_the_hashes_of_every_file_of_the_pinned_version(tmp_path: Path, index: str) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("# keep me\n-r other.txt\nsix==1.17.0 \\\n    --hash=sha256:" + "f" * 64 + "\n", encoding="utf-8")
    assert lock_hashes.rewrite(lock, index) == 1
    assert lock.read_text(encoding="utf-8") == (
        f"# keep me\n-r other.txt\nsix==1.17.0 \\\n    --hash=sha256:{'a' * 64} \\\n    --hash=sha256:{'b' * 64}\n"
    )
    lock.write_text("rsa==4.7.2\n", encoding="utf-8")
    with pytest.raises(lock_hashes.LockError, match=r"rsa==4\.7\.2: cannot read"):
        lock_hashes.rewrite(lock, index)
    assert lock.read_text(encoding="utf-8") == "rsa==4.7.2\n"  # nothing written
