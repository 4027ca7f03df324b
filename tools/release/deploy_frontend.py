"""``make deploy-frontend``: build the checkout, upload what changed to the frontend bucket, invalidate CloudFront.

1. ``npm ci`` in ``web/`` when ``package-lock.json`` is newer than the install stamp, and ``npm run build`` when
   ``web/dist`` is older than any source (``--skip-build`` uploads ``web/dist`` as it is).
2. The bucket and distribution come from ``FRONTEND_BUCKET`` and ``CLOUDFRONT_DISTRIBUTION_ID`` when set, else
   from ``cfn-outputs/flat-outputs.json`` (``--outputs-file``), stack ``TapStack<ENVIRONMENT_SUFFIX>``.
3. Each file gets its Content-Type from a fixed table (an unknown extension stops the deploy rather than
   serve it as something a browser might sniff) and its Cache-Control: Vite's content-hashed assets
   (``assets/<name>-<hash>.<ext>``) are ``public, max-age=31536000, immutable``; everything else, ``index.html``
   first of all, is ``no-cache`` so a new release is seen at once.
4. Only files whose SHA-256 (kept in the object's ``x-amz-meta-sha256``: with SSE-KMS an ETag is no MD5),
   Content-Type or Cache-Control differ from the bucket's current object are uploaded: hashed assets first,
   ``index.html`` last, so the page never names an asset that is not there yet. Earlier hashed assets stay
   (a browser holding the previous ``index.html`` still loads them; versioning expires replaced objects).
5. ``config.json`` is never uploaded: the stack owns it (``lib/blocks/web_headers.py``); a ``web/dist/config.json``
   left by ``make web`` is skipped and said so.
6. One CloudFront invalidation for the changed non-hashed paths (``/index.html`` also invalidates ``/``);
   hashed assets are new names and need none.
7. The integrity manifest (``integrity-manifest.json``: the sha256 of ``index.html`` and of every script of the
   build, ``tools/page_integrity/manifest.py``) is written after ``index.html`` when it changed, and invalidated with
   it: the scheduled page-integrity check compares what CloudFront serves with it (PCI DSS 6.4.3, 11.6.1). A
   ``web/dist/integrity-manifest.json`` is never uploaded as a file: the deploy writes its own.

boto3 follows ``AWS_ENDPOINT_URL`` (the sandbox points it at the emulator) and the usual credential chain.

    python -m tools.release.deploy_frontend [--skip-build] [--dist web/dist]
                                            [--outputs-file cfn-outputs/flat-outputs.json] [--summary-json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_contract.identity import Output

from lib.blocks.web_headers import IMMUTABLE, NO_CACHE, RUNTIME_CONFIG_KEY
from lib.config import stack_name_for
from tools.deploy import outputs
from tools.page_integrity.manifest import MANIFEST_KEY, build_manifest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DEFAULT_OUTPUTS_FILE = outputs.OUTPUTS_FILE
CHECKSUM_METADATA = "sha256"
# Vite's default asset names: assets/<name>-<8 url-safe base64 characters>.<ext>.
HASHED_ASSET = re.compile(r"^assets/(?:.+/)?[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
# What a build is made from: dist is rebuilt when any of these is newer than dist/index.html.
BUILD_INPUTS = ("src", "public", "index.html", "package-lock.json", "vite.config.ts", "tsconfig.json")
# The two builds of web/vite.config.ts (docs/checkout.md, "Build modes"): what is deployed is always the production
# one (Stripe's card element only); the development one (the simulated tokenizer too) is for make web and the tests.
BUILDS = {"production": ("dist", "build"), "development": ("dist-dev", "build:dev")}


class DeployError(RuntimeError):
    """The deploy cannot go on; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class LocalFile:
    """One built file as it should be in the bucket."""

    key: str
    path: Path
    sha256: str
    content_type: str
    cache_control: str

    @property
    def hashed(self) -> bool:
        return self.cache_control == IMMUTABLE


@dataclass(frozen=True)
class RemoteObject:
    """What the bucket holds under a key (the parts the deploy compares)."""

    sha256: str | None
    content_type: str | None
    cache_control: str | None


def content_type(key: str) -> str:
    """The Content-Type for ``key`` from ``CONTENT_TYPES``; an unknown extension is refused."""
    suffix = Path(key).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise DeployError(
            f"web/dist/{key}: no Content-Type for {suffix or 'a file without extension'!r}; "
            f"allowed: {', '.join(sorted(CONTENT_TYPES))}. "
            "Fix: add it to CONTENT_TYPES in tools/release/deploy_frontend.py"
        )
    return CONTENT_TYPES[suffix]


