"""make deploy-frontend: content types, cache headers, what counts as changed, what is invalidated, and a deploy
against an in-process S3 (moto) with a recording CloudFront."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.page_integrity.manifest import build_manifest
from tools.release import deploy_frontend as deploy
from tools.release.deploy_frontend import IMMUTABLE, NO_CACHE, DeployError, RemoteObject


@pytest.mark.parametrize(
    ("key", "content_type", "cache"),
    [
        ("index.html", "text/html; charset=utf-8", NO_CACHE),
        ("assets/index-DF155k74.js", "text/javascript; charset=utf-8", IMMUTABLE),
        ("assets/index-CC2ja4WD.css", "text/css; charset=utf-8", IMMUTABLE),
        ("assets/logo-a1B2_c3-.svg", "image/svg+xml", IMMUTABLE),
        ("assets/fonts/inter-Zx9y8W7v.woff2", "font/woff2", IMMUTABLE),
        ("favicon.ico", "image/x-icon", NO_CACHE),  # a fixed name: a new build reuses it
        ("assets/logo.svg", "image/svg+xml", NO_CACHE),  # no hash in the name
        ("index-DF155k74.js", "text/javascript; charset=utf-8", NO_CACHE),  # hashed-looking but outside assets/
    ],
)
def test_content_type_and_cache_control(key: str, content_type: str, cache: str) -> None:
    assert (deploy.content_type(key), deploy.cache_control(key)) == (content_type, cache)


def test_unknown_extension_is_refused_with_the_fix() -> None:
    with pytest.raises(DeployError, match=r"\.exe.*allowed: .*Fix: add it to CONTENT_TYPES"):
        deploy.content_type("assets/tool-abcdefgh.exe")


def _build(dist: Path, index: str = "<html>v1</html>") -> Path:
    (dist / "assets").mkdir(parents=True, exist_ok=True)
    (dist / "index.html").write_text(index, encoding="utf-8")
    (dist / "assets" / "index-AAAAAAAA.js").write_text("console.log(1)", encoding="utf-8")
    (dist / "assets" / "index-BBBBBBBB.css").write_text("body{}", encoding="utf-8")
    (dist / "config.json").write_text('{"apiBaseUrl": "http://127.0.0.1:8080"}', encoding="utf-8")
    return dist


def test_changed_set_compares_checksum_and_headers_and_orders_index_last(tmp_path: Path) -> None:
    files, skipped = deploy.local_files(_build(tmp_path))
    assert skipped == ["config.json"], "the stack owns config.json"
    by_key = {f.key: f for f in files}
    same = {k: RemoteObject(f.sha256, f.content_type, f.cache_control) for k, f in by_key.items()}
    assert not deploy.changed_files(files, same)
    js = by_key["assets/index-AAAAAAAA.js"]
    remote = {
        **same,
        "index.html": RemoteObject("0" * 64, "text/html; charset=utf-8", NO_CACHE),
        js.key: RemoteObject(js.sha256, js.content_type, NO_CACHE),
    }  # same bytes, wrong Cache-Control
    assert [f.key for f in deploy.changed_files(files, remote)] == [js.key, "index.html"]
    everything = deploy.changed_files(files, {})
    assert [f.key for f in everything] == ["assets/index-AAAAAAAA.js", "assets/index-BBBBBBBB.css", "index.html"]
    assert deploy.invalidation_paths(everything) == ["/", "/index.html"]
    assert deploy.invalidation_paths([js]) == []


def test_targets_from_environment_or_outputs_file_with_clear_errors(tmp_path: Path) -> None:
    outputs = tmp_path / "flat-outputs.json"
    env = {"FRONTEND_BUCKET": "b", "CLOUDFRONT_DISTRIBUTION_ID": "E1"}
    assert deploy.deploy_targets(env, outputs) == ("b", "E1")
    with pytest.raises(DeployError, match=r"does not exist.*`make deploy ENVIRONMENT=dev`.*FRONTEND_BUCKET"):
        deploy.deploy_targets({}, outputs)
    outputs.write_text(
        json.dumps({"TapStackdev": {"frontend_bucket_name": "fb", "cloudfront_distribution_id": "E2"}}),
        encoding="utf-8",
    )
    assert deploy.deploy_targets({}, outputs) == ("fb", "E2")
    with pytest.raises(DeployError, match=r"no outputs for TapStackpr7.*it has: TapStackdev"):
        deploy.deploy_targets({"ENVIRONMENT_SUFFIX": "pr7"}, outputs)


class RecordingCloudFront:
    """Stands for the CloudFront client: records invalidation batches."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def create_invalidation(self, DistributionId: str, InvalidationBatch: dict[str, Any]) -> dict[str, Any]:  # pylint: disable=invalid-name
        assert DistributionId == "E123"
        self.batches.append(InvalidationBatch)
        return {"Invalidation": {"Id": f"I{len(self.batches)}"}}


