"""The payment API release on the synthesized stack: the artifacts bucket and object, the runtime parameter, the
service's log group, and the user data that installs and runs it (decoded and read line by line), with the boot stage
the artifact carries (services/payment_api/boot/). What the boot does when it runs is the sandbox's boot rehearsal
(tests/sandbox/test_boot_rehearsal.py, tools/sandbox/boot_phase.py)."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from tap_contract import runtime

from lib.artifact import load_artifact
from lib.blocks.user_data import MAX_ENCODED_BYTES
from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_DEPLOYERS, PRODUCTION_ENV, production_artifact
from tests.unit.helpers import api_launch_template, by_path, ref
from tools.release.build_artifact import BOOT_SOURCE

HARDENING = (
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=\n",
    "AmbientCapabilities=\n",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "IPAddressDeny=169.254.169.254/32",
)


def user_data(resources: dict[str, Any]) -> str:
    return base64.b64decode(api_launch_template(resources)[1]["user_data"], validate=True).decode("utf-8")


def unit(name: str) -> str:
    """A systemd unit the artifact ships and the boot stage installs."""
    return (BOOT_SOURCE / name).read_text(encoding="utf-8")


def configure() -> str:
    """The boot's second stage, which the user data sources from the verified artifact: configure.sh and the
    boot/prepare.sh it sources (settings, shared with the migration host)."""
    return "".join((BOOT_SOURCE / name).read_text(encoding="utf-8") for name in ("prepare.sh", "configure.sh"))


def test_every_release_is_a_version_of_one_key_with_its_identity_in_the_metadata(resources: dict[str, Any]) -> None:
    """One key for every release (issue 25): a new release changes ``source``, ``source_hash`` and ``metadata``,
    which the provider updates in place (a new version), never ``key``, which would replace the object and with it
    every earlier release."""
    artifact = production_artifact()  # the production stack (resources) ships the tests' production build
    obj = by_path(resources, "aws_s3_object", "api_release/artifact")[1]
    bucket_name, _ = by_path(resources, "aws_s3_bucket", "api_release/bucket")
    assert obj["bucket"] == ref("aws_s3_bucket", bucket_name)
    assert obj["key"] == "payment-api/payment-api.tar.gz" and artifact.sha256 not in obj["key"]
    assert obj["source_hash"] == artifact.sha256
    assert obj["metadata"] == {
        "sha256": artifact.sha256,
        "version": artifact.version,
        "build-kind": "production",
        "ca-bundle-verified": "false",  # the tests' production build is an unverified one
        "archive": artifact.path.name,
    }
    assert obj["source"].startswith("assets/") and obj["source"].endswith(artifact.path.name)
    assert "aws_kms_key.encryption_data_key" in obj["kms_key_id"] and obj["server_side_encryption"] == "aws:kms"


def test_the_newest_replaced_releases_are_kept_by_count(resources: dict[str, Any]) -> None:
    """``NewerNoncurrentVersions``: the newest ARTIFACT_RELEASES_KEPT (default 5) replaced releases stay however old;
    only older ones expire, a day after they were replaced."""
    bucket_name, _ = by_path(resources, "aws_s3_bucket", "api_release/bucket")
    (lifecycle,) = [
        body
        for body in resources["aws_s3_bucket_lifecycle_configuration"].values()
        if body["bucket"] == ref("aws_s3_bucket", bucket_name)
    ]
    (rule,) = lifecycle["rule"]
    assert rule["status"] == "Enabled" and rule["filter"] == [{"prefix": ""}]
    assert rule["noncurrent_version_expiration"] == [{"newer_noncurrent_versions": 5, "noncurrent_days": 1}]
    assert "expiration" not in rule  # the current release never expires


def test_releases_kept_is_a_tunable_with_s3s_range() -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    assert StackConfig.from_env({**DEVELOPMENT_ENV, "ARTIFACT_RELEASES_KEPT": "12"}).artifact_releases_kept == 12
    for wrong in ("0", "101"):
        with pytest.raises(ConfigError, match="ARTIFACT_RELEASES_KEPT"):
            StackConfig.from_env({**DEVELOPMENT_ENV, "ARTIFACT_RELEASES_KEPT": wrong})


def test_the_launch_template_waits_for_the_upload_of_the_release_it_names(resources: dict[str, Any]) -> None:
    """A template version naming a release whose bytes are not in the bucket yet would boot instances that find no
    matching version: the upload comes first."""
    obj_name, _ = by_path(resources, "aws_s3_object", "api_release/artifact")
    assert f"aws_s3_object.{obj_name}" in api_launch_template(resources)[1]["depends_on"]


@pytest.mark.pci("3.5, 3.6, 3.7", "4.2", "7.2, 8.2, 8.6")
def test_the_artifacts_bucket_is_private_encrypted_tls_only_and_read_by_the_instances_and_deployers(
    resources: dict[str, Any], synth_json: dict[str, Any]
) -> None:
    bucket_name, _ = by_path(resources, "aws_s3_bucket", "api_release/bucket")
    bucket_id = ref("aws_s3_bucket", bucket_name)

    def for_bucket(rtype: str) -> dict[str, Any]:
        (body,) = [body for body in resources[rtype].values() if body["bucket"] == bucket_id]
        return body

    assert all(
        for_bucket("aws_s3_bucket_public_access_block")[flag]
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert for_bucket("aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    rule = for_bucket("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    assert "aws_kms_key.encryption_data_key" in rule["apply_server_side_encryption_by_default"]["kms_master_key_id"]
    statements = {s["Sid"]: s for s in json.loads(for_bucket("aws_s3_bucket_policy")["policy"])["Statement"]}
    assert {"DenyInsecureTransport", "DenyTlsBelow12"} <= set(statements)
    readers = statements["DenyReadsButInstancesAndDeployers"]
    assert readers["Effect"] == "Deny" and readers["Principal"] == "*"
    assert readers["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    role_name, _ = by_path(resources, "aws_iam_role", "compute/instance_role")
    host_role_name, _ = by_path(resources, "aws_iam_role", "migration_host/role")
    # The instance role, the migration host's and the named deployers, nobody else: no "whoever ran the last apply"
    # (issue 25).
    assert readers["Condition"] == {
        "ArnNotLike": {
            "aws:PrincipalArn": [
                ref("aws_iam_role", role_name, "arn"),
                ref("aws_iam_role", host_role_name, "arn"),
                *PRODUCTION_DEPLOYERS.split(","),
            ]
        }
    }
    assert "aws_iam_session_context" not in synth_json.get("data", {}), "the caller's identity names no reader"


@pytest.mark.pci("10.2, 10.3, 10.5", "3.5, 3.6, 3.7")
def test_the_service_logs_to_an_encrypted_group_with_the_stack_retention(resources: dict[str, Any]) -> None:
    _, group = by_path(resources, "aws_cloudwatch_log_group", "api_release/log_group")
    assert group["retention_in_days"] == "${var.log_retention_days}"
    assert "aws_kms_key.encryption_logs_key" in group["kms_key_id"]
    script = user_data(resources)
    assert f"LOG_GROUP={group['name']}" in script and 'amazon-cloudwatch-agent-ctl" -a fetch-config' in script
    assert "StandardOutput=append:/var/log/payment-api/api.log" in unit("payment-api.service")
    # The agent ships the boot log and each of SERVICE_LOGS as <instance id>/<name> (the shared bootstrap's loop).
    assert 'SERVICE_LOGS="api migrate"' in script and "for name in $SERVICE_LOGS; do" in script
    assert '\\"file_path\\": \\"/var/log/payment-api/$name.log\\", \\"log_group_name\\": \\"$LOG_GROUP\\"' in script


def test_the_runtime_parameter_carries_apply_time_values_and_no_secret(resources: dict[str, Any]) -> None:
    _, parameter = by_path(resources, "aws_ssm_parameter", "api_release/runtime_parameter")
    assert parameter["type"] == "SecureString" and "aws_kms_key.encryption_data_key" in parameter["key_id"]
    value = json.loads(parameter["value"])
    assert value["cors_origins"] == "https://pay.example.com"  # FRONTEND_DOMAIN of the production stack
    assert value["processor"] == "stripe" and value["environment"] == "production"
    assert value["stripe_secret_arn"] == PRODUCTION_ENV["STRIPE_SECRET_KEY_ARN"]  # the ARN only: root fetches it
    assert value["stripe_api_base"] == ""  # Stripe's own API: production has no other
    assert value["db_master_secret_arn"].endswith(".master_user_secret[0].secret_arn}")
    assert value["db_pool_max"] == "${var.api_db_pool_max}"  # a setting changed at apply time rolls the fleet
    # The reconciler's wait for 3-D Secure (PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES), ranged by its variable.
    assert value["requires_action_timeout_minutes"] == "${var.payment_requires_action_timeout_minutes}"
    assert set(value) == {setting.key for setting in runtime.SETTINGS}  # the contract's keys, no other
    assert "tap_contract.runtime environment-file" in configure()
    secret = by_path(resources, "aws_secretsmanager_secret", "idempotency_secret/secret")[0]
    assert value["idempotency_secret_arn"] == ref("aws_secretsmanager_secret", secret, "arn")
    assert not any("password" in key for key in value)


def test_without_a_domain_cors_admits_the_distribution(dev_synth_json: dict[str, Any]) -> None:
    _, parameter = by_path(dev_synth_json["resource"], "aws_ssm_parameter", "api_release/runtime_parameter")
    value = json.loads(parameter["value"])
    assert re.fullmatch(r"https://\$\{aws_cloudfront_distribution\.\w+\.domain_name\}", value["cors_origins"])
    assert value["processor"] == "simulated" and value["environment"] == "development"
    assert value["stripe_secret_arn"] == ""  # the simulator: no Stripe secret to fetch, no drop-in loading one


@pytest.mark.pci("6.3.3", "6.4.1, 6.4.2")
def test_user_data_installs_exactly_the_uploaded_artifact(resources: dict[str, Any]) -> None:
    script, obj = user_data(resources), by_path(resources, "aws_s3_object", "api_release/artifact")[1]
    encoded = api_launch_template(resources)[1]["user_data"]
    assert len(encoded) < MAX_ENCODED_BYTES and "${" not in script and "%{" not in script and "@@" not in script
    assert f"ARTIFACT_KEY={obj['key']}" in script and f"ARTIFACT_SHA256={obj['source_hash']}" in script
    assert "sha256sum --check --strict" in script
    # The version whose sha256 metadata matches, fetched by its id; none matching is a boot error naming the sha256.
    assert 'list-object-versions --bucket "$ARTIFACT_BUCKET" --prefix "$ARTIFACT_KEY"' in script
    assert 'retry aws s3api "$op" --bucket "$ARTIFACT_BUCKET" --key "$ARTIFACT_KEY" "$@"' in script
    assert (
        '"$(object head-object --version-id "$id" --query Metadata.sha256 --output text)" = "$ARTIFACT_SHA256"'
        in script
    )
    assert 'object get-object --version-id "$id" "$work/artifact.tar.gz"' in script
    assert "no version of $ARTIFACT_KEY has sha256 $ARTIFACT_SHA256" in script
    assert "retry dnf_install amazon-cloudwatch-agent" in script and "dnf install -y -q" in script
    assert "retry dnf_install python3.11 nftables jq" in script
    assert 'pip" install --quiet --no-index --find-links "$APP/wheelhouse" --find-links "$APP"' in script
    assert '--require-hashes -r "$APP/requirements.lock"' in script  # every wheel by its sha256 (issue 28)
    assert '. "$APP/boot/configure.sh"' in script
    _, parameter = by_path(resources, "aws_ssm_parameter", "api_release/runtime_parameter")
    assert f"RUNTIME_PARAMETER={parameter['name']}" in script
    assert 'retry aws ssm get-parameter --name "$RUNTIME_PARAMETER" --with-decryption' in script


@pytest.mark.pci("2.2", "7.2, 8.2, 8.6")
def test_units_are_hardened_and_split_migrate_from_serve() -> None:
    migrate, serve = unit("payment-api-migrate.service"), unit("payment-api.service")
    for text in (migrate, serve):
        for line in HARDENING:
            assert line in text, line
    assert "User=payment-migrate" in migrate and "EnvironmentFile=/etc/payment-api/migrate.env" in migrate
    assert "Type=oneshot" in migrate and "payment-api migrate" in migrate
    # The API logs in with the application login from its credential, never an environment file, and neither runs
    # nor waits for a migration (the release's migration host did it; /ready waits for the schema head).
    assert "User=payment-api" in serve and "LoadCredential=db-login:/run/payment-api-credentials/db-login" in serve
    assert "serve.env" not in serve and "migrate" not in serve
    assert "--port @API_PORT@" in serve and 'sed "s/@API_PORT@/$API_PORT/g"' in configure()


@pytest.mark.pci("2.2", "7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    ("job", "command", "timer_line"),
    [
        ("payment-api-reconcile", "payment-api reconcile --once", "OnUnitActiveSec=60s"),
        ("payment-api-purge", "payment-api purge-idempotency-keys", "OnCalendar=hourly"),
    ],
)
def test_the_reconciler_and_the_purge_run_on_timers_as_the_application_role(
    job: str, command: str, timer_line: str
) -> None:
    service, timer = unit(f"{job}.service"), unit(f"{job}.timer")
    for line in HARDENING:
        assert line in service, line
    assert "Type=oneshot" in service and command in service
    assert "User=payment-api" in service and "LoadCredential=db-login:/run/payment-api-credentials/db-login" in service
    assert "serve.env" not in service and "migrate" not in service
    assert timer_line in timer and f"Unit={job}.service" in timer and "WantedBy=timers.target" in timer
    stage = configure()
    assert f"{job}.service" in stage and f"{job}.timer" in stage
    assert "systemctl enable --now payment-api-reconcile.timer payment-api-purge.timer" in stage


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_only_root_reaches_imds_and_no_api_instance_reads_the_master_secret(resources: dict[str, Any]) -> None:
    script, stage = user_data(resources), configure()
    assert "ip daddr 169.254.169.254 meta skuid != 0 counter reject" in script
    # Issue 27: an API instance's boot reads no secret itself, provisions no role and installs no migration unit; its
    # secrets reach the units through root's payment-api-credentials.service only.
    absent_texts = ("get-secret-value", 'DB_SECRET_ARN"', "provision-roles", "PAYMENT_DB_MASTER", "payment-api-migrate")
    for absent in absent_texts:
        assert absent not in stage, absent
    host = (BOOT_SOURCE / "migration-host.sh").read_text(encoding="utf-8")
    assert "provision-roles" in host and "PAYMENT_DB_MASTER_PASSWORD=$(jq -er .password" in host
    assert "put-secret-value" in host and "file://$login_dir/db-login" in host
    # No credential in the user data or the boot stages: passwords are read at boot, never written there.
    assert not re.search(r"PASSWORD=[\"']?[A-Za-z0-9]", script + stage + host)


def test_a_new_artifact_is_new_user_data(tmp_path: Path, dev_synth_json: dict[str, Any]) -> None:
    """A different archive changes the hash in the user data (a new launch template version), not the object's key or
    address: the new release is a new version of the same object."""
    from cdktf import App  # pylint: disable=import-outside-toplevel

    from lib.config import StackConfig  # pylint: disable=import-outside-toplevel
    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel

    current = load_artifact()
    other = tmp_path / "payment-api-0.1.1-development.tar.gz"
    other.write_bytes(b"another build")
    changed = dataclasses.replace(current, path=other, version="0.1.1", sha256="f" * 64)
    config = StackConfig.from_env(dict(DEVELOPMENT_ENV))
    app = App(outdir=str(tmp_path / "out"))
    TapStack(app, config.stack_name, config=config, artifact=changed)
    app.synth()
    stack = json.loads((tmp_path / "out" / "stacks" / config.stack_name / "cdk.tf.json").read_text())
    script = user_data(stack["resource"])
    assert f"ARTIFACT_SHA256={'f' * 64}" in script and "ARTIFACT_KEY=payment-api/payment-api.tar.gz\n" in script
    address, obj = by_path(stack["resource"], "aws_s3_object", "api_release/artifact")
    assert obj["metadata"]["version"] == "0.1.1" and obj["source_hash"] == "f" * 64
    assert by_path(dev_synth_json["resource"], "aws_s3_object", "api_release/artifact")[0] == address  # the current's
    assert obj["key"] == by_path(dev_synth_json["resource"], "aws_s3_object", "api_release/artifact")[1]["key"]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_production_needs_stripe_and_refuses_the_simulator() -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    nowhere = Path("/nonexistent")
    environ = {key: value for key, value in PRODUCTION_ENV.items() if not key.startswith(("PAYMENT_PROC", "STRIPE_"))}
    with pytest.raises(ConfigError, match="PAYMENT_PROCESSOR: the API would have no processor named"):
        StackConfig.from_env(environ, region_file=nowhere)
    with pytest.raises(ConfigError, match="PAYMENT_PROCESSOR: the simulator approves test tokens"):
        StackConfig.from_env({**environ, "PAYMENT_PROCESSOR": "simulated"}, region_file=nowhere)
    with pytest.raises(ConfigError, match="PAYMENT_PROCESSOR='Stripe!' is invalid: the service registers simulated"):
        StackConfig.from_env({**PRODUCTION_ENV, "PAYMENT_PROCESSOR": "Stripe!"}, region_file=nowhere)
    assert StackConfig.from_env(dict(DEVELOPMENT_ENV), region_file=nowhere).api_processor == "simulated"


@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY_ARN", "STRIPE_PUBLISHABLE_KEY"])
def test_stripe_needs_its_secret_and_its_publishable_key(missing: str) -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    environ = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    with pytest.raises(ConfigError, match=rf"^{missing} is not set: PAYMENT_PROCESSOR=stripe needs it"):
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "STRIPE_SECRET_KEY_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payment/stripe-a1B2c3",
            "in the stack's region us-east-1",
        ),
        (
            "STRIPE_SECRET_KEY_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment/stripe",
            "<name>-<6 characters>",
        ),
        ("STRIPE_SECRET_KEY_ARN", "payment/stripe", "a Secrets Manager secret ARN"),
        (
            "STRIPE_PUBLISHABLE_KEY",
            "sk_live_abcdefghijklmnop",
            "'sk_... \\(not shown: it is not a publishable key or an ARN\\)'",
        ),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc", "a publishable key is pk_live_ or pk_test_"),
    ],
)
def test_a_malformed_stripe_setting_is_refused_naming_it(name: str, value: str, message: str) -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    with pytest.raises(ConfigError, match=rf"^{name}=.*{message}"):
        StackConfig.from_env({**PRODUCTION_ENV, name: value}, region_file=Path("/nonexistent"))
    assert "abcdefghijklmnop" not in _refusal({**PRODUCTION_ENV, name: value})
    assert "abcdefghijklmnop" not in _refusal({**DEVELOPMENT_ENV, name: "sk_live_abcdefghijklmnop"})


def _refusal(environ: dict[str, str]) -> str:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    try:
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))
    except ConfigError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("name", ["STRIPE_SECRET_KEY_ARN", "STRIPE_PUBLISHABLE_KEY"])
def test_a_stripe_setting_without_stripe_is_refused(name: str) -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    with pytest.raises(ConfigError, match=rf"^{name}=.* it is used only with PAYMENT_PROCESSOR=stripe"):
        StackConfig.from_env({**DEVELOPMENT_ENV, name: PRODUCTION_ENV[name]}, region_file=Path("/nonexistent"))


SANDBOX_STRIPE = {
    "PAYMENT_PROCESSOR": "stripe",
    "STRIPE_SECRET_KEY_ARN": PRODUCTION_ENV["STRIPE_SECRET_KEY_ARN"],
    "STRIPE_PUBLISHABLE_KEY": PRODUCTION_ENV["STRIPE_PUBLISHABLE_KEY"],
    "STRIPE_API_BASE": "http://10.213.0.1:41234",
}


def test_a_stripe_emulators_base_reaches_the_runtime_parameter_of_a_development_stack(tmp_path: Path) -> None:
    """The sandbox's localstripe: STRIPE_API_BASE becomes the parameter's stripe_api_base, which the boot writes to
    the service's PAYMENT_STRIPE_API_BASE (tap_contract.runtime)."""
    from cdktf import App  # pylint: disable=import-outside-toplevel

    from lib.config import StackConfig  # pylint: disable=import-outside-toplevel
    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel

    config = StackConfig.from_env({**DEVELOPMENT_ENV, **SANDBOX_STRIPE}, region_file=Path("/nonexistent"))
    app = App(outdir=str(tmp_path / "out"))
    TapStack(app, config.stack_name, config=config)
    app.synth()
    stack = json.loads((tmp_path / "out" / "stacks" / config.stack_name / "cdk.tf.json").read_text())
    _, parameter = by_path(stack["resource"], "aws_ssm_parameter", "api_release/runtime_parameter")
    value = json.loads(parameter["value"])
    assert (value["processor"], value["stripe_api_base"]) == ("stripe", SANDBOX_STRIPE["STRIPE_API_BASE"])
    assert runtime.STRIPE_API_BASE.env == "PAYMENT_STRIPE_API_BASE"  # the variable the service reads


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {**PRODUCTION_ENV, "STRIPE_API_BASE": "http://10.213.0.1:41234"},
            r"a production stack talks to Stripe's own API \(https://api.stripe.com\) only",
        ),
        ({**DEVELOPMENT_ENV, "STRIPE_API_BASE": "http://127.0.0.1:8420"}, "used only with PAYMENT_PROCESSOR=stripe"),
        ({**DEVELOPMENT_ENV, **SANDBOX_STRIPE, "STRIPE_API_BASE": "http://127.0.0.1:8420/v1"}, "without a path"),
        ({**DEVELOPMENT_ENV, **SANDBOX_STRIPE, "STRIPE_API_BASE": "ftp://127.0.0.1"}, "http:// or https://"),
    ],
)
def test_a_stripe_api_base_is_refused_in_production_without_stripe_or_malformed(
    environ: dict[str, str], message: str
) -> None:
    from lib.config import ConfigError, StackConfig  # pylint: disable=import-outside-toplevel

    with pytest.raises(
        ConfigError,
        match=rf"^STRIPE_API_BASE='{re.escape(environ['STRIPE_API_BASE'])}' is invalid: "
        rf".*{message}.*(Unset STRIPE_API_BASE|Give the emulator's base URL)",
    ):
        StackConfig.from_env(environ, region_file=Path("/nonexistent"))


