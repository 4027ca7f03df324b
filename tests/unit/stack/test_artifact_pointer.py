"""The stack reads the artifact ``make artifact`` built; without one, ``python tap.py`` says which command to run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import tap
from lib import artifact
from lib.artifact import ArtifactMissingError, load_artifact


def pointer(folder: Path, archive: bytes, **overrides: str) -> Path:
    (folder / "payment-api-0.1.0-development.tar.gz").write_bytes(archive)
    data = {"archive": "payment-api-0.1.0-development.tar.gz", "version": "0.1.0", "build_kind": "development",
            "sha256": hashlib.sha256(archive).hexdigest(), **overrides}
    path = folder / "payment-api.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_pointer_gives_the_archive_and_its_key(tmp_path: Path) -> None:
    loaded = load_artifact(pointer(tmp_path, b"archive"))
    assert loaded.object_key == f"payment-api/0.1.0/{loaded.sha256}/payment-api-0.1.0-development.tar.gz"


@pytest.mark.parametrize("case, message", [
    ("missing", r"is missing\): run `make artifact`"),
    ("changed", "does not match the sha256"),
    ("garbled", "not a pointer written by make artifact"),
])
def test_an_unusable_artifact_names_the_command(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "payment-api.json"
    if case == "changed":
        path = pointer(tmp_path, b"archive", sha256="0" * 64)
    elif case == "garbled":
        path.write_text("{}", encoding="utf-8")
    with pytest.raises(ArtifactMissingError, match=message):
        load_artifact(path)


def test_tap_without_an_artifact_exits_2_with_the_command(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(tap, "load_artifact", lambda: load_artifact(tmp_path / "payment-api.json"))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    assert tap.main() == 2
    err = capsys.readouterr().err
    assert "Configuration error: no payment API artifact" in err and "`make artifact`" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    assert artifact.POINTER.name == "payment-api.json"
