"""The sandbox's post-apply hook: ``make deploy`` runs it (``DEPLOY_POST_APPLY_HOOK``) between the outputs and the
frontend, so the artifact boots before ``make verify-deployment``, on the path a user's deploy takes.

    python -m tools.sandbox.boot_phase      # AWS_ENDPOINT_URL, AWS_REGION, ENVIRONMENT_SUFFIX from make deploy

Reads what an instance reads from the emulator (the artifact object, the runtime parameter, the master secret),
boots it as ``tools/dev/local_api/boot.py`` does and pays and refunds through it; the boot's logs stay in
``sandbox-logs/boot/``, its venv and credential files are removed, its steps go to ``sandbox-logs/boot.json`` with
the byte range of the emulator's log its calls took (``moto_log_range``): they are the instance's calls, not the
deployer's, and the deployer-policy check leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from lib.config import stack_name_for
from tools.deploy.outputs import stack_outputs
from tools.sandbox.emulator import ROOT, client

LOG_DIR = ROOT / "sandbox-logs"
MOTO_LOG = LOG_DIR / "moto.log"
BOOT_REPORT = LOG_DIR / "boot.json"


class BootInputsError(RuntimeError):
    """What the stack wrote does not fit together (the message says which values)."""


def boot_inputs(endpoint: str, region: str, stack_name: str) -> tuple[bytes, str, dict[str, str], dict[str, str]]:
    """What an instance reads at boot, from the emulator: (archive, sha256 from the outputs, runtime parameter, master
    secret). The archive is the object the stack uploaded; the parameter must name the same bucket."""
    outputs = stack_outputs(stack_name)
    bucket, key = outputs["artifacts_bucket_name"], outputs["api_artifact_key"]
    archive = client("s3", endpoint, region).get_object(Bucket=bucket, Key=key)["Body"].read()
    parameter = client("ssm", endpoint, region).get_parameter(
        Name=outputs["api_runtime_parameter_name"], WithDecryption=True
    )
    runtime: dict[str, str] = json.loads(parameter["Parameter"]["Value"])
    if runtime["artifact_bucket"] != bucket:
        raise BootInputsError(f"the runtime parameter names bucket {runtime['artifact_bucket']}, the outputs {bucket}")
    secret_value = client("secretsmanager", endpoint, region).get_secret_value(SecretId=runtime["db_master_secret_arn"])
    secret: dict[str, str] = json.loads(secret_value["SecretString"])
    return archive, outputs["api_artifact_sha256"], runtime, secret


def main() -> int:
    """Boot and pay; exit 1 naming the step that failed."""
    from tools.dev.local_api.boot import boot_and_pay  # pylint: disable=import-outside-toplevel  # heavy: httpx, PG

    endpoint, region = os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_REGION"]
    stack = stack_name_for(os.environ["ENVIRONMENT_SUFFIX"])
    folder = LOG_DIR / "boot"
    start = _moto_log_size()
    steps: list[str] = []
    try:
        steps = boot_and_pay(*boot_inputs(endpoint, region, stack), folder=folder).steps
    except Exception as err:  # pylint: disable=broad-exception-caught  # said in one line; details in the boot log
        print(f"[boot] failed: {err} (logs: {folder.relative_to(ROOT)}/)", file=sys.stderr)
        return 1
    finally:
        # The venv and the credential files are this run's only: keep the logs, drop the rest.
        for name in ("app", "migrate.env", "serve.env"):
            target = folder / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        BOOT_REPORT.write_text(
            json.dumps({"steps": steps, "moto_log_range": [start, _moto_log_size()]}, indent=2) + "\n", encoding="utf-8"
        )
    print("[boot] " + "; ".join(steps), flush=True)
    return 0


def _moto_log_size() -> int:
    return MOTO_LOG.stat().st_size if MOTO_LOG.is_file() else 0


if __name__ == "__main__":
    sys.exit(main())
