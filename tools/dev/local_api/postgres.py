"""A throw-away PostgreSQL 15 in a folder: TLS with a test CA (clients use ``sslmode=verify-full``), TCP on
127.0.0.1 (and the addresses given), and the production role split (an owner role for migrations, an application
role for serving).

Configured as the stack's RDS parameter group configures the real one, so that every local path (``make api``, the
service tests, ``make web-e2e``, ``make bench-api``, the boot rehearsal) runs against the same server: pgaudit and
pg_stat_statements preloaded, pgaudit's ``pgaudit.log`` as lib/components/database.py sets it, and RDS's fixed
``log_line_prefix``, so that the log reads like the ``postgresql`` log export. Debian's ``postgresql-15-pgaudit``
is installed when missing (``tools.debian``); there is no way to start without it.

PostgreSQL refuses to run as root: as root, initdb/pg_ctl run as the ``postgres`` user (the folder is chowned).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools import debian
from tools.dev.local_api.credentials import idempotency_credentials, new_secret
from tools.dev.local_api.testca import DevelopmentCa, as_ca

OWNER, APP, DATABASE = "payment_owner", "payment_app", "payments"

PRELOADED = ("pg_stat_statements", "pgaudit")
"""``shared_preload_libraries``: RDS's default (pg_stat_statements) beside pgaudit, as the parameter group sets it."""
AUDIT_SETTINGS = {
    "shared_preload_libraries": ",".join(PRELOADED),
    "pgaudit.log": "ddl,role",
}
"""The RDS parameter group's pgaudit parameters (``AUDIT_PARAMETERS`` in lib/components/database.py, which this
module does not import: that would load the provider bindings; a unit test keeps the two equal)."""
DURABILITY_SETTINGS = {
    "synchronous_commit": "on",
    "fsync": "off",
}
"""``synchronous_commit`` on, as on RDS: a commit is acknowledged only once its WAL is written out of PostgreSQL's
memory, so an acknowledged payment survives a crash of PostgreSQL (``pg_ctl stop -m immediate`` under load,
tests/service/integration/test_durability.py). With it off a crash test lost payments already acknowledged with 201
(issue 23, B10): the WAL of the last commits was still in shared memory.

``fsync`` off, the one deliberate difference from RDS: it only decides whether that WAL also reaches the disk
before the acknowledgement, which matters when the operating system or the machine fails, not when PostgreSQL does.
No local test crashes the operating system (the data folder is deleted at exit anyway), and on RDS the storage's
durability is AWS's. Measured here (500 one-row commits, 2 shared CPUs, 2026-12-05): 3.0-3.5 ms a commit with fsync,
0.10-0.13 ms without (synchronous_commit on or off alike); fsync would slow every local path, ``make bench-api``
included."""
RDS_LOG_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"
"""RDS for PostgreSQL's ``log_line_prefix`` (not modifiable there): time, client, user@database, process id."""
RDS_SUPERUSER_EXTENSIONS = ("pgaudit",)
"""Extensions the RDS master (rds_superuser) creates here although they are not trusted extensions; the local
master gets exactly these through pgextwlist (see ``LocalPostgres.rds_master``)."""


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_config(option: str) -> str:
    return subprocess.run(["pg_config", option], capture_output=True, text=True, check=True, timeout=10).stdout.strip()


def _bindir() -> Path:
    return Path(_pg_config("--bindir"))


def ensure_extensions() -> None:
    """The server's extension files, installing Debian's packages when one is missing (``tools.debian``):
    pg_stat_statements (``postgresql-15`` itself), pgaudit (``postgresql-15-pgaudit``) and pgextwlist
    (``postgresql-15-pgextwlist``, the local stand-in for rds_superuser's right to create pgaudit)."""
    major = _pg_config("--version").split()[1].split(".")[0]
    sharedir, pkglibdir = Path(_pg_config("--sharedir")), Path(_pg_config("--pkglibdir"))
    debian.ensure_files([pkglibdir / "pg_stat_statements.so"], f"postgresql-{major}")
    debian.ensure_files(
        [sharedir / "extension" / "pgaudit.control", pkglibdir / "pgaudit.so"], f"postgresql-{major}-pgaudit"
    )
    debian.ensure_files([pkglibdir / "plugins" / "pgextwlist.so"], f"postgresql-{major}-pgextwlist")


