"""The boot rehearsal: run a launch template's real user data as root, as an instance would, against the emulator.

Each instance boot gets (all undone by ``stop``):

- a network namespace ``rehearsal-<n>`` with a veth pair to the host (host ``10.213.<n>.1``, instance
  ``10.213.<n>.2``), loopback up, and ``169.254.169.254/32`` on loopback, where the IMDS stand-in
  (``tools/sandbox/rehearsal/imds.py``) serves the instance id and the instance role's credentials, assumed from the
  emulator;
- a PID and mount namespace whose ``/`` is an overlay of the host's ``/`` with this boot's own upper folder
  (``guest.sh`` refuses to run otherwise): the script's ``useradd``, ``rm -rf`` and unit files land there;
- in that upper folder, before the overlay is mounted: the stand-ins (``standins.install_standins``: ``dnf``,
  ``systemctl``, the CloudWatch agent, AL2023's layout), ``aws`` (AWS CLI v1 from PyPI, ``.venv-awscli``), the
  user data at ``/var/lib/cloud/instance/user-data.txt`` and ``/etc/hosts`` naming the RDS host at the host's end of
  the veth, where a relay reaches the local PostgreSQL 15 (``RdsStandIn``) whose certificate names that host, so
  ``verify-full`` is really checked; and ``/etc/systemd/system.conf.d/rehearsal-endpoint.conf`` giving the units the
  same ``AWS_ENDPOINT_URL`` (``DefaultEnvironment=``: a unit that calls AWS as root reaches the emulator);
- relays on the host's end of the veth to the emulator and to that PostgreSQL; the script sees the emulator through
  ``AWS_ENDPOINT_URL``, the one variable it gets beyond cloud-init's.

``boot`` waits for the script to end and returns its exit status and boot log; the services it started keep
running, reachable at ``http://10.213.<n>.2:<API_PORT>``, until ``stop``. Debian's ``iproute2``, ``nftables``,
``jq``, ``curl``, ``aide`` and ``python3.11-venv`` are installed when missing (tools/debian.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.sandbox.emulator import ROOT, client
from tools.sandbox.rehearsal.standins import install_standins

GUEST = Path(__file__).with_name("guest.sh")
AWS_CLI_VENV = ROOT / ".venv-awscli"
AWS_CLI_REQUIREMENTS = ROOT / "requirements-awscli.txt"
USER_DATA_PATH = "var/lib/cloud/instance/user-data.txt"
EXIT_PATH = "var/lib/rehearsal/exit"
BOOT_LOG_PATH = "var/log/payment-api-boot.log"
ENDPOINT_CONF = "etc/systemd/system.conf.d/rehearsal-endpoint.conf"
# What the harness copies out of the upper folder into the boot's log folder before removing it.
KEPT_LOGS = (BOOT_LOG_PATH, "var/log/payment-api/api.log", "var/log/payment-api/migrate.log")
# Debian packages the rehearsal's root needs from the host: command -> package.
HOST_COMMANDS = {
    "ip": "iproute2",
    "nft": "nftables",
    "jq": "jq",
    "curl": "curl",
    "systemd-analyze": "systemd",
    "aide": "aide",  # the file-integrity check (services/payment_api/boot/integrity.sh): Debian's AIDE
}


# What the harness itself changes in the instance's root, beside the stand-ins (docs/developing.md lists both).
HARNESS_CHANGES = (
    f"created /{USER_DATA_PATH}: the user data, read back from the emulator's launch template version",
    "created /usr/local/bin/aws: runs the AWS CLI v1 of .venv-awscli (requirements-awscli.txt)",
    "replaced /etc/hosts: the host's, plus the RDS host name at the host's end of the veth",
    f"created /{Path(EXIT_PATH).parent}/: the script's exit status, for the harness",
    "hidden /root/.aws: an instance has none; the CLI takes the role's credentials from the IMDS stand-in",
    f"created /{ENDPOINT_CONF}: DefaultEnvironment=AWS_ENDPOINT_URL=<the emulator>, so units that call AWS as root "
    "(payment-api-credentials.service) reach the emulator as the user data does",
    "mounted /proc, /dev, /sys (read-only), /run and /tmp (tmpfs), as an instance has them",
)


class RehearsalError(RuntimeError):
    """The rehearsal could not be set up (not the script's failure: that is a ``BootResult``)."""


def _run(*command: str, timeout: float = 30) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    if result.returncode != 0:
        raise RehearsalError(
            f"{' '.join(command)} exited {result.returncode}: {(result.stderr or result.stdout)[-400:]}"
        )
    return result.stdout


def ensure_host_tools() -> None:
    """The host's side: root, namespaces, the Debian commands the root file system needs, the AWS CLI v1 venv."""
    from tools.debian import ensure  # pylint: disable=import-outside-toplevel  # only where the rehearsal runs

    if os.geteuid() != 0:
        raise RehearsalError("the boot rehearsal runs the user data as root in its own namespaces: run it as root")
    for command, package in HOST_COMMANDS.items():
        ensure(command, package)
    if not Path("/usr/bin/python3.11").is_file():
        ensure("python3.11", "python3.11")
    remove_stale()
    stamp = AWS_CLI_VENV / f".installed-{_digest(AWS_CLI_REQUIREMENTS)}"
    if not stamp.is_file():
        print("[rehearsal] AWS CLI v1 into .venv-awscli (requirements-awscli.txt)", flush=True)
        subprocess.run(["python3", "-m", "venv", str(AWS_CLI_VENV)], check=True, timeout=120)
        subprocess.run(
            [str(AWS_CLI_VENV / "bin" / "pip"), "install", "-q", "--require-hashes", "-r", str(AWS_CLI_REQUIREMENTS)],
            check=True,
            timeout=600,
        )
        stamp.touch()


def remove_stale() -> list[str]:
    """Namespaces and folders of rehearsals whose process is gone (killed before its ``stop``): removed."""
    removed = []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False, timeout=30).stdout
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("rehearsal-")]
    folders = [path.name for path in Path("/var/tmp").glob("rehearsal-*-*")]
    for name in sorted({*names, *folders}):
        pid = name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            if name in names:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=30)
            shutil.rmtree(Path("/var/tmp") / name, ignore_errors=True)
            removed.append(name)
    return removed