def cache_control(key: str) -> str:
    """Immutable for content-hashed assets (a new build has new names), ``no-cache`` for everything else."""
    return IMMUTABLE if HASHED_ASSET.match(key) else NO_CACHE


def local_files(dist: Path) -> tuple[list[LocalFile], list[str]]:
    """Every file of the build with its headers, and the keys skipped (``config.json``: the stack owns it)."""
    if not (dist / "index.html").is_file():
        raise DeployError(f"{dist} has no index.html: build first (`make deploy-frontend` builds when needed)")
    files, skipped = [], []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = path.relative_to(dist).as_posix()
        if key in (RUNTIME_CONFIG_KEY, MANIFEST_KEY):
            skipped.append(key)
            continue
        files.append(
            LocalFile(
                key=key,
                path=path,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                content_type=content_type(key),
                cache_control=cache_control(key),
            )
        )
    return files, skipped


def changed_files(files: Iterable[LocalFile], remote: Mapping[str, RemoteObject]) -> list[LocalFile]:
    """The files to upload, in upload order: hashed assets, other files, ``index.html`` last."""
    changed = [f for f in files if remote.get(f.key) != RemoteObject(f.sha256, f.content_type, f.cache_control)]
    return sorted(changed, key=lambda f: (not f.hashed, f.key == "index.html", f.key))


def invalidation_paths(changed: Iterable[LocalFile]) -> list[str]:
    """CloudFront paths to invalidate: changed non-hashed files; ``index.html`` is also served for ``/``."""
    paths = set()
    for file in changed:
        if file.hashed:
            continue
        paths.add(f"/{file.key}")
        if file.key == "index.html":
            paths.add("/")
    return sorted(paths)


def deploy_targets(environ: Mapping[str, str], outputs_file: Path) -> tuple[str, str]:
    """(bucket, distribution id) from ``FRONTEND_BUCKET``/``CLOUDFRONT_DISTRIBUTION_ID`` or the outputs file."""
    bucket, distribution = environ.get("FRONTEND_BUCKET", "").strip(), environ.get("CLOUDFRONT_DISTRIBUTION_ID", "")
    if bucket and distribution.strip():
        return bucket, distribution.strip()
    suffix = environ.get("ENVIRONMENT_SUFFIX") or "dev"
    stack = stack_name_for(suffix)
    fix = (
        f"Fix: deploy the stack with `make deploy ENVIRONMENT={suffix}` (it writes the "
        f"outputs to {outputs_file.name} after apply and runs this step itself), or set FRONTEND_BUCKET and "
        "CLOUDFRONT_DISTRIBUTION_ID (the stack outputs frontend_bucket_name and cloudfront_distribution_id)"
    )
    if not outputs_file.is_file():
        raise DeployError(
            f"no frontend bucket: FRONTEND_BUCKET/CLOUDFRONT_DISTRIBUTION_ID are not both set and "
            f"{outputs_file} does not exist. {fix}"
        )
    try:
        stack_outputs = outputs.stack_outputs(stack, outputs_file)
    except outputs.OutputsError as err:
        raise DeployError(f"{err} (ENVIRONMENT_SUFFIX). {fix}") from err
    bucket = bucket or str(stack_outputs.get(Output.FRONTEND_BUCKET_NAME) or "")
    distribution = distribution.strip() or str(stack_outputs.get(Output.CLOUDFRONT_DISTRIBUTION_ID) or "")
    if not bucket or not distribution:
        raise DeployError(f"{outputs_file} lacks frontend_bucket_name or cloudfront_distribution_id for {stack}. {fix}")
    return bucket, distribution


def remote_objects(s3: Any, bucket: str, keys: Iterable[str]) -> dict[str, RemoteObject]:
    """The bucket's current objects among ``keys``: checksum metadata, Content-Type, Cache-Control."""
    wanted, found = set(keys), {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"] in wanted:
                head = s3.head_object(Bucket=bucket, Key=item["Key"])
                found[item["Key"]] = RemoteObject(
                    head.get("Metadata", {}).get(CHECKSUM_METADATA), head.get("ContentType"), head.get("CacheControl")
                )
    return found


def upload(s3: Any, bucket: str, files: Iterable[LocalFile]) -> None:
    """Put each file with its headers and checksum (the bucket's default SSE-KMS key encrypts it)."""
    for file in files:
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=file.path.read_bytes(),
            ContentType=file.content_type,
            CacheControl=file.cache_control,
            Metadata={CHECKSUM_METADATA: file.sha256},
        )


