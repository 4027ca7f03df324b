"""``make artifact``: reproducible bytes, a closed wheelhouse, the CA bundle rule, an installable service wheel.

The wheelhouse is faked (tiny wheels in the cache folder the lock maps to), so these tests never reach PyPI.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import json
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lib.artifact import load_artifact
from tools.dev.local_api.testca import development_ca
from tools.release import build_artifact as artifact

ROOT = Path(__file__).resolve().parents[3]


def fake_wheel(folder: Path, pin: str, requires: tuple[str, ...] = ()) -> Path:
    name, version = pin.split("==")
    dist = name.replace("-", "_").lower()
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {requirement}\n" for requirement in requires
    )
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{dist}-{version}.dist-info/METADATA", metadata)
    return wheel


def hashed_lock(path: Path, wheels: dict[str, Path]) -> Path:
    """A lock pinning each ``name==version`` with the sha256 of its wheel."""
    lines = [
        f"{pin} \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" for pin, wheel in wheels.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(name="cache")
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache folder of today's lock, filled with fake wheels and marked complete (no download); the lock the
    build checks them against (artifact.LOCK_FILE) pins today's versions with the fake wheels' hashes."""
    cache = tmp_path / "cache"
    pins = artifact.locked_requirements()
    folder = artifact.wheelhouse_folder(pins, cache)
    folder.mkdir(parents=True)
    wheels = {pin: fake_wheel(folder, pin) for pin in pins}
    (folder / ".complete").touch()
    monkeypatch.setattr(artifact, "LOCK_FILE", hashed_lock(tmp_path / "requirements.lock", wheels))
    return cache


def members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {info.name: info for info in tar.getmembers()}


def read_member(archive: Path, suffix: str) -> bytes:
    with tarfile.open(archive) as tar:
        name = next(info.name for info in tar.getmembers() if info.name.endswith(suffix))
        extracted = tar.extractfile(name)
        assert extracted is not None
        return extracted.read()


def test_same_inputs_give_the_same_bytes(tmp_path: Path, cache: Path) -> None:
    first = artifact.build("development", None, tmp_path / "one", cache)
    second = artifact.build("development", None, tmp_path / "two", cache)
    assert first == second
    one, two = (tmp_path / folder / first["archive"] for folder in ("one", "two"))
    assert one.read_bytes() == two.read_bytes()
    assert hashlib.sha256(one.read_bytes()).hexdigest() == first["sha256"]
    assert (tmp_path / "one" / f"{first['archive']}.sha256").read_text().split()[0] == first["sha256"]
    assert json.loads((tmp_path / "one" / artifact.POINTER_NAME).read_text()) == first


def test_a_version_label_is_another_release_of_the_same_sources(tmp_path: Path, cache: Path) -> None:
    """The sandbox's release B: the same sources, a version with a local label, hence other bytes and sha256."""
    plain = artifact.build("development", None, tmp_path / "a", cache)
    labelled = artifact.build("development", None, tmp_path / "b", cache, version_label="sandbox.b")
    assert labelled["version"] == f"{plain['version']}+sandbox.b" and labelled["sha256"] != plain["sha256"]
    assert labelled["archive"] == f"payment-api-{plain['version']}+sandbox.b-development.tar.gz"
    manifest = json.loads(read_member(tmp_path / "b" / labelled["archive"], "/manifest.json"))
    assert manifest["version"] == labelled["version"]
    assert load_artifact(tmp_path / "b" / artifact.POINTER_NAME).version == labelled["version"]
    with pytest.raises(artifact.ArtifactError, match="--version-label 'B!': use lowercase letters and digits"):
        artifact.build("development", None, tmp_path / "c", cache, version_label="B!")


def test_archive_entries_are_sorted_owned_by_root_with_fixed_times(tmp_path: Path, cache: Path) -> None:
    pointer = artifact.build("development", None, tmp_path, cache)
    path = tmp_path / pointer["archive"]
    entries = members(path)
    assert list(entries) == sorted(entries)
    assert {(info.uid, info.gid, info.uname, info.gname, info.mtime) for info in entries.values()} == {
        (0, 0, "", "", artifact.SOURCE_DATE_EPOCH)
    }
    header = path.read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    assert gzip.decompress(path.read_bytes())  # a valid gzip stream


