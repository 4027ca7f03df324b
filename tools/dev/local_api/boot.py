"""What a payment API instance does at boot, done locally and unprivileged (the sandbox's ``boot`` phase).

The user data (``lib/blocks/templates/payment_api_user_data.sh``) fetches the artifact, checks its sha256, installs it
offline into a venv, reads the runtime parameter and the RDS master secret, provisions this instance's database
roles, migrates as the owner login and serves as the application login. ``boot_and_pay`` runs the same steps with
the same artifact and the same commands, with three stand-ins: the archive's bytes and the two settings documents are
given by the caller (the sandbox reads them from the emulator), a local PostgreSQL 15 with TLS stands in for RDS
(its server certificate signed by the development test CA, which a development artifact carries as its RDS bundle),
and the service listens on a free loopback port. Then it makes a payment and a refund through HTTP.

What it cannot show: systemd, the IMDS guard and the CloudWatch agent (no instance here; the unit tests read
those lines from the synthesized user data).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tools.dev.local_api.postgres import LocalPostgres
from tools.dev.local_api.process import ServiceProcess
from tools.dev.local_api.testca import development_ca

SANDBOX_INSTANCE_ID = "i-0sandbox0000000000"
PAYMENT = {"amount": 2500, "currency": "EUR", "payment_method": "pm_card_visa"}


class BootFailed(RuntimeError):
    """A boot step failed; the message names the step and where its output is."""


@dataclass
class BootReport:
    """What the boot did, for the sandbox summary."""

    steps: list[str] = field(default_factory=list)
    payment_id: str = ""
    refund_id: str = ""


def verify(archive: bytes, expected_sha256: str) -> None:
    """The instance's ``sha256sum --check``: refuse bytes that are not the artifact the stack names."""
    actual = hashlib.sha256(archive).hexdigest()
    if actual != expected_sha256:
        raise BootFailed(f"artifact sha256 {actual} does not match the expected {expected_sha256}")


def extract(archive: bytes, target: Path) -> dict[str, Any]:
    """Unpack (top folder stripped, as ``tar --strip-components=1``) and return the manifest."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not name or not member.isfile():
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(extracted.read())
    manifest: dict[str, Any] = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def _run(log: Path, *command: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command[:4])} ...\n")
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, env=env)
        out.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BootFailed(f"{Path(command[0]).name} {' '.join(command[1:3])} exited {result.returncode} (log: {log})")
    return result.stdout


def install(app: Path, manifest: dict[str, Any], log: Path) -> Path:
    """``python3.11 -m venv`` + ``pip install --no-index --find-links wheelhouse``; returns the venv's python."""
    _run(log, sys.executable, "-m", "venv", str(app / "venv"))
    python = app / "venv" / "bin" / "python"
    _run(
        log,
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-index",
        "--find-links",
        str(app / "wheelhouse"),
        str(app / manifest["service_wheel"]),
    )
    return python


def read_env(path: Path) -> dict[str, str]:
    return dict(re.findall(r'^([A-Z_]+)="(.*)"$', path.read_text(encoding="utf-8"), re.M))


def common_env(runtime: dict[str, str], app: Path, database: LocalPostgres) -> dict[str, str]:
    """The boot step's common.env, with the local stand-in's address in place of the RDS endpoint."""
    return {
        "PAYMENT_ENVIRONMENT": runtime["environment"],
        "PAYMENT_PROCESSOR": runtime["processor"],
        "PAYMENT_CORS_ORIGINS": runtime["cors_origins"],
        "PAYMENT_DB_HOST": "127.0.0.1",
        "PAYMENT_DB_PORT": str(database.port),
        "PAYMENT_DB_NAME": runtime["db_name"],
        "PAYMENT_DB_SSLMODE": "verify-full",
        "PAYMENT_DB_SSLROOTCERT": str(app / "rds-ca-bundle.pem"),
        "PATH": "/usr/bin:/bin",
    }


def pay_and_refund(url: str, operator_key: str, report: BootReport) -> None:
    """One payment and a refund of part of it, through HTTP, as a client would."""
    with httpx.Client(base_url=url, timeout=15) as client:
        paid = client.post("/v1/payments", json=PAYMENT, headers={"Idempotency-Key": f"sandbox-{uuid.uuid4()}"})
        if paid.status_code != 201:
            raise BootFailed(f"POST /v1/payments answered {paid.status_code}: {paid.text[:300]}")
        report.payment_id = paid.json()["id"]
        refunded = client.post(
            f"/v1/payments/{report.payment_id}/refunds",
            json={"amount": 1000, "reason": "requested_by_customer"},
            headers={"Authorization": f"Bearer {operator_key}", "Idempotency-Key": f"sandbox-{uuid.uuid4()}"},
        )
        if refunded.status_code != 201:
            raise BootFailed(
                f"POST /v1/payments/{report.payment_id}/refunds answered {refunded.status_code}: {refunded.text[:300]}"
            )
        report.refund_id = refunded.json()["id"]


def _provision_and_migrate(
    python: Path, common: dict[str, str], secret: dict[str, str], folder: Path, log: Path
) -> dict[str, str]:
    payment_api = str(python.parent / "payment-api")
    _run(
        log,
        payment_api,
        "provision-roles",
        "--instance-id",
        SANDBOX_INSTANCE_ID,
        "--migrate-env",
        str(folder / "migrate.env"),
        "--app-env",
        str(folder / "serve.env"),
        env={**common, "PAYMENT_DB_MASTER_USER": secret["username"], "PAYMENT_DB_MASTER_PASSWORD": secret["password"]},
    )
    migrate = {**common, **read_env(folder / "migrate.env")}
    _run(log, payment_api, "migrate", env=migrate)
    # An operator key for the refund (created with the owner login, as an operator would).
    created = _run(log, payment_api, "create-operator-key", "--label", "sandbox boot", env=migrate)
    return {
        "operator_key": created.strip().splitlines()[-1].removeprefix("Operator key: "),
        **{f"serve:{key}": value for key, value in read_env(folder / "serve.env").items()},
    }


def boot_and_pay(
    archive: bytes, expected_sha256: str, runtime: dict[str, str], secret: dict[str, str], folder: Path
) -> BootReport:
    """Every boot step on ``archive``, then a payment and a refund; stops what it started, always."""
    report, log = BootReport(), folder / "boot.log"
    folder.mkdir(parents=True, exist_ok=True)
    verify(archive, expected_sha256)
    report.steps.append(f"sha256 {expected_sha256[:12]}... verified")
    app = folder / "app"
    manifest = extract(archive, app)
    python = install(app, manifest, log)
    report.steps.append(
        f"installed {manifest['service_wheel']} + {len(list((app / 'wheelhouse').glob('*.whl')))} "
        f"wheels offline ({manifest['build_kind']} build)"
    )
    database = LocalPostgres(ca=development_ca())
    service: ServiceProcess | None = None
    try:
        database.start(bootstrap=False)
        database.rds_master(secret["username"], secret["password"])
        common = common_env(runtime, app, database)
        values = _provision_and_migrate(python, common, secret, folder, log)
        report.steps.append("roles provisioned, schema migrated as the owner login")
        serve_env = {
            **common,
            **{key.removeprefix("serve:"): value for key, value in values.items() if key.startswith("serve:")},
        }
        service = ServiceProcess(serve_env, folder / "api.log", python=str(python)).start()
        service.wait_ready()
        pay_and_refund(service.url, values["operator_key"], report)
        report.steps.append(f"payment {report.payment_id} and refund {report.refund_id} through HTTP")
    finally:
        if service is not None:
            service.stop()
        database.stop()
    return report