def listen_interfaces(addresses: Sequence[str]) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
    """``127.0.0.1`` or ``10.213.0.1/30`` (an address, with the network its clients come from; /32 without)."""
    interfaces = []
    for address in addresses:
        try:
            interfaces.append(ipaddress.ip_interface(address))
        except ValueError as error:
            raise ValueError(
                f"listen address {address!r}: give an IP address, optionally with the prefix of its clients' "
                "network (for example 10.213.0.1/30)"
            ) from error
    return interfaces


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _fresh_ca(now: datetime.datetime) -> DevelopmentCa:
    """A CA made for one run (its key dies with the process)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = as_ca(
        x509.CertificateBuilder()
        .subject_name(_name("payment-api test CA"))
        .issuer_name(_name("payment-api test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    ).sign(ca_key, hashes.SHA256())
    return DevelopmentCa(key=ca_key, certificate=ca)


def write_certificates(
    folder: Path,
    ca_pair: DevelopmentCa | None = None,
    *,
    host_names: Sequence[str] = (),
    addresses: Sequence[str] = (),
) -> tuple[Path, Path, Path]:
    """A test CA (``ca_pair``, else a fresh one) and a server certificate signed by it for 127.0.0.1, localhost,
    ``host_names`` and ``addresses``: (ca.crt, server.crt, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_pair = ca_pair or _fresh_ca(now)
    ca_key, ca = ca_pair.key, ca_pair.certificate
    server_key = ec.generate_private_key(ec.SECP256R1())
    ips = dict.fromkeys(ipaddress.ip_address(address) for address in ("127.0.0.1", *addresses))
    names = dict.fromkeys(("localhost", *host_names))
    san = x509.SubjectAlternativeName([*(x509.IPAddress(ip) for ip in ips), *(x509.DNSName(name) for name in names)])
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.crt", folder / "server.crt", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(server_key))
    paths[2].chmod(0o600)
    return paths


class LocalPostgres:
    """``start()``, ``restart()``, ``stop()``; ``service_env()`` is the environment the service runs with."""

    def __init__(
        self,
        ca: DevelopmentCa | None = None,
        *,
        host_names: Sequence[str] = (),
        listen_addresses: Sequence[str] = ("127.0.0.1",),
        folder: Path | None = None,
    ) -> None:
        """``ca``: sign the server certificate with this CA (the development test CA, as a development artifact
        trusts), instead of a fresh one (@default: a CA made for this run).

        ``host_names``: DNS names the server certificate names besides ``localhost`` (for example the RDS endpoint
        the boot rehearsal resolves to this server), so that ``verify-full`` by that name succeeds (@default: none).

        ``listen_addresses``: where it listens, each an address with the prefix of the network its clients connect
        from (``10.213.0.1/30``: listen on 10.213.0.1, admit TLS clients of 10.213.0.0/30 with SCRAM; no prefix:
        that one address). Each is also an IP name in the certificate. 127.0.0.1 is always among them
        (@default: 127.0.0.1 only).

        ``folder``: where the server keeps its data, certificates and port; a folder an earlier ``LocalPostgres`` left
        (``stop(remove=False)``) is started again with its data and port (``resumed``), so that two processes use one
        database in turn, as the sandbox's migration and boot phases do (@default: a new temporary folder)."""
        self.interfaces = listen_interfaces(("127.0.0.1", *listen_addresses))
        self.host_names = tuple(host_names)
        for name in self.host_names:
            if not name or any(char in name for char in " ,'\"\n"):
                raise ValueError(f"host name {name!r}: give a DNS name such as db.abc123.us-east-1.rds.amazonaws.com")
        # Its own folder under the system temporary directory: pytest's folders are private to root (0700), and the
        # postgres user must be able to reach the data directory.
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder if folder is not None else Path(tempfile.mkdtemp(prefix="payment-api-pg-"))
        self.data = self.folder / "data"
        port_file = self.folder / "port"
        self.resumed = (self.data / "PG_VERSION").exists() and port_file.exists()
        self.port = int(port_file.read_text(encoding="utf-8")) if self.resumed else free_port()
        self.passwords = {OWNER: secrets.token_hex(16), APP: secrets.token_hex(16)}
        # One idempotency HMAC secret per database, for every process on it (tools/dev/local_api/credentials.py).
        self.idempotency_secret = new_secret()
        self.credentials = idempotency_credentials(self.folder / "credentials", self.idempotency_secret)
        self.ca_file = self.folder / "ca.crt"
        self._bindir = _bindir()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._ca = ca

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self._as_postgres, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            output = result.stdout[-2000:] + result.stderr[-2000:]
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {output}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(
            str(self._bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "postgres.log"),
            "-w",
            "-t",
            "60",
            *args,
            timeout=90,
        )

    def start(self, bootstrap: bool = True) -> None:
        """initdb, TLS certificates, configuration, start; then (``bootstrap``) roles and database.

        Without ``bootstrap`` the server is bare, as RDS hands it over: call ``rds_master`` to get its master user.
        A ``resumed`` folder is only started again (its data, settings and certificates are kept)."""
        self._check_addresses()
        if self.resumed:
            self._pg_ctl("start")
            self._check_listening()
            return
        ensure_extensions()
        self.folder.chmod(0o755)
        addresses = [str(interface.ip) for interface in self.interfaces]
        write_certificates(self.folder, self._ca, host_names=self.host_names, addresses=addresses)
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
            for name in ("server.crt", "server.key"):
                shutil.chown(self.folder / name, "postgres", "postgres")
        self._run(
            str(self._bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        settings = {
            "listen_addresses": f"'{','.join(dict.fromkeys(addresses))}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "ssl": "on",
            "ssl_cert_file": f"'{self.folder / 'server.crt'}'",
            "ssl_key_file": f"'{self.folder / 'server.key'}'",
            **DURABILITY_SETTINGS,
            "max_connections": "300",
            "log_line_prefix": f"'{RDS_LOG_LINE_PREFIX}'",
            **{key: f"'{value}'" for key, value in AUDIT_SETTINGS.items()},
        }
        self._run(
            "sh",
            "-c",
            f"cat >> '{self.data}/postgresql.conf' <<'EOF'\n"
            + "".join(f"{key} = {value}\n" for key, value in settings.items())
            + "EOF\n",
        )
        hba = ["local all all trust"] + [
            f"hostssl all all {network} scram-sha-256"
            for network in dict.fromkeys(interface.network for interface in self.interfaces)
        ]
        self._run("sh", "-c", f"printf '%s\\n' {' '.join(map(shlex.quote, hba))} > '{self.data}/pg_hba.conf'")
        self._pg_ctl("start")
        (self.folder / "port").write_text(str(self.port), encoding="utf-8")
        self._check_listening()
        if bootstrap:
            self._bootstrap()

    def _check_addresses(self) -> None:
        """Each listen address is one of this machine's (a bind to it works; nothing is sent)."""
        for interface in self.interfaces:
            with socket.socket(socket.AF_INET6 if interface.version == 6 else socket.AF_INET) as probe:
                try:
                    probe.bind((str(interface.ip), 0))
                except OSError as error:
                    raise RuntimeError(
                        f"listen address {interface.ip} is not on any interface of this machine ({error}): add it "
                        "first (for example `ip addr add 10.213.0.1/30 dev <veth>`), then start()"
                    ) from error

    def _check_listening(self) -> None:
        """PostgreSQL starts when any listen address binds, and only warns about the others: refuse that (its log
        names each address it listens on)."""
        log = self.log()
        for interface in self.interfaces:
            if f'listening on IPv{interface.version} address "{interface.ip}", port {self.port}' not in log:
                self.stop(remove=False)
                raise RuntimeError(
                    f"PostgreSQL does not listen on {interface.ip} port {self.port}; its log says why: "
                    f"{self.folder}/postgres.log"
                )

    def rds_master(self, user: str, password: str) -> None:
        """What RDS creates: a master user with CREATEROLE and CREATEDB (not a superuser) owning the database.

        RDS's master is also rds_superuser, which may create extensions a plain role may not, pgaudit among them.
        Here pgextwlist gives this one role exactly that (``RDS_SUPERUSER_EXTENSIONS``): its ``CREATE EXTENSION``
        of those runs as the bootstrap superuser, which therefore owns the extension (on RDS the master does)."""
        allowed = ",".join(RDS_SUPERUSER_EXTENSIONS)
        with self.superuser() as conn:
            conn.execute(f"CREATE ROLE {user} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
            conn.execute(f"ALTER ROLE {user} SET local_preload_libraries = 'pgextwlist'")
            conn.execute(f"ALTER ROLE {user} SET extwlist.extensions = '{allowed}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {user}")

    def superuser(self, database: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the Unix socket (set-up and test inspection only)."""
        return psycopg.connect(host=str(self.folder), port=self.port, user="postgres", dbname=database, autocommit=True)

    def _bootstrap(self) -> None:
        # What the platform's database bootstrap does once: roles, database, schema owned by the owner role.
        with self.superuser() as conn:
            for role, password in self.passwords.items():
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")
            conn.execute(f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC")
            conn.execute(f"GRANT CONNECT ON DATABASE {DATABASE} TO {APP}")
        with self.superuser(DATABASE) as conn:
            # As provision-roles does on the deployed database (payment_api.provision).
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgaudit")
            conn.execute(f"ALTER SCHEMA public OWNER TO {OWNER}")
            conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP}")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``."""
        self._pg_ctl("restart", "-m", "fast")

    def crash(self) -> None:
        """``pg_ctl stop -m immediate``: every server process quits at once, without a checkpoint, as in a crash of
        the server; ``resume()`` starts it again and it recovers from its WAL. The operating system does not crash:
        what PostgreSQL wrote stays in its page cache, so this tests what ``synchronous_commit`` promises, which
        ``fsync`` does not change (see ``DURABILITY_SETTINGS``)."""
        self._pg_ctl("stop", "-m", "immediate")

    def resume(self) -> None:
        """``pg_ctl start`` on the existing data directory (after ``crash()``: crash recovery first)."""
        self._pg_ctl("start")

    def log(self) -> str:
        """The server's log so far."""
        path = self.folder / "postgres.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self, remove: bool = True) -> None:
        """Stop now (immediate) and remove the folder; never raises."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    str(self._bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60
                )
        except (RuntimeError, subprocess.SubprocessError, OSError):
            pass
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)

    def service_env(self, **extra: str) -> dict[str, str]:
        """The service's environment: application role for serving, owner role for migrations, verify-full TLS, and
        ``CREDENTIALS_DIRECTORY`` with this database's idempotency HMAC secret (``idempotency-hmac-current``)."""
        return {
            "PAYMENT_ENVIRONMENT": "test",
            "PAYMENT_PROCESSOR": "simulated",
            "PAYMENT_DB_HOST": "127.0.0.1",
            "PAYMENT_DB_PORT": str(self.port),
            "PAYMENT_DB_NAME": DATABASE,
            "PAYMENT_DB_USER": APP,
            "PAYMENT_DB_PASSWORD": self.passwords[APP],
            "PAYMENT_DB_OWNER_USER": OWNER,
            "PAYMENT_DB_OWNER_PASSWORD": self.passwords[OWNER],
            "PAYMENT_DB_SSLMODE": "verify-full",
            "PAYMENT_DB_SSLROOTCERT": str(self.ca_file),
            "CREDENTIALS_DIRECTORY": str(self.credentials),
            **extra,
        }