def _digest(path: Path) -> str:
    import hashlib  # pylint: disable=import-outside-toplevel

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class Relay:
    """TCP from ``listen`` to ``target`` (host, port), one thread per connection, until ``close``."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self._target = target
        self._server = socket.create_server(listen, reuse_port=False)
        self._server.settimeout(0.5)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                incoming, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            try:
                outgoing = socket.create_connection(self._target, timeout=10)
            except OSError:
                incoming.close()
                continue
            for source, sink in ((incoming, outgoing), (outgoing, incoming)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(None)
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed.set()
        self._server.close()


@dataclass(frozen=True, kw_only=True)
class Emulator:
    """Where the rehearsal's AWS calls go and how it takes the instance role."""

    endpoint: str
    """The emulator on the host, ``http://127.0.0.1:<port>``."""
    region: str
    """The stack's region (the script sets it too)."""


@dataclass(frozen=True, kw_only=True)
class Database:
    """The RDS stand-in as the instance sees it: the host name from the runtime parameter and its port, relayed to
    the local PostgreSQL on ``local_port``."""

    host_name: str
    port: int
    local_port: int


@dataclass(frozen=True, kw_only=True)
class Instance:
    """What the IMDS stand-in says about the instance."""

    instance_id: str
    role_arn: str
    availability_zone: str


@dataclass
class BootResult:
    """How one rehearsed boot ended."""

    instance_id: str
    exit_status: int | None
    boot_log: str
    address: str
    seconds: float
    logs: Path
    steps: list[str] = field(default_factory=list)

    @property
    def failed_step(self) -> str | None:
        """The step the script names in its failure line (``boot: FAILED in step '<step>' ...``)."""
        for line in self.boot_log.splitlines():
            if "boot: FAILED in step '" in line:
                return line.split("'", 2)[1]
        return None