def test_manifest_lists_every_file_with_its_hash_and_the_development_ca(tmp_path: Path, cache: Path) -> None:
    pointer = artifact.build("development", None, tmp_path, cache)
    path = tmp_path / pointer["archive"]
    manifest = json.loads(read_member(path, "/manifest.json"))
    assert manifest["build_kind"] == "development" and manifest["version"] == pointer["version"]
    assert manifest["ca_bundle"]["source"].startswith("development test CA")
    assert manifest["ca_bundle"]["sha256"] == hashlib.sha256(development_ca().pem).hexdigest()
    names = {name.split("/", 1)[1] for name in members(path)} - {"manifest.json"}
    assert set(manifest["files"]) == names
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(read_member(path, f"/{name}")).hexdigest() == digest
    # The locked wheels and the contract's, built here (the service's wheel requires it).
    assert sum(name.startswith("wheelhouse/") for name in names) == len(artifact.locked_requirements()) + 1
    assert "wheelhouse/tap_contract-0.1.0-py3-none-any.whl" in names


def test_production_refuses_to_build_without_the_ca_bundle(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(artifact.ArtifactError, match=r"RDS_CA_BUNDLE is not set.*global-bundle\.pem"):
        artifact.build("production", None, tmp_path, cache)
    assert not list(tmp_path.glob("*.tar.gz"))
    assert artifact.main(["--kind", "production", "--out", str(tmp_path)]) == 2


def self_signed(name: str) -> bytes:
    """A throw-away self-signed CA certificate (PEM) named ``name``: stands in for an RDS root."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(name="pinned")
def fake_pinned_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Two roots pinned in a data file of the same shape as facts/rds_root_cas.json (their PEM by name)."""
    roots = {
        name: self_signed(name)
        for name in ("Amazon RDS test-1 Root CA RSA2048 G1", "Amazon RDS test-1 Root CA ECC384 G1")
    }
    data = {
        "roots": [
            {"name": name, "sha256": x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()}
            for name, pem in roots.items()
        ]
    }
    path = tmp_path / "pinned.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(artifact, "PINNED_ROOTS_FILE", path)
    return roots


def test_the_pinned_roots_cover_every_supported_region_with_sourced_fingerprints() -> None:
    data = json.loads(artifact.PINNED_ROOTS_FILE.read_text(encoding="utf-8"))
    assert data["_source"] and data["_retrieved"]
    supported = json.loads((ROOT / "facts" / "regions.json").read_text())["supported"]
    names = {root["name"] for root in data["roots"]}
    assert names == {
        f"Amazon RDS {region} Root CA {kind} G1" for region in supported for kind in ("RSA2048", "RSA4096", "ECC384")
    }
    assert all(len(root["sha256"]) == 64 and int(root["sha256"], 16) >= 0 for root in data["roots"])
    assert len({root["sha256"] for root in data["roots"]}) == len(data["roots"])
    assert "BEGIN CERTIFICATE" not in artifact.PINNED_ROOTS_FILE.read_text(), "facts only, not the certificates"


def test_production_records_the_given_bundle_and_where_it_came_from(
    tmp_path: Path, cache: Path, pinned: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_bytes(b"".join(pinned.values()) + development_ca().pem)  # the pinned roots and one extra
    pointer = artifact.build("production", str(bundle), tmp_path / "out", cache)
    manifest = json.loads(read_member(tmp_path / "out" / pointer["archive"], "/manifest.json"))
    assert manifest["build_kind"] == pointer["build_kind"] == "production"
    assert manifest["ca_bundle"] == {
        "file": artifact.CA_BUNDLE_FILE,
        "source": str(bundle),
        "verified": True,
        "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
    }
    assert pointer["archive"].endswith("-production.tar.gz") and pointer["ca_bundle_verified"] is True
    warning = capsys.readouterr().err
    assert "warning" in warning and "payment-api development test CA" in warning, "the extra certificate is named"


def test_a_bundle_missing_a_pinned_root_is_refused_naming_it(
    tmp_path: Path, cache: Path, pinned: dict[str, bytes]
) -> None:
    bundle = tmp_path / "partial.pem"
    bundle.write_bytes(pinned["Amazon RDS test-1 Root CA RSA2048 G1"])
    with pytest.raises(artifact.ArtifactError, match=r"lacks 1 of the 2 .*Amazon RDS test-1 Root CA ECC384 G1\. Fix"):
        artifact.build("production", str(bundle), tmp_path / "out", cache)
    bundle.write_bytes(development_ca().pem)
    with pytest.raises(artifact.ArtifactError, match=r"holds none of the 2 .*RDS_CA_BUNDLE_UNVERIFIED=1"):
        artifact.build("production", str(bundle), tmp_path / "out", cache)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.tar.gz"))


def test_an_unverified_production_build_says_so_everywhere(tmp_path: Path, cache: Path) -> None:
    pointer = artifact.build("production", None, tmp_path, cache, unverified=True)
    manifest = json.loads(read_member(tmp_path / pointer["archive"], "/manifest.json"))
    assert manifest["build_kind"] == "production" and manifest["ca_bundle"]["verified"] is False
    assert manifest["ca_bundle"]["sha256"] == hashlib.sha256(development_ca().pem).hexdigest()
    assert pointer["ca_bundle_verified"] is False
    loaded = load_artifact(tmp_path / artifact.POINTER_NAME)
    assert loaded.build_kind == "production" and loaded.ca_bundle_verified is False
    again = artifact.build("production", None, tmp_path / "again", cache, unverified=True)
    assert again == pointer, "reproducible like every build"
    with pytest.raises(artifact.ArtifactError, match="for ARTIFACT_KIND=production only"):
        artifact.build("development", None, tmp_path / "dev", cache, unverified=True)


def test_the_command_takes_the_unverified_flag_and_warns(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(artifact, "CACHE", cache)
        assert artifact.main(["--kind", "production", "--ca-bundle-unverified", "--out", str(tmp_path)]) == 0
        patch.setenv("RDS_CA_BUNDLE_UNVERIFIED", "1")
        assert artifact.main(["--kind", "production", "--out", str(tmp_path / "env")]) == 0
    out, err = capsys.readouterr()
    assert "NOT verified" in out and "make deploy refuses it" in err
    assert json.loads((tmp_path / "env" / artifact.POINTER_NAME).read_text())["ca_bundle_verified"] is False


@pytest.mark.parametrize(
    "given, message",
    [
        ("http://example.com/bundle.pem", "over https"),
        ("/nonexistent/bundle.pem", "no such file"),
    ],
)
def test_a_bad_ca_bundle_names_the_variable(given: str, message: str) -> None:
    with pytest.raises(artifact.ArtifactError, match=f"RDS_CA_BUNDLE=.*{message}"):
        artifact.ca_bundle("production", given)


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_text("not a certificate")
    with pytest.raises(artifact.ArtifactError, match="not a PEM certificate bundle"):
        artifact.ca_bundle("production", str(tmp_path / "bundle.pem"))


def test_an_open_wheelhouse_is_refused(tmp_path: Path) -> None:
    wheels = [
        fake_wheel(
            tmp_path,
            "fastapi==0.165.0",
            ("starlette>=0.40", "pywin32; sys_platform == 'win32'", "uvloop; extra == 'standard'"),
        ),
        fake_wheel(tmp_path, "starlette==0.30.0"),
    ]
    with pytest.raises(artifact.ArtifactError, match=r"fastapi-0.165.0.*needs starlette>=0.40 \(wheelhouse: 0.30.0\)"):
        artifact.check_closed(wheels)
    # Markers for other platforms and extras are not requirements of the instance.
    artifact.check_closed([wheels[0], fake_wheel(tmp_path, "starlette==1.10.0")])


def test_service_wheel_records_every_file_with_its_hash(tmp_path: Path) -> None:
    wheel = artifact.build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read(next(name for name in names if name.endswith("RECORD"))).decode()
        assert "payment_api/migrations/versions/v0001_initial.py" in names
        assert not any("__pycache__" in name for name in names)
        for line in record.splitlines():
            name, digest, _size = line.split(",")
            if digest:
                expected = base64.urlsafe_b64encode(hashlib.sha256(archive.read(name)).digest()).rstrip(b"=")
                assert digest == "sha256=" + expected.decode()
        metadata = archive.read(next(name for name in names if name.endswith("METADATA"))).decode()
    assert "Requires-Dist: fastapi==0.165.0" in metadata
    (tmp_path / "again").mkdir()
    assert artifact.build_wheel(tmp_path / "again").read_bytes() == wheel.read_bytes()


def test_the_lock_pins_what_the_service_and_the_tests_pin() -> None:
    """The lock is the instance's install set: every pyproject pin and the tested transitive versions."""

    def pins(lines: list[str]) -> dict[str, str]:
        found = (line.split("#")[0].strip().rstrip("\\").strip() for line in lines)
        return {name.lower(): version for name, version in (pin.split("==") for pin in found if "==" in pin)}

    lock = pins(artifact.locked_requirements())
    project = tomllib.loads((ROOT / "services/payment_api/pyproject.toml").read_text())["project"]
    contract = str(artifact.project(artifact.CONTRACT)["name"])  # built into the wheelhouse, not downloaded
    direct = {name: version for name, version in pins(project["dependencies"]).items() if name != contract}
    tested = pins(
        [
            *(ROOT / "requirements.txt").read_text().splitlines(),
            *(ROOT / "requirements-dev.txt").read_text().splitlines(),
        ]
    )
    assert lock == {**{name: tested[name] for name in lock if name in tested}, **direct}


def test_the_command_prints_the_archive_kind_hash_and_ca_origin(tmp_path: Path, cache: Path) -> None:
    """The printed line names the archive, the kind, the hash and the CA bundle's origin."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(artifact, "CACHE", cache)
        patch.setattr("sys.stdout", out)
        assert artifact.main(["--out", str(tmp_path)]) == 0
    assert "development, sha256 " in out.getvalue() and "development test CA" in out.getvalue()


def test_the_unverified_production_artifact_is_built_once_per_inputs(cache: Path) -> None:
    (cache / "production-unverified-0000000000000000").mkdir()  # a build of earlier inputs
    pointer = artifact.unverified_production_pointer(cache)
    loaded = load_artifact(pointer)
    assert loaded.build_kind == "production" and loaded.ca_bundle_verified is False
    stamp = pointer.stat().st_mtime_ns
    assert artifact.unverified_production_pointer(cache) == pointer and pointer.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.glob("production-unverified-*")] == [pointer.parent.name]
    assert pointer.parent.parent == cache, "built in the cache, never in dist/ (the user's own artifact)"


@pytest.mark.pci("6.3.2")
def test_a_changed_wheel_in_the_cache_is_refused(tmp_path: Path, cache: Path) -> None:
    """The cache is never trusted: a wheel whose sha256 the lock does not list stops the build, nothing written."""
    folder = artifact.wheelhouse_folder(artifact.locked_requirements(), cache)
    wheel = sorted(folder.glob("*.whl"))[0]
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("planted.py", "print('not what the lock pins')\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(artifact.ArtifactError, match=rf"{re.escape(wheel.name)} has sha256 {digest}, which the lock"):
        artifact.build("development", None, tmp_path / "out", cache)
    assert not list((tmp_path / "out").glob("*.tar.gz"))


def test_a_lock_without_hashes_stops_the_build(tmp_path: Path, cache: Path) -> None:
    lock = tmp_path / "plain.lock"
    lock.write_text("six==1.17.0\n", encoding="utf-8")
    with pytest.raises(artifact.ArtifactError, match=r"six==1.17.0 carry no --hash.*lock_hashes"):
        artifact.locked_requirements(lock)
    assert cache.is_dir()


@pytest.mark.pci("6.3.2")
def test_the_archive_carries_every_wheel_with_its_hash_for_the_boot(tmp_path: Path, cache: Path) -> None:
    pointer = artifact.build("development", None, tmp_path, cache)
    path = tmp_path / pointer["archive"]
    manifest = json.loads(read_member(path, "/manifest.json"))
    lines = [line for line in read_member(path, "/requirements.lock").decode().splitlines() if not line.startswith("#")]
    wheels = {name: digest for name, digest in manifest["files"].items() if name.endswith(".whl")}
    assert len(lines) == len(wheels) == len(artifact.locked_requirements()) + 2  # the contract's and the service's
    for name, digest in wheels.items():
        dist, version = Path(name).name.split("-")[:2]
        assert f"{dist.replace('_', '-').lower()}=={version} --hash=sha256:{digest}" in lines
