"""The boot's parts that run without namespaces: the IMDS stand-in's IMDSv2 rules, the boot files the artifact
carries, and the rendered user data that `make lint` gives to shellcheck."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.lint.shellcheck import rendered_templates
from tools.release.build_artifact import ArtifactError, boot_files
from tools.sandbox.rehearsal.imds import TOKEN_HEADER, TOKEN_TTL_HEADER, Handler, metadata_paths

SETTINGS = {
    "instance_id": "i-0abc",
    "region": "eu-west-1",
    "availability_zone": "eu-west-1a",
    "role_name": "tap-api-instance",
    "credentials": {
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "secret",
        "Token": "token",
        "Expiration": "2026-12-05T20:00:00Z",
        "LastUpdated": "2026-12-05T19:00:00Z",
    },
}


@pytest.fixture(name="imds")
def imds_fixture() -> Iterator[str]:
    Handler.paths = metadata_paths(SETTINGS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/latest/"
    finally:
        server.shutdown()


def _call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # loopback only
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_imds_answers_only_with_a_session_token(imds: str) -> None:
    assert _call(imds + "meta-data/instance-id")[0] == 401
    assert _call(imds + "api/token", "PUT")[0] == 400  # no TTL header
    status, token = _call(imds + "api/token", "PUT", {TOKEN_TTL_HEADER: "60"})
    assert status == 200 and token
    assert _call(imds + "meta-data/instance-id", headers={TOKEN_HEADER: token}) == (200, "i-0abc")
    assert _call(imds + "meta-data/instance-id", headers={TOKEN_HEADER: token + "x"})[0] == 401
    role = _call(imds + "meta-data/iam/security-credentials/", headers={TOKEN_HEADER: token})[1]
    assert role == "tap-api-instance"
    status, body = _call(imds + f"meta-data/iam/security-credentials/{role}", headers={TOKEN_HEADER: token})
    assert status == 200 and '"AccessKeyId": "ASIAEXAMPLE"' in body and '"Code": "Success"' in body
    assert _call(imds + "meta-data/nothing-here", headers={TOKEN_HEADER: token})[0] == 404


def test_imds_token_expires(imds: str) -> None:
    token = _call(imds + "api/token", "PUT", {TOKEN_TTL_HEADER: "0"})[1]
    assert _call(imds + "meta-data/instance-id", headers={TOKEN_HEADER: token})[0] == 401


def test_the_artifact_carries_the_boot_stage_and_refuses_to_build_without_it(tmp_path: Path) -> None:
    files = boot_files()
    assert {"boot/configure.sh", "boot/payment-api.service", "boot/payment-api-migrate.service"} <= set(files)
    (tmp_path / "payment-api.service").write_text("[Unit]\n")
    with pytest.raises(ArtifactError, match=r"configure\.sh is missing: the user data sources it"):
        boot_files(tmp_path)


def test_shellcheck_sees_the_user_data_as_rendered(tmp_path: Path) -> None:
    scripts = rendered_templates(tmp_path)
    assert [script.name for script in scripts] == ["migration_host_user_data.sh", "payment_api_user_data.sh"]
    text = scripts[1].read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash") and "@@" not in text
    assert "ASG_NAME=tap-dev-api-asg" in text and "LIFECYCLE_HOOK=payment-api-boot" in text
