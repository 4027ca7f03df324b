"""The migration host's user data in the boot rehearsal, against its own emulator (the boot rehearsal's world): it
installs the artifact, creates the roles, migrates the database to the artifact's head, writes ``ok`` to its result
parameter and powers off; with a migration that fails, it writes ``failed: step 'migrations' ...`` and powers off all
the same (issue 27, item 2). ``make sandbox`` runs the same text during the apply (tools/sandbox/migration_phase.py).
"""

from __future__ import annotations

import base64
import hashlib
import json

from lib.artifact import OBJECT_KEY, load_artifact
from lib.blocks.user_data import render_user_data
from tests.sandbox.test_boot_rehearsal import BUCKET, DB_HOST, PARAMETER, REGION, World, archive_with, world
from tools.dev.local_api.postgres import DATABASE
from tools.sandbox.emulator import client
from tools.sandbox.migration_phase import SHUTDOWN_RECORD
from tools.sandbox.rehearsal.harness import BootResult, Database, Emulator, Instance, InstanceBoot, rehearse

__all__ = ["world"]  # the boot rehearsal's module fixture, shared
INDEXES = {"works": 211, "fails": 212}


def migrate(world: World, name: str, artifact: dict[str, tuple[str, str]] | None = None) -> tuple[BootResult, str, str]:
    """Upload the (changed) artifact, render the host's user data for it and rehearse it on a fresh instance id;
    the result, what the shutdown stand-in recorded and the result parameter's value."""
    archive = archive_with(artifact) if artifact else load_artifact().path.read_bytes()
    digest = hashlib.sha256(archive).hexdigest()
    client("s3", world.endpoint, REGION).put_object(
        Bucket=BUCKET, Key=OBJECT_KEY, Body=archive, Metadata={"sha256": digest}
    )
    result_parameter = f"/tap/rehearsal/payment-api/migration/{digest}"
    values = {
        "REGION": REGION,
        "ARTIFACT_KEY": OBJECT_KEY,
        "ARTIFACT_HASH": digest,
        "RUNTIME_PARAMETER": PARAMETER,
        "RESULT_PARAMETER": result_parameter,
        "LOG_GROUP": "/tap/rehearsal-api",
    }
    script = base64.b64decode(render_user_data("migration_host_user_data.sh", values)).decode()
    instance_id = client("ec2", world.endpoint, REGION).run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=world.subnet_id
    )["Instances"][0]["InstanceId"]
    powered_off: list[str] = []

    def then(_result: BootResult, boot: InstanceBoot) -> None:
        powered_off.append(boot.run_inside(f"cat /{SHUTDOWN_RECORD} 2>/dev/null || true").strip())

    result = rehearse(
        script,
        Instance(instance_id=instance_id, role_arn=world.role_arn, availability_zone="us-east-1a"),
        index=INDEXES[name],
        emulator=Emulator(endpoint=world.endpoint, region=REGION),
        database=Database(host_name=DB_HOST, port=5432, local_port=world.database.port),
        folder=world.folder / f"migration-{name}",
        api_port=0,
        timeout=600,
        then=then,
    )
    value = client("ssm", world.endpoint, REGION).get_parameter(Name=result_parameter)["Parameter"]["Value"]
    return result, powered_off[0], value


def test_the_host_migrates_to_the_artifacts_head_reports_ok_and_powers_off(world: World) -> None:
    result, powered_off, value = migrate(world, "works")
    assert result.exit_status == 0, result.boot_log[-3000:]
    assert value == "ok"
    assert powered_off.endswith("shutdown -h now")
    log = result.boot_log
    step = log.index("application login: payment_app_b")  # the step that puts the new version, after the migrations
    assert log.index("database roles (migration host") < log.index("migrations") < step
    assert step < log.index("result: ok") < log.index("power off")
    assert "schema at head" in (result.logs / "migrate.log").read_text(encoding="utf-8", errors="replace")
    with world.database.superuser(DATABASE) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
    from payment_api.migrate import head_revision  # pylint: disable=import-outside-toplevel

    assert revision == head_revision()
    assert "rdsmaster" not in log and "payment-api.service" not in log, "the host starts no service"
    # The earlier release's login was payment_app_a: this release set a new password on payment_app_b and put a version
    # naming it, after the migrations; payment_app_a (the fleet still serving) was not touched.
    secrets_manager = client("secretsmanager", world.endpoint, REGION)
    current = json.loads(secrets_manager.get_secret_value(SecretId=world.login_secret_arn)["SecretString"])
    previous = json.loads(
        secrets_manager.get_secret_value(SecretId=world.login_secret_arn, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert (previous["username"], current["username"]) == ("payment_app_a", "payment_app_b")
    assert "boot: application login payment_app_a -> payment_app_b" in log
    for login in (previous, current):
        assert login_works(world, login), login["username"]
        assert login["password"] not in log


def login_works(world: World, login: dict[str, str]) -> bool:
    """Whether ``login`` connects to the world's database (as an API instance would, verify-full)."""
    import psycopg  # pylint: disable=import-outside-toplevel

    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=world.database.port,
            dbname=DATABASE,
            user=login["username"],
            password=login["password"],
            sslmode="verify-full",
            sslrootcert=str(world.database.ca_file),
        ):
            return True
    except psycopg.OperationalError:
        return False


def test_a_failed_migration_is_reported_with_its_step_and_the_host_powers_off_all_the_same(world: World) -> None:
    broken = {"payment-api-migrate.service": ("venv/bin/payment-api migrate", "venv/bin/payment-api migratf")}
    labels_before = client("secretsmanager", world.endpoint, REGION).describe_secret(SecretId=world.login_secret_arn)
    result, powered_off, value = migrate(world, "fails", artifact=broken)
    assert result.exit_status not in (0, None), result.boot_log[-3000:]
    assert value.startswith("failed: step 'migrations' (exit "), value
    labels_after = client("secretsmanager", world.endpoint, REGION).describe_secret(SecretId=world.login_secret_arn)
    assert labels_after["VersionIdsToStages"] == labels_before["VersionIdsToStages"], "no new login after a failure"
    assert powered_off.endswith("shutdown -h now")
