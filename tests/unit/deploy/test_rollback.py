"""``make rollback`` (tools/deploy/rollback.py): finding a kept release among the artifact object's versions by its
metadata, refusing unknown and ambiguous names with the releases kept, and restoring a checked pointer. The deploy it
then runs is ``make deploy``'s; the whole path runs in the sandbox's release phase."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lib.artifact import OBJECT_KEY, load_artifact
from tools.deploy import rollback
from tools.deploy.rollback import RollbackError, artifact_bucket, choose, kept_releases, restore

BUCKET = "payment-artifacts-dev-123456789012"


def _upload(s3: Any, body: bytes, version: str, **metadata: str) -> str:
    """One release, as Terraform's aws_s3_object writes it (lib/artifact.py's metadata)."""
    sha = hashlib.sha256(body).hexdigest()
    fields = {
        "sha256": sha,
        "version": version,
        "build-kind": "development",
        "ca-bundle-verified": "false",
        "archive": f"payment-api-{version}-development.tar.gz",
        **metadata,
    }
    s3.put_object(Bucket=BUCKET, Key=OBJECT_KEY, Body=body, Metadata=fields)
    time.sleep(0.01)  # distinct LastModified, as releases have
    return sha


@pytest.fixture(name="s3")
def _s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        client.put_object(Bucket=BUCKET, Key=f"{OBJECT_KEY}.other", Body=b"not a release")  # same prefix, other key
        yield client


def test_a_release_is_found_by_version_or_sha256_prefix_and_restored(s3: Any, tmp_path: Path) -> None:
    sha_a = _upload(s3, b"release A", "0.1.0")
    sha_b = _upload(s3, b"release B", "0.1.0+sandbox.b")
    releases = kept_releases(s3, BUCKET)
    assert [(r.version, r.sha256, r.is_latest) for r in releases] == [
        ("0.1.0+sandbox.b", sha_b, True),
        ("0.1.0", sha_a, False),
    ]
    assert choose(releases, "0.1.0").sha256 == sha_a
    assert choose(releases, sha_b[:8].upper()).sha256 == sha_b
    pointer = restore(s3, BUCKET, choose(releases, "0.1.0"), tmp_path / "rollback")
    artifact = load_artifact(pointer)  # the same check synth makes
    assert (artifact.version, artifact.sha256, artifact.build_kind) == ("0.1.0", sha_a, "development")
    assert artifact.path.read_bytes() == b"release A" and artifact.path.name == "payment-api-0.1.0-development.tar.gz"


def test_the_same_bytes_uploaded_again_are_one_release(s3: Any) -> None:
    """A rollback uploads A's bytes as the newest version: A is then two versions, one release."""
    sha_a = _upload(s3, b"release A", "0.1.0")
    _upload(s3, b"release B", "0.2.0")
    _upload(s3, b"release A", "0.1.0")
    chosen = choose(kept_releases(s3, BUCKET), sha_a[:6])
    assert chosen.sha256 == sha_a and chosen.is_latest


def test_an_unknown_release_lists_the_releases_kept_newest_first(s3: Any) -> None:
    sha_a, sha_b = _upload(s3, b"release A", "0.1.0"), _upload(s3, b"release B", "0.2.0")
    with pytest.raises(RollbackError) as raised:
        choose(kept_releases(s3, BUCKET), "0.0.9")
    message = str(raised.value)
    assert message.startswith("RELEASE=0.0.9 is no release the bucket keeps")
    lines = message.splitlines()[1:]
    assert lines[0].startswith(f"  0.2.0  sha256 {sha_b[:12]}  20") and lines[0].endswith("UTC  (current)")
    assert lines[1].startswith(f"  0.1.0  sha256 {sha_a[:12]}  20") and len(lines) == 2
    with pytest.raises(RollbackError, match="at least 6 hex digits"):
        choose(kept_releases(s3, BUCKET), sha_a[:5])  # too short to be a sha256 prefix, and no version


def test_an_ambiguous_release_lists_its_matches(s3: Any) -> None:
    shas = [_upload(s3, f"release {n}".encode(), "0.1.0") for n in range(2)]  # the same label, rebuilt
    with pytest.raises(RollbackError, match=r"RELEASE=0\.1\.0 names 2 different releases") as raised:
        choose(kept_releases(s3, BUCKET), "0.1.0")
    assert all(sha[:12] in str(raised.value) for sha in shas)
    assert "Give more digits of the sha256" in str(raised.value)


def test_bytes_that_do_not_match_their_metadata_are_refused_and_nothing_written(s3: Any, tmp_path: Path) -> None:
    _upload(s3, b"tampered", "0.1.0", sha256="0" * 64)
    (release,) = kept_releases(s3, BUCKET)
    with pytest.raises(RollbackError, match=f"has sha256 {hashlib.sha256(b'tampered').hexdigest()}, not the 0000"):
        restore(s3, BUCKET, release, tmp_path / "rollback")
    assert not (tmp_path / "rollback").exists()


def test_a_stack_without_the_one_key_has_nothing_to_roll_back_to() -> None:
    old = {"mode": "managed", "type": "aws_s3_object", "instances": [{"attributes": {"bucket": BUCKET, "key": "x"}}]}
    new = {**old, "instances": [{"attributes": {"bucket": BUCKET, "key": OBJECT_KEY}}]}
    assert artifact_bucket({"resources": [old, new]}, "TapStackdev") == BUCKET
    for state in ({"resources": [old]}, None):
        with pytest.raises(RollbackError, match="TapStackdev's state holds no artifact object under"):
            artifact_bucket(state, "TapStackdev")


def test_make_rollback_refuses_before_changing_anything(
    s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown release: exit 1 with the releases kept, and no deploy is started."""
    _upload(s3, b"release A", "0.1.0")
    state = {"resources": [{"mode": "managed", "type": "aws_s3_object", "instances": [{"attributes": {
        "bucket": BUCKET, "key": OBJECT_KEY}}]}]}  # fmt: skip
    monkeypatch.setattr(rollback, "read_state", lambda *_: state)
    monkeypatch.setattr(rollback, "Deploy", lambda *_, **__: pytest.fail("no deploy may start"))
    monkeypatch.setattr(rollback, "clients_for", lambda _: lambda service, region: s3)
    code = rollback.main(["dev", "--release", "9.9.9"])
    assert code == 1
    err = capsys.readouterr().err
    assert "RELEASE=9.9.9 is no release the bucket keeps" in err and "0.1.0  sha256" in err
    assert err.rstrip().endswith("Nothing was changed.")
    assert rollback.main(["dev"]) == 2  # no RELEASE: the usage


def test_the_pointer_written_is_what_make_artifact_writes(s3: Any, tmp_path: Path) -> None:
    _upload(s3, b"release A", "0.1.0", **{"build-kind": "production", "ca-bundle-verified": "true"})
    (release,) = kept_releases(s3, BUCKET)
    pointer = json.loads(restore(s3, BUCKET, release, tmp_path).read_text())
    assert pointer == {
        "archive": "payment-api-0.1.0-development.tar.gz",
        "build_kind": "production",
        "ca_bundle_verified": True,
        "sha256": hashlib.sha256(b"release A").hexdigest(),
        "version": "0.1.0",
    }