@mock_aws
def test_deploy_uploads_only_changes_never_config_json_and_invalidates_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    s3, cloudfront = boto3.client("s3", region_name="us-east-1"), RecordingCloudFront()
    s3.create_bucket(Bucket="frontend")
    s3.put_object(Bucket="frontend", Key="config.json", Body=b'{"apiBaseUrl": "https://api.pay.example.com"}')
    dist = _build(tmp_path / "dist")
    first = deploy.deploy(s3, cloudfront, bucket="frontend", distribution="E123", dist=dist)
    assert first["uploaded"] == ["assets/index-AAAAAAAA.js", "assets/index-BBBBBBBB.css", "index.html"]
    head = s3.head_object(Bucket="frontend", Key="assets/index-AAAAAAAA.js")
    assert (head["ContentType"], head["CacheControl"]) == ("text/javascript; charset=utf-8", IMMUTABLE)
    assert s3.head_object(Bucket="frontend", Key="index.html")["CacheControl"] == NO_CACHE
    assert (
        s3.get_object(Bucket="frontend", Key="config.json")["Body"].read()
        == b'{"apiBaseUrl": "https://api.pay.example.com"}'
    )
    assert cloudfront.batches[0]["Paths"] == {"Quantity": 3, "Items": ["/", "/index.html", "/integrity-manifest.json"]}
    manifest = json.loads(s3.get_object(Bucket="frontend", Key="integrity-manifest.json")["Body"].read())
    assert manifest == json.loads(build_manifest(dist).to_json()) and first["manifest"] == "written"
    again = deploy.deploy(s3, cloudfront, bucket="frontend", distribution="E123", dist=dist)
    assert (again["uploaded"], again["invalidated"], again["manifest"], len(cloudfront.batches)) == (
        [],
        [],
        "unchanged",
        1,
    )
    (dist / "index.html").write_text("<html>v2</html>", encoding="utf-8")
    third = deploy.deploy(s3, cloudfront, bucket="frontend", distribution="E123", dist=dist)
    assert third["uploaded"] == ["index.html"] and len(cloudfront.batches) == 2
    assert third["manifest"] == "written" and "/integrity-manifest.json" in third["invalidated"]


def test_ensure_build_builds_the_mode_asked_and_refuses_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production by default (web/dist, what is deployed); development into web/dist-dev; nothing else."""
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "package-lock.json").write_text("{}")
    (tmp_path / "node_modules" / ".installed").touch()
    ran: list[list[str]] = []
    monkeypatch.setattr(deploy.subprocess, "run", lambda command, **_: ran.append(command))
    assert deploy.ensure_build(tmp_path) == "npm run build"
    assert deploy.ensure_build(tmp_path, mode="development") == "npm run build:dev"
    assert ran == [["npm", "run", "--silent", "build"], ["npm", "run", "--silent", "build:dev"]]
    with pytest.raises(DeployError, match="build mode 'staging' is not one of production, development"):
        deploy.ensure_build(tmp_path, mode="staging")
    assert len(ran) == 2
