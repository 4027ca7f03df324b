"""``make artifact``: the payment API as one versioned, reproducible archive that instances install offline.

    python -m tools.release.build_artifact [--kind development|production] [--ca-bundle PATH_OR_URL]
                                           [--ca-bundle-unverified] [--out dist]

The archive ``dist/payment-api-<version>-<kind>.tar.gz`` holds, under ``payment-api-<version>/``:

- the service's wheel (built here from ``services/payment_api``: a pure-Python zip written with sorted entries and
  fixed timestamps, so the same sources give the same bytes; no build backend is downloaded),
- ``wheelhouse/``: cp311 manylinux x86_64 wheels of every locked dependency
  (``services/payment_api/requirements.lock``, downloaded once per lock into ``.artifact-cache/``) and the contract's
  wheel (``tap-contract``, built here from ``services/contract`` as the service's is: the service depends on it); the
  build checks the set with the service's wheel is closed (every requirement of every wheel is in it), so
  ``pip install --no-index`` cannot miss one,
- ``requirements.lock``: every wheel above by ``name==version`` with its sha256, which the boot installs with
  ``pip install --no-index --require-hashes`` (the wheelhouse's wheels were checked against the hashes of
  ``services/payment_api/requirements.lock`` first, whether just downloaded or from the cache),
- ``rds-ca-bundle.pem``: the CA bundle ``sslmode=verify-full`` checks RDS against. A production build takes it from
  ``RDS_CA_BUNDLE`` (a path, or a URL such as AWS's global bundle) and refuses to build without it; a development
  build (the sandbox, local runs) carries the development test CA of ``tools/dev/local_api/testca.py`` instead,
- ``boot/``: the boot's second stage (``configure.sh``, which the launch template's user data sources once it has
  verified the archive), the systemd units it installs and the logrotate rule (``services/payment_api/boot/``),
- ``manifest.json``: version, build kind, the CA bundle's sha256, where it came from and whether it was verified,
  every file's sha256.

A production bundle is verified: it must hold every RDS root CA pinned in ``facts/rds_root_cas.json`` (SHA-256
fingerprints of the per-region "Amazon RDS <region> Root CA ..." roots of every supported region); a missing root
stops the build naming it, extra certificates are named in a warning. Where AWS's bundle cannot be fetched (these
machines, CI), ``--ca-bundle-unverified`` builds a production artifact from the development test CA (or the PEM
given): the manifest and the pointer then say ``"ca_bundle_verified": false``; synth (tests, ``make compliance``)
accepts such an artifact, ``make deploy`` refuses it.

Next to it: ``<archive>.sha256`` and ``dist/payment-api.json``, the pointer the stack reads at synth time (archive,
version, kind, sha256, ``ca_bundle_verified``). Reproducible: sorted entries, mtime ``SOURCE_DATE_EPOCH``, owner
0/0, gzip mtime 0 (``tests/unit/tools/test_artifact.py`` builds twice and compares the bytes).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.request
import zipfile
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from facts import DATA_DIR as FACTS_DIR
from tools.dev.local_api.testca import development_ca
from tools.release.lock_hashes import FIX as LOCK_FIX
from tools.release.lock_hashes import LockError, Pin
from tools.release.lock_hashes import parse as lock_pins

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "services" / "payment_api"
# The contract between the stack and the service (standard library only): the service's wheel requires it, so it is
# built here into the wheelhouse (it is no PyPI package, so never in the lock).
CONTRACT = ROOT / "services" / "contract"
LOCK_FILE = SERVICE / "requirements.lock"
# What the instance's boot runs from the artifact (sourced by the launch template's user data): under ``boot/``.
BOOT_SOURCE = SERVICE / "boot"
DIST = ROOT / "dist"
POINTER_NAME = "payment-api.json"
CACHE = ROOT / ".artifact-cache"
KINDS = ("development", "production")
CA_BUNDLE_VARIABLE = "RDS_CA_BUNDLE"
AWS_GLOBAL_BUNDLE = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
CA_BUNDLE_FILE = "rds-ca-bundle.pem"
# What the boot installs with ``pip install --no-index --require-hashes -r``: every wheel of the artifact (the
# wheelhouse's and the service's) by name==version with its sha256.
BOOT_LOCK_FILE = "requirements.lock"
UNVERIFIED_VARIABLE = "RDS_CA_BUNDLE_UNVERIFIED"
PINNED_ROOTS_FILE = FACTS_DIR / "rds_root_cas.json"
PRODUCTION_FIX = "make artifact ARTIFACT_KIND=production RDS_CA_BUNDLE=<path or https URL of AWS's global bundle>"
# 1980-01-01: the earliest time a zip entry can carry; used for every wheel and tar entry.
SOURCE_DATE_EPOCH = 315532800
# The instances: CPython 3.11 from the Amazon Linux 2023 repository, glibc 2.34, x86_64.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_34_x86_64")
TARGET_MARKERS: dict[str, str] = {
    **{key: str(value) for key, value in default_environment().items()},
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


class ArtifactError(ValueError):
    """The artifact cannot be built as asked; the message names the input and the fix."""


@dataclass(frozen=True)
class CaBundle:
    """The PEM bytes, where they came from and whether they hold every pinned RDS root (recorded in the manifest)."""

    pem: bytes
    source: str
    verified: bool = False


def pinned_roots(path: Path | None = None) -> dict[str, str]:
    """``{sha256 fingerprint: certificate name}`` of the RDS root CAs a production bundle must hold
    (@default :data:`PINNED_ROOTS_FILE`)."""
    data = json.loads((path or PINNED_ROOTS_FILE).read_text(encoding="utf-8"))
    return {str(root["sha256"]).lower(): str(root["name"]) for root in data["roots"]}


def _certificate_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def verify_bundle(pem: bytes, given: str, pinned: dict[str, str] | None = None) -> list[str]:
    """Raise :class:`ArtifactError` naming every pinned root ``pem`` lacks; return the names of the certificates
    it holds beyond them (a warning, not an error: AWS's bundle also carries intermediates and other regions)."""
    pinned = pinned_roots() if pinned is None else pinned
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise ArtifactError(f"{CA_BUNDLE_VARIABLE}={given}: not a readable PEM certificate bundle ({error})") from error
    held = {certificate.fingerprint(hashes.SHA256()).hex(): certificate for certificate in certificates}
    missing = sorted(name for fingerprint, name in pinned.items() if fingerprint not in held)
    if missing:
        what = (
            f"holds none of the {len(pinned)} RDS root CAs pinned in {PINNED_ROOTS_FILE.name} (it is not "
            "AWS's RDS bundle)"
            if len(missing) == len(pinned)
            else f"lacks {len(missing)} of the {len(pinned)} RDS root CAs pinned in {PINNED_ROOTS_FILE.name}: "
            f"{', '.join(missing)}"
        )
        raise ArtifactError(
            f"{CA_BUNDLE_VARIABLE}={given} {what}. Fix: give AWS's global bundle "
            f"({AWS_GLOBAL_BUNDLE}) or a copy of it; only to synthesize without deploying, build with "
            f"{UNVERIFIED_VARIABLE}=1 (--ca-bundle-unverified)"
        )
    return sorted(_certificate_name(cert) for fingerprint, cert in held.items() if fingerprint not in pinned)


def project(source: Path = SERVICE) -> dict[str, Any]:
    """``[project]`` of ``source``'s pyproject.toml (@default the service's)."""
    data = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["project"])