class InstanceBoot:  # pylint: disable=too-many-instance-attributes  # one boot's namespaces, processes and relays
    """One instance's rehearsed boot: ``start``, ``wait``, then ``stop`` (always)."""

    def __init__(self, index: int, emulator: Emulator, database: Database, folder: Path) -> None:
        self.index, self.emulator, self.database = index, emulator, database
        self.namespace = f"rehearsal-{os.getpid()}-{index}"
        self.host_ip, self.guest_ip = f"10.213.{index}.1", f"10.213.{index}.2"
        self.folder = folder
        self.work = Path(f"/var/tmp/rehearsal-{os.getpid()}-{index}")
        self._veth = f"rh{os.getpid() % 100000}x{index}"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._relays: list[Relay] = []
        self._started = 0.0

    # --- set-up ---------------------------------------------------------------------------------------------------
    def _network(self) -> None:
        _run("ip", "netns", "add", self.namespace)
        _run("ip", "link", "add", self._veth, "type", "veth", "peer", "name", f"{self._veth}g")
        _run("ip", "link", "set", f"{self._veth}g", "netns", self.namespace)
        _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self._veth)
        _run("ip", "link", "set", self._veth, "up")
        inside = ("ip", "netns", "exec", self.namespace)
        _run(*inside, "ip", "addr", "add", f"{self.guest_ip}/30", "dev", f"{self._veth}g")
        _run(*inside, "ip", "link", "set", f"{self._veth}g", "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "add", "169.254.169.254/32", "dev", "lo")
        _run(*inside, "ip", "route", "add", "default", "via", self.host_ip)
        emulator_port = int(self.emulator.endpoint.rsplit(":", 1)[1].rstrip("/"))
        self._relays = [
            Relay((self.host_ip, emulator_port), ("127.0.0.1", emulator_port)),
            Relay((self.host_ip, self.database.port), ("127.0.0.1", self.database.local_port)),
        ]

    def _imds(self, instance: Instance) -> None:
        credentials = client("sts", self.emulator.endpoint, self.emulator.region).assume_role(
            RoleArn=instance.role_arn, RoleSessionName=instance.instance_id
        )["Credentials"]
        settings = {
            "instance_id": instance.instance_id,
            "region": self.emulator.region,
            "availability_zone": instance.availability_zone,
            "role_name": instance.role_arn.rsplit("/", 1)[1],
            "credentials": {
                "AccessKeyId": credentials["AccessKeyId"],
                "SecretAccessKey": credentials["SecretAccessKey"],
                "Token": credentials["SessionToken"],
                "Expiration": credentials["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
        settings_file = self.work / "imds.json"
        settings_file.write_text(json.dumps(settings), encoding="utf-8")
        settings_file.chmod(0o600)
        self._spawn(
            "imds.log", str(ROOT / ".venv" / "bin" / "python"), "-m", "tools.sandbox.rehearsal.imds", str(settings_file)
        )
        probe = (
            "ip",
            "netns",
            "exec",
            self.namespace,
            "curl",
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "PUT",
            "-H",
            "X-aws-ec2-metadata-token-ttl-seconds: 5",
            "http://169.254.169.254/latest/api/token",
        )
        deadline = time.monotonic() + 20
        while subprocess.run(probe, capture_output=True, check=False, timeout=10).returncode != 0:
            if time.monotonic() > deadline or self._processes[-1].poll() is not None:
                raise RehearsalError(f"the IMDS stand-in did not answer (log: {self.folder / 'imds.log'})")
            time.sleep(0.2)

    def _root(self, user_data: str, endpoint: str) -> list[str]:
        upper = self.work / "upper"
        for name in ("upper", "work", "merged"):
            (self.work / name).mkdir(parents=True)
        changes = install_standins(upper)
        aws = upper / "usr/local/bin/aws"
        aws.parent.mkdir(parents=True, exist_ok=True)
        aws.write_text(f'#!/bin/sh\nexec {AWS_CLI_VENV}/bin/aws "$@"\n', encoding="utf-8")
        aws.chmod(0o755)
        hosts = upper / "etc/hosts"
        hosts.parent.mkdir(parents=True, exist_ok=True)
        hosts.write_text(
            Path("/etc/hosts").read_text(encoding="utf-8") + f"{self.host_ip} {self.database.host_name}\n",
            encoding="utf-8",
        )
        script = upper / USER_DATA_PATH
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(user_data, encoding="utf-8")
        (upper / EXIT_PATH).parent.mkdir(parents=True, exist_ok=True)
        conf = upper / ENDPOINT_CONF
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"[Manager]\nDefaultEnvironment=AWS_ENDPOINT_URL={endpoint}\n", encoding="utf-8")
        return [*changes, *HARNESS_CHANGES]

    # --- life cycle -----------------------------------------------------------------------------------------------
    def start(self, user_data: str, instance: Instance) -> list[str]:
        """Set up and start the script; returns the changes made to the root file system."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=False)
        self._network()
        self._imds(instance)
        endpoint = f"http://{self.host_ip}:{self.emulator.endpoint.rsplit(':', 1)[1].rstrip('/')}"
        changes = self._root(user_data, endpoint)
        self._started = time.monotonic()
        self._spawn(
            "guest.log",
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "bash",
            str(GUEST),
            str(self.work),
            endpoint,
        )
        return changes

    def _spawn(self, log_name: str, *command: str) -> None:
        """Start ``command`` inside the namespace, in a session of its own (``stop`` kills it), output to the log."""
        with (self.folder / log_name).open("ab") as log:
            self._processes.append(
                subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in stop()
                    ["ip", "netns", "exec", self.namespace, *command],
                    cwd=ROOT,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )

    def wait(self, timeout: float, instance_id: str, api_port: int) -> BootResult:
        """Until the script exits (or ``timeout``); the result carries its status and boot log."""
        exit_file, guest = self.work / "upper" / EXIT_PATH, self._processes[-1]
        deadline = time.monotonic() + timeout
        while not exit_file.is_file() and guest.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        status = int(exit_file.read_text(encoding="utf-8")) if exit_file.is_file() else None
        boot_log = self.work / "upper" / BOOT_LOG_PATH
        return BootResult(
            instance_id=instance_id,
            exit_status=status,
            boot_log=boot_log.read_text(encoding="utf-8", errors="replace") if boot_log.is_file() else "",
            address=f"http://{self.guest_ip}:{api_port}",
            seconds=round(time.monotonic() - self._started, 1),
            logs=self.folder,
        )

    def run_inside(self, command: str, timeout: float = 60) -> str:
        """A root shell command inside the instance (as an operator with Session Manager would run one)."""
        guest = _namespace_child(self._processes[-1].pid)
        return _run(
            "nsenter",
            f"--target={guest}",
            "--mount",
            "--pid",
            "--net",
            "--",
            "chroot",
            str(self.work / "merged"),
            "/bin/bash",
            "-c",
            command,
            timeout=timeout,
        )

    def stop(self) -> None:
        """Kill the namespace's processes, keep the logs, remove the network, the overlay and the upper folder."""
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        for relay in self._relays:
            relay.close()
        for relative in KEPT_LOGS:
            source = self.work / "upper" / relative
            if source.is_file():
                shutil.copyfile(source, self.folder / Path(relative).name)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False, timeout=30)
        subprocess.run(["ip", "link", "del", self._veth], capture_output=True, check=False, timeout=30)
        shutil.rmtree(self.work, ignore_errors=True)


def _namespace_child(unshare_pid: int) -> int:
    """The PID (as the host sees it) of the guest, ``unshare --fork``'s only child."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text(encoding="utf-8").split()
    if not children:
        raise RehearsalError("the rehearsal's guest is not running")
    return int(children[0])


def rehearse(
    user_data: str,
    instance: Instance,
    *,
    index: int,
    emulator: Emulator,
    database: Database,
    folder: Path,
    api_port: int,
    timeout: float = 900,
    then: Callable[[BootResult, InstanceBoot], Any] | None = None,
) -> BootResult:
    """Boot one instance with ``user_data``; ``then(result, boot)`` runs while its services still run."""
    boot = InstanceBoot(index, emulator, database, folder)
    try:
        boot.start(user_data, instance)
        result = boot.wait(timeout, instance.instance_id, api_port)
        if then is not None:
            then(result, boot)
        return result
    finally:
        boot.stop()
