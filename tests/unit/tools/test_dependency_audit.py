"""``make audit`` against a local stub advisory source on loopback: an OSV-compatible ``/v1/query`` for pip-audit and
npm's bulk advisory endpoint for npm audit. A known-vulnerable pin fails the step; a source that does not answer is
said in one line, exits 0 and marks the roll-up "not audited"; clean locks pass.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.lint import dependency_audit as audit

# The stub's advisories: Python (name, version) and npm names it reports as vulnerable, unless it is "down".
PYTHON_ADVISORIES = frozenset({("six", "1.17.0")})
NPM_ADVISORIES = frozenset({"left-pad"})
STATE: dict[str, bool] = {"down": False}
HASH = "--hash=sha256:" + "0" * 64  # pip-audit --disable-pip reads hashed pins; it downloads nothing


class Advisories(BaseHTTPRequestHandler):
    """OSV's POST /v1/query and npm's POST /-/npm/v1/security/advisories/bulk, from STATE."""

    def do_POST(self) -> None:  # pylint: disable=invalid-name  # http.server's handler name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if STATE["down"]:
            self._answer(405 if "advisories" in self.path else 404, {})
        elif self.path == "/v1/query":
            query = json.loads(body)
            name, version = query["package"]["name"], query["version"]
            known = (name, version) in PYTHON_ADVISORIES
            self._answer(200, {"vulns": [_osv(name)]} if known else {})
        elif self.path.endswith("/-/npm/v1/security/advisories/bulk"):
            asked = json.loads(body)
            self._answer(200, {name: [_npm(name)] for name in asked if name in NPM_ADVISORIES})
        else:
            self._answer(404, {})

    def _answer(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin  # base signature
        return


def _osv(name: str) -> dict[str, object]:
    fixed = {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}
    return {
        "id": "GHSA-stub-0001",
        "summary": "stub",
        "affected": [{"package": {"name": name, "ecosystem": "PyPI"}, "ranges": [fixed]}],
    }


def _npm(name: str) -> dict[str, object]:
    return {
        "id": 1,
        "url": f"https://stub.invalid/advisories/{name}",
        "title": "stub",
        "severity": "high",
        "vulnerable_versions": "<99.0.0",
        "cwe": [],
        "cvss": {"score": 7.5, "vectorString": None},
    }


@pytest.fixture(name="stub")
def stub_server() -> Iterator[str]:
    """The stub on 127.0.0.1 (an ephemeral port); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Advisories)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    STATE["down"] = False
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def python_lock(folder: Path, *pins: str) -> Path:
    lock = folder / "requirements.lock"
    lock.write_text("".join(f"{pin} \\\n    {HASH}\n" for pin in pins), encoding="utf-8")
    return lock


def npm_lock(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": "t", "version": "1.0.0", "dependencies": {name: "1.0.0"}}))
    lock = {
        "name": "t",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "t", "version": "1.0.0", "dependencies": {name: "1.0.0"}},
            f"node_modules/{name}": {"version": "1.0.0", "resolved": f"https://stub.invalid/{name}-1.0.0.tgz"},
        },
    }
    path = folder / "package-lock.json"
    path.write_text(json.dumps(lock), encoding="utf-8")
    return path


def run_main(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, locks: tuple[Path, Path], stub: str
) -> tuple[int, str, str]:
    """``main`` on these locks against the stub: exit status, the roll-up's summary and result files."""
    summary, result = tmp_path / "summary", tmp_path / "result"
    monkeypatch.setattr(audit, "PYTHON_LOCKS", (locks[0],))
    monkeypatch.setattr(audit, "NPM_LOCKS", (locks[1],))
    monkeypatch.setenv(audit.SUMMARY_VARIABLE, str(summary))
    monkeypatch.setenv(audit.RESULT_VARIABLE, str(result))
    code = audit.main(["--osv-url", f"{stub}/v1/query", "--npm-registry", f"{stub}/", "--timeout", "5"])
    return code, summary.read_text(encoding="utf-8").strip(), result.read_text().strip() if result.exists() else ""


@pytest.mark.pci("6.3.3")
def test_a_known_vulnerable_pin_fails_the_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    locks = (python_lock(tmp_path, "six==1.17.0", "rsa==4.7.2"), npm_lock(tmp_path / "web", "left-pad"))
    code, summary, result = run_main(monkeypatch, tmp_path, locks, stub)
    errors = capsys.readouterr().err
    assert code == 1 and result == ""
    assert summary.startswith("FAILED: 2 known vulnerabilities (3 packages audited)")
    assert "six==1.17.0: GHSA-stub-0001 (fixed in 99.0)" in errors and "left-pad: high" in errors


@pytest.mark.pci("6.3.3")
def test_clean_locks_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: str) -> None:
    locks = (python_lock(tmp_path, "rsa==4.7.2"), npm_lock(tmp_path / "web", "is-even"))
    code, summary, result = run_main(monkeypatch, tmp_path, locks, stub)
    assert (code, summary, result) == (0, "no known vulnerabilities (2 packages in 2 locks audited)", "")


@pytest.mark.pci("6.3.3")
def test_an_unreachable_source_is_one_line_exit_0_and_not_audited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What these machines see: OSV and the npm endpoint answer errors, so nothing is audited, and it says so."""
    STATE["down"] = True
    locks = (python_lock(tmp_path, "six==1.17.0", "rsa==4.7.2"), npm_lock(tmp_path / "web", "left-pad"))
    code, summary, result = run_main(monkeypatch, tmp_path, locks, stub)
    out = capsys.readouterr()
    assert (code, summary, result) == (0, "advisory source unreachable (3 of 3 not audited)", "not audited")
    assert out.out == "[audit] advisory source unreachable (3 of 3 not audited)\n" and out.err == ""


def test_an_error_answer_is_not_a_clean_audit(tmp_path: Path, stub: str) -> None:
    """An advisory service answering 404 (as PyPI's per-version JSON does here) leaves the lock not audited."""
    STATE["down"] = True
    lock = python_lock(tmp_path, "six==1.17.0")
    outcome = audit.audit_python(lock, audit.Sources(osv_url=f"{stub}/v1/query", timeout=5))
    assert not outcome.audited and outcome.packages == 1 and not outcome.findings


def test_an_audit_that_cannot_run_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(audit.AuditError, match="run `make audit`"):
        audit.audit_python(python_lock(tmp_path, "six==1.17.0"), audit.Sources(), tmp_path / "no-pip-audit")