def _record_hash(data: bytes) -> str:
    return "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _wheel_metadata(meta: dict[str, Any], top_level: str) -> dict[str, bytes]:
    name, version = str(meta["name"]), str(meta["version"])
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {meta['description']}",
        f"Requires-Python: {meta['requires-python']}",
    ]
    lines += [f"Requires-Dist: {dependency}" for dependency in meta["dependencies"]]
    scripts: dict[str, str] = dict(meta.get("scripts", {}))
    entry_points = "[console_scripts]\n" + "".join(f"{key} = {value}\n" for key, value in sorted(scripts.items()))
    return {
        "METADATA": ("\n".join(lines) + "\n").encode(),
        "entry_points.txt": entry_points.encode(),
        "top_level.txt": f"{top_level}\n".encode(),
        "WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tools.release.build_artifact\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }


def _zip_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_wheel(out_dir: Path, source: Path = SERVICE) -> Path:
    """The ``py3-none-any`` wheel of the project in ``source`` (@default the service; its one package under
    ``src/``): package files sorted, fixed timestamps, a RECORD of hashes."""
    meta = project(source)
    dist_name = str(meta["name"]).replace("-", "_")
    dist_info = f"{dist_name}-{meta['version']}.dist-info"
    (package,) = [path for path in sorted((source / "src").iterdir()) if (path / "__init__.py").is_file()]
    files = {
        path.relative_to(package.parent).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    files.update({f"{dist_info}/{name}": data for name, data in _wheel_metadata(meta, package.name).items()})
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in sorted(files.items()))
    record += f"{dist_info}/RECORD,,\n"
    wheel = out_dir / f"{dist_name}-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in sorted(files.items()):
            _zip_entry(archive, name, data)
        _zip_entry(archive, f"{dist_info}/RECORD", record.encode())
    return wheel


def _lock_pins(lock: Path | None = None) -> list[Pin]:
    """The lock's pins (@default :data:`LOCK_FILE`); a line that is no exact pin, or a pin without hashes, refused."""
    path = lock or LOCK_FILE
    try:
        pins = lock_pins(path)
    except LockError as error:
        raise ArtifactError(str(error)) from error
    unhashed = [f"{pin.name}=={pin.version}" for pin in pins if not pin.hashes]
    if unhashed:
        raise ArtifactError(
            f"{path.name}: {', '.join(unhashed)} carry no --hash, so their wheels cannot be checked before they go "
            f"into the artifact. Fix: {LOCK_FIX}"
        )
    return pins


def locked_requirements(lock: Path | None = None) -> list[str]:
    """``name==version`` of every pin of the lock file (@default :data:`LOCK_FILE`; each carries its hashes)."""
    return [f"{pin.name}=={pin.version}" for pin in _lock_pins(lock)]


def verify_wheelhouse(wheels: list[Path], lock: Path | None = None) -> None:
    """Every wheel is the one the lock pins, with a sha256 the lock lists; one wheel per pin, no other file.

    Run on every build, whether the wheels were just downloaded or come from the cache: the cache is never trusted."""
    allowed = {pin.key: pin for pin in _lock_pins(lock)}
    problems, seen = [], set()
    for wheel in wheels:
        name, version, _, _ = parse_wheel_filename(wheel.name)
        pin = allowed.get(canonicalize_name(name))
        digest = _sha256(wheel.read_bytes())
        if pin is None or str(version) != str(Version(pin.version)):
            problems.append(f"{wheel.name} is not in the lock")
        elif digest not in pin.hashes:
            problems.append(
                f"{wheel.name} has sha256 {digest}, which the lock does not list for {pin.name}=={pin.version}"
            )
        seen.add(canonicalize_name(name))
    problems += [f"no wheel for {pin.name}=={pin.version}" for key, pin in sorted(allowed.items()) if key not in seen]
    if len(wheels) != len(seen):
        problems.append("more than one wheel for a pin")
    if problems:
        folder = wheels[0].parent if wheels else CACHE
        raise ArtifactError(
            "the wheelhouse does not match the lock's hashes: " + "; ".join(problems) + f". Fix: delete {folder} and "
            "run make artifact again (it downloads the wheels with --require-hashes); if the lock changed, " + LOCK_FIX
        )


def wheelhouse_folder(pins: list[str], cache: Path = CACHE) -> Path:
    """Where the wheels of this lock content are cached (a changed lock downloads into a new folder)."""
    return cache / f"wheels-{hashlib.sha256(chr(10).join(sorted(pins)).encode()).hexdigest()[:16]}"


def download_wheelhouse(pins: list[str], cache: Path = CACHE, lock: Path | None = None) -> list[Path]:
    """The locked wheels for CPython 3.11 manylinux x86_64, downloaded once per lock content into ``cache`` with
    ``--require-hashes`` (the lock, @default :data:`LOCK_FILE`) and checked against the lock's hashes on every call."""
    folder = wheelhouse_folder(pins, cache)
    done = folder / ".complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--abi",
            "abi3",
            "--abi",
            "none",
            "--dest",
            str(folder),
            "--require-hashes",
            "-r",
            str(lock or LOCK_FILE),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        if result.returncode != 0:
            raise ArtifactError(f"pip download of the locked wheels failed (PyPI reachable?): {result.stderr[-1500:]}")
        done.touch()
    wheels = sorted(folder.glob("*.whl"))
    found = {canonicalize_name(parse_wheel_filename(wheel.name)[0]) for wheel in wheels}
    missing = sorted({canonicalize_name(pin.split("==")[0]) for pin in pins} - found)
    if missing:
        raise ArtifactError(f"no wheel downloaded for {', '.join(missing)}; delete {folder} and run again")
    verify_wheelhouse(wheels, lock)
    return wheels


def _requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode("utf-8")
    return [
        Requirement(line.split(":", 1)[1].strip()) for line in text.splitlines() if line.startswith("Requires-Dist:")
    ]


def check_closed(wheels: list[Path]) -> None:
    """Every requirement (for the target, no extras) of every wheel is met by a wheel of the set."""
    versions = {
        canonicalize_name(parse_wheel_filename(wheel.name)[0]): parse_wheel_filename(wheel.name)[1] for wheel in wheels
    }
    problems = []
    for wheel in wheels:
        for requirement in _requires(wheel):
            if requirement.marker is not None and not requirement.marker.evaluate({**TARGET_MARKERS, "extra": ""}):
                continue
            have = versions.get(canonicalize_name(requirement.name))
            if have is None or not requirement.specifier.contains(have, prereleases=True):
                problems.append(f"{wheel.name} needs {requirement} (wheelhouse: {have or 'none'})")
    if problems:
        raise ArtifactError(
            "the wheelhouse is not closed; pin these in services/payment_api/requirements.lock: " + "; ".join(problems)
        )


DEVELOPMENT_CA_SOURCE = "development test CA (tools/dev/local_api/testca.py; public key, not for production)"


def ca_bundle(kind: str, given: str | None, *, unverified: bool = False) -> CaBundle:
    """The CA bundle the artifact carries: ``given`` (path or URL), or the development test CA outside production.

    A production bundle must hold every pinned RDS root (:func:`verify_bundle`); ``unverified`` (production only)
    skips that and takes the development test CA when no bundle is given: an artifact to synthesize, not deploy.
    """
    if unverified and kind != "production":
        raise ArtifactError(
            f"{UNVERIFIED_VARIABLE}=1 (--ca-bundle-unverified) is for ARTIFACT_KIND=production only; "
            "a development artifact is never verified. Fix: drop it, or add ARTIFACT_KIND=production"
        )
    if not given:
        if kind == "production" and not unverified:
            raise ArtifactError(
                f"{CA_BUNDLE_VARIABLE} is not set: a production artifact must carry the RDS CA bundle that "
                "sslmode=verify-full checks the database against. Fix: on a build machine with internet, "
                f"`make artifact ARTIFACT_KIND=production {CA_BUNDLE_VARIABLE}={AWS_GLOBAL_BUNDLE}`, or give the "
                f"path of a copy downloaded from there (only to synthesize, not deploy: {UNVERIFIED_VARIABLE}=1)"
            )
        return CaBundle(pem=development_ca().pem, source=DEVELOPMENT_CA_SOURCE)
    bundle = _read_bundle(given)
    if kind != "production" or unverified:
        return bundle
    extra = verify_bundle(bundle.pem, given)
    if extra:
        print(
            f"[artifact] warning: {CA_BUNDLE_VARIABLE}={given} holds {len(extra)} certificate(s) beyond the pinned "
            f"RDS roots (kept in the bundle): {', '.join(extra)}",
            file=sys.stderr,
        )
    return CaBundle(pem=bundle.pem, source=bundle.source, verified=True)


def _read_bundle(given: str) -> CaBundle:
    """The PEM bytes of a path or an https URL."""
    if re.match(r"https?://", given):
        if not given.startswith("https://"):
            raise ArtifactError(f"{CA_BUNDLE_VARIABLE}={given}: fetch the bundle over https")
        try:
            with urllib.request.urlopen(given, timeout=30) as response:
                pem = response.read()
        except OSError as error:
            raise ArtifactError(
                f"{CA_BUNDLE_VARIABLE}={given}: cannot download it ({error}). Fix: download it on a "
                "machine that reaches it and give the file's path"
            ) from error
    else:
        path = Path(given)
        if not path.is_file():
            raise ArtifactError(f"{CA_BUNDLE_VARIABLE}={given}: no such file; give a path or an https URL")
        pem = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ArtifactError(f"{CA_BUNDLE_VARIABLE}={given}: not a PEM certificate bundle")
    return CaBundle(pem=pem, source=given)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def boot_lock(wheels: list[Path]) -> bytes:
    """:data:`BOOT_LOCK_FILE`: ``name==version --hash=sha256:<digest>`` of each wheel, sorted by name."""
    lines = [
        "# The wheels of this artifact, each with its sha256: the boot installs exactly these",
        "# (pip install --no-index --find-links wheelhouse --find-links . --require-hashes -r requirements.lock).",
    ]
    for wheel in sorted(wheels, key=lambda path: canonicalize_name(parse_wheel_filename(path.name)[0])):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        lines.append(f"{name}=={version} --hash=sha256:{_sha256(wheel.read_bytes())}")
    return ("\n".join(lines) + "\n").encode()


def boot_files(source: Path = BOOT_SOURCE) -> dict[str, bytes]:
    """``boot/<name>``: the second boot stage the user data sources, the systemd units and the logrotate rule."""
    files = {f"boot/{path.name}": path.read_bytes() for path in sorted(source.iterdir()) if path.is_file()}
    if "boot/configure.sh" not in files:
        raise ArtifactError(f"{source}/configure.sh is missing: the user data sources it from the artifact")
    return files


def _tar_bytes(entries: dict[str, bytes]) -> bytes:
    """A gzipped tar of ``entries`` (name -> bytes), sorted, owner 0/0, fixed mtime, gzip header mtime 0."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(entries[name]), SOURCE_DATE_EPOCH, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(entries[name]))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=compressed, mode="wb", mtime=0, compresslevel=9) as archive:
        archive.write(raw.getvalue())
    return compressed.getvalue()


def build(  # pylint: disable=too-many-arguments  # keyword-only options of make artifact
    kind: str,
    ca_source: str | None,
    out: Path = DIST,
    cache: Path | None = None,
    *,
    unverified: bool = False,
    version_label: str | None = None,
) -> dict[str, Any]:
    """Build the archive into ``out``; return the pointer written to ``out/payment-api.json``.

    ``version_label`` is appended to the service's version as a PEP 440 local label (``0.1.0+<label>``) in the
    archive's name, manifest and pointer: another release of the same sources (the sandbox's release B, which it
    rolls back from). @default None - the service's version."""
    if kind not in KINDS:
        raise ArtifactError(f"ARTIFACT_KIND={kind}: use one of {', '.join(KINDS)}")
    if version_label is not None and not re.fullmatch(r"[a-z0-9]+(?:\.[a-z0-9]+)*", version_label):
        raise ArtifactError(
            f"--version-label {version_label!r}: use lowercase letters and digits in dot-separated parts (PEP 440's "
            "local version label), e.g. sandbox.b"
        )
    bundle = ca_bundle(kind, ca_source, unverified=unverified)
    version = str(project()["version"]) + (f"+{version_label}" if version_label else "")
    out.mkdir(parents=True, exist_ok=True)
    service_wheel, contract_wheel = build_wheel(out), build_wheel(out, CONTRACT)
    wheels = [*download_wheelhouse(locked_requirements(), cache or CACHE), contract_wheel]
    check_closed([*wheels, service_wheel])
    top = f"payment-api-{version}"
    files = {
        service_wheel.name: service_wheel.read_bytes(),
        CA_BUNDLE_FILE: bundle.pem,
        BOOT_LOCK_FILE: boot_lock([*wheels, service_wheel]),
        **{f"wheelhouse/{wheel.name}": wheel.read_bytes() for wheel in wheels},
        **boot_files(),
    }
    service_wheel.unlink()
    contract_wheel.unlink()
    manifest: dict[str, Any] = {
        "name": "payment-api",
        "version": version,
        "build_kind": kind,
        "python": "cp311",
        "platform": "manylinux x86_64",
        "service_wheel": service_wheel.name,
        "ca_bundle": {
            "file": CA_BUNDLE_FILE,
            "sha256": _sha256(bundle.pem),
            "source": bundle.source,
            "verified": bundle.verified,
        },
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    entries = {f"{top}/{name}": data for name, data in files.items()}
    entries[f"{top}/manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    archive = _tar_bytes(entries)
    name = f"{top}-{kind}.tar.gz"
    for old in out.glob("payment-api-*.tar.gz*"):
        old.unlink()
    (out / name).write_bytes(archive)
    digest = _sha256(archive)
    (out / f"{name}.sha256").write_text(f"{digest}  {name}\n", encoding="utf-8")
    pointer = {
        "archive": name,
        "version": version,
        "build_kind": kind,
        "sha256": digest,
        "ca_bundle_sha256": manifest["ca_bundle"]["sha256"],
        "ca_bundle_source": bundle.source,
        "ca_bundle_verified": bundle.verified,
    }
    (out / POINTER_NAME).write_text(json.dumps(pointer, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return pointer


def _inputs_digest() -> str:
    """A hash of everything a build reads (the service, its lock, the builder, the test CA, the pinned roots)."""
    files = sorted(
        path
        for source in (SERVICE, CONTRACT)
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path)
    )
    files += [Path(__file__).resolve(), ROOT / "tools" / "dev" / "local_api" / "testca.py", PINNED_ROOTS_FILE]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def unverified_production_pointer(cache: Path = CACHE) -> Path:
    """The pointer of an unverified production artifact built from the development test CA, built once per inputs
    into ``cache`` (seconds: the wheelhouse is cached there too).

    For whatever synthesizes a production stack without deploying it: the unit tests, ``make compliance``,
    ``make upgrade-check``, ``make regions``. ``dist/`` is left alone (it holds the user's own artifact).
    """
    folder = cache / f"production-unverified-{_inputs_digest()}"
    pointer = folder / POINTER_NAME
    if not pointer.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
        try:
            build("production", None, staging, cache, unverified=True)
            try:
                staging.rename(folder)
            except OSError:  # another process finished the same build first: keep its (identical) bytes
                if not pointer.is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for old in cache.glob("production-unverified-*"):  # builds of earlier inputs (13 MB each)
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    return pointer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default=os.environ.get("ARTIFACT_KIND") or "development", choices=KINDS)
    parser.add_argument(
        "--ca-bundle",
        default=os.environ.get(CA_BUNDLE_VARIABLE) or None,
        help=f"path or https URL of the RDS CA bundle (default: ${CA_BUNDLE_VARIABLE})",
    )
    parser.add_argument(
        "--ca-bundle-unverified",
        action="store_true",
        default=os.environ.get(UNVERIFIED_VARIABLE, "").strip() == "1",
        help="production only: skip the pinned-root check (the development test CA when no bundle is "
        f"given); recorded as ca_bundle_verified=false, which make deploy refuses "
        f"(default: ${UNVERIFIED_VARIABLE}=1)",
    )
    parser.add_argument("--out", type=Path, default=DIST)
    parser.add_argument(
        "--version-label",
        default=None,
        help="another release of the same sources: the version becomes <version>+<label> (e.g. sandbox.b)",
    )
    args = parser.parse_args(argv)
    try:
        pointer = build(
            args.kind,
            args.ca_bundle,
            args.out,
            unverified=args.ca_bundle_unverified,
            version_label=args.version_label,
        )
    except ArtifactError as error:
        print(f"[artifact] {error}", file=sys.stderr)
        return 2
    print(
        f"[artifact] {args.out / pointer['archive']} ({pointer['build_kind']}, sha256 {pointer['sha256']}; "
        f"CA bundle: {pointer['ca_bundle_source']}"
        + (
            ("; verified against the pinned RDS roots" if pointer["ca_bundle_verified"] else "; NOT verified")
            if pointer["build_kind"] == "production"
            else ""
        )
        + ")"
    )
    if pointer["build_kind"] == "production" and not pointer["ca_bundle_verified"]:
        print(
            f"[artifact] warning: an unverified production artifact synthesizes (tests, make compliance) but "
            f"make deploy refuses it; for a deployable one: {PRODUCTION_FIX}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
