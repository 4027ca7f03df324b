"""The stack reads the artifact ``make artifact`` built; without one, ``python tap.py`` says which command to run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import tap
from lib import artifact
from lib.artifact import ArtifactKindError, ArtifactMissingError, check_kind, load_artifact
from tests.conftest import PRODUCTION_ENV


def pointer(folder: Path, archive: bytes, **overrides: object) -> Path:
    (folder / "payment-api-0.1.0-development.tar.gz").write_bytes(archive)
    data = {
        "archive": "payment-api-0.1.0-development.tar.gz",
        "version": "0.1.0",
        "build_kind": "development",
        "sha256": hashlib.sha256(archive).hexdigest(),
        **overrides,
    }
    path = folder / "payment-api.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_pointer_gives_the_archive_and_its_key(tmp_path: Path) -> None:
    loaded = load_artifact(pointer(tmp_path, b"archive"))
    assert loaded.object_key == "payment-api/payment-api.tar.gz"  # every release: a version of one key
    assert not artifact.LEGACY_OBJECT_KEY.fullmatch(loaded.object_key)
    assert artifact.LEGACY_OBJECT_KEY.fullmatch(
        f"payment-api/0.1.0/{loaded.sha256}/payment-api-0.1.0-development.tar.gz"
    )


def test_the_object_metadata_rebuilds_the_pointer(tmp_path: Path) -> None:
    """What make rollback writes for a kept release is the pointer make artifact wrote for it."""
    written = pointer(tmp_path, b"archive", ca_bundle_verified=True, build_kind="production")
    loaded = load_artifact(written)
    rebuilt = artifact.pointer_from_metadata(loaded.metadata)
    assert rebuilt == json.loads(written.read_text())
    (tmp_path / "payment-api.json").write_text(json.dumps(rebuilt), encoding="utf-8")
    assert load_artifact(tmp_path / "payment-api.json") == loaded


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", r"is missing\): run `make artifact`"),
        ("changed", "does not match the sha256"),
        ("garbled", "not a pointer written by make artifact"),
    ],
)
def test_an_unusable_artifact_names_the_command(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "payment-api.json"
    if case == "changed":
        path = pointer(tmp_path, b"archive", sha256="0" * 64)
    elif case == "garbled":
        path.write_text("{}", encoding="utf-8")
    with pytest.raises(ArtifactMissingError, match=message):
        load_artifact(path)


def test_tap_without_an_artifact_exits_2_with_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(tap, "load_artifact", lambda: load_artifact(tmp_path / "payment-api.json"))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    assert tap.main() == 2
    err = capsys.readouterr().err
    assert "Configuration error: no payment API artifact" in err and "`make artifact`" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    assert artifact.POINTER.name == "payment-api.json"


def test_the_pointer_says_whether_the_ca_bundle_was_verified(tmp_path: Path) -> None:
    assert load_artifact(pointer(tmp_path, b"archive", ca_bundle_verified=True)).ca_bundle_verified is True
    assert load_artifact(pointer(tmp_path, b"archive", ca_bundle_verified="true")).ca_bundle_verified is False
    assert load_artifact(pointer(tmp_path, b"archive")).ca_bundle_verified is False, "older pointers: unverified"


def test_a_production_stack_refuses_a_development_artifact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    development = load_artifact(pointer(tmp_path, b"archive"))
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(tap, "load_artifact", lambda: development)
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    assert tap.main() == 2
    err = capsys.readouterr().err
    assert "Configuration error: payment-api-0.1.0-development.tar.gz is a development build" in err
    assert "`make artifact ARTIFACT_KIND=production RDS_CA_BUNDLE=<path or URL>`" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    with pytest.raises(ArtifactKindError, match="production stack's instances refuse it at boot"):
        check_kind(development, "production")
    check_kind(development, "development")  # a development stack takes it


def test_the_pointer_variable_names_another_artifact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = pointer(tmp_path, b"another archive")
    monkeypatch.setenv(artifact.POINTER_VARIABLE, str(path))
    assert load_artifact().sha256 == hashlib.sha256(b"another archive").hexdigest()
    monkeypatch.delenv(artifact.POINTER_VARIABLE)
    assert artifact.default_pointer() == artifact.POINTER