def upload_manifest(s3: Any, bucket: str, dist: Path) -> bool:
    """Write the build's integrity manifest unless the bucket holds the same bytes; whether it was written."""
    body = build_manifest(dist).to_json().encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    if remote_objects(s3, bucket, [MANIFEST_KEY]).get(MANIFEST_KEY) == RemoteObject(
        digest, CONTENT_TYPES[".json"], NO_CACHE
    ):
        return False
    s3.put_object(
        Bucket=bucket,
        Key=MANIFEST_KEY,
        Body=body,
        ContentType=CONTENT_TYPES[".json"],
        CacheControl=NO_CACHE,
        Metadata={CHECKSUM_METADATA: digest},
    )
    return True


def invalidate(cloudfront: Any, distribution: str, paths: list[str]) -> str:
    """One invalidation for ``paths``; its id."""
    batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": f"deploy-frontend-{time.time_ns()}"}
    created = cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch=batch)
    return str(created["Invalidation"]["Id"])


def _newest_mtime(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            if item.exists():
                newest = max(newest, item.stat().st_mtime)
    return newest


def ensure_build(web: Path = WEB, mode: str = "production") -> str:
    """``npm ci`` and the ``mode`` build (``BUILDS``; production by default) when inputs changed; what was done."""
    if mode not in BUILDS:
        raise DeployError(f"build mode {mode!r} is not one of {', '.join(BUILDS)} (web/vite.config.ts)")
    out, script = BUILDS[mode]
    done = []
    stamp, lock = web / "node_modules" / ".installed", web / "package-lock.json"
    if not stamp.is_file() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=True, timeout=900)
        stamp.touch()
        done.append("npm ci")
    index = web / out / "index.html"
    if not index.is_file() or index.stat().st_mtime < _newest_mtime(web / name for name in BUILD_INPUTS):
        subprocess.run(["npm", "run", "--silent", script], cwd=web, check=True, timeout=900)
        done.append(f"npm run {script}")
    return ", ".join(done) or "build up to date"


def deploy(s3: Any, cloudfront: Any, *, bucket: str, distribution: str, dist: Path) -> dict[str, Any]:
    """Upload what changed and invalidate it; a summary for the caller."""
    files, skipped = local_files(dist)
    changed = changed_files(files, remote_objects(s3, bucket, (f.key for f in files)))
    upload(s3, bucket, changed)
    manifest_written = upload_manifest(s3, bucket, dist)
    paths = sorted([*invalidation_paths(changed), *([f"/{MANIFEST_KEY}"] if manifest_written else [])])
    invalidation = invalidate(cloudfront, distribution, paths) if paths else None
    return {
        "bucket": bucket,
        "files": len(files),
        "uploaded": [f.key for f in changed],
        "skipped": skipped,
        "invalidated": paths,
        "invalidation_id": invalidation,
        "manifest": "written" if manifest_written else "unchanged",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-build", action="store_true", help="upload web/dist as it is")
    parser.add_argument("--dist", type=Path, default=WEB / "dist")
    parser.add_argument("--summary-json", type=Path, help="also write the summary here (the sandbox reads it)")
    parser.add_argument(
        "--outputs-file", type=Path, default=Path(os.environ.get("SANDBOX_OUTPUTS_FILE") or DEFAULT_OUTPUTS_FILE)
    )
    args = parser.parse_args(argv)
    try:
        bucket, distribution = deploy_targets(os.environ, args.outputs_file)
        if not args.skip_build:
            print(f"[deploy-frontend] {ensure_build()}", flush=True)
        import boto3  # pylint: disable=import-outside-toplevel  # only needed once the targets are known

        summary = deploy(
            boto3.client("s3"), boto3.client("cloudfront"), bucket=bucket, distribution=distribution, dist=args.dist
        )
    except DeployError as error:
        print(f"[deploy-frontend] {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"[deploy-frontend] {' '.join(error.cmd)} exited {error.returncode}", file=sys.stderr)
        return 1
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for key in summary["skipped"]:
        owner = "this deploy writes its own" if key == MANIFEST_KEY else "the stack owns it (lib/blocks/web_headers.py)"
        print(f"[deploy-frontend] skipped {key}: {owner}")
    print(f"[deploy-frontend] {MANIFEST_KEY}: {summary['manifest']}")
    print(
        f"[deploy-frontend] s3://{bucket}: {len(summary['uploaded'])} of {summary['files']} files uploaded "
        f"({', '.join(summary['uploaded']) or 'none changed'}); invalidation: "
        f"{' '.join(summary['invalidated']) or 'none needed'}"
        + (f" ({summary['invalidation_id']})" if summary["invalidation_id"] else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