def test_the_boot_refuses_a_development_artifact_in_production_and_flags_an_unverified_bundle(
    resources: dict[str, Any],
) -> None:
    """The instance reads the kind and the verification from the manifest: a non-production build stops the boot of
    a production instance; an unverified bundle is said in the boot log, not refused (the instance cannot verify
    it; `make deploy` refuses such an artifact before it ships, and a bundle without RDS's roots fails closed)."""
    script = user_data(resources)
    refusal = 'if [ "$RUNTIME_ENVIRONMENT" = production ] && [ "$kind" != production ]; then'
    assert "RUNTIME_ENVIRONMENT=$(setting environment)" in script  # generated from tap_contract.runtime
    assert refusal in script and script.index(refusal) < script.index("false\n", script.index(refusal))
    assert "jq -r '.ca_bundle.verified // false'" in configure()
    assert "was not verified against the pinned RDS roots" in configure()
    assert script.index(refusal) < script.index("python3.11 -m venv"), "checked before anything is installed"


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    "consumer", ["payment-api.service", "payment-api-reconcile.service", "payment-api-purge.service"]
)
def test_the_idempotency_secret_reaches_each_service_only_as_a_credential_root_fetched_to_tmpfs(consumer: str) -> None:
    """Contract, "Operation": root fetches (payment-api-credentials.service, before every consumer, again after a
    reboot because the consumers require it) into the runtime folder on /run; each consumer loads the two files with
    LoadCredential=, never through an environment file. The boot rehearsal proves the delivery."""
    fetcher, service = unit("payment-api-credentials.service"), unit(consumer)
    assert "User=" not in fetcher and "Type=oneshot" in fetcher and "RemainAfterExit=yes" in fetcher
    assert "RuntimeDirectory=payment-api-credentials\nRuntimeDirectoryMode=0700" in fetcher
    assert "EnvironmentFile=/etc/payment-api/credentials.env" in fetcher and "fetch-credentials.sh" in fetcher
    assert "Requires=payment-api-credentials.service\nAfter=payment-api-credentials.service" in service
    for name in ("idempotency-hmac-current", "idempotency-hmac-previous"):
        assert f"LoadCredential={name}:/run/payment-api-credentials/{name}" in service
    assert "credentials.env" not in service and "User=payment-api" in service
    stage = configure()
    assert "payment-api-credentials.service" in stage.split('step "systemd units"')[1]
    assert "retry systemctl start payment-api-credentials.service" in stage
    script = (BOOT_SOURCE / "fetch-credentials.sh").read_text(encoding="utf-8")
    assert "umask 077" in script and "jq -je '.SecretString | strings'" in script
