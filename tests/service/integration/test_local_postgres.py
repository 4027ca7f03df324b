"""LocalPostgres's options for the boot rehearsal, against a real server: ``verify-full`` by a DNS name the
certificate carries (``host`` is the name, ``hostaddr`` where it resolves to), an extra listen address, and
pg_hba admitting TLS clients of that address's network only (a client's source address is set by a TCP forwarder
bound to it, since libpq cannot choose one)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres

RDS_NAME = "tapstackdev-db.abc123.us-east-1.rds.amazonaws.com"


@pytest.fixture(name="rehearsal_db", scope="module")
def fixture_rehearsal_db() -> Iterator[LocalPostgres]:
    database = LocalPostgres(host_names=(RDS_NAME,), listen_addresses=("127.0.0.1", "127.0.0.2/30"))
    try:
        database.start()
        yield database
    finally:
        database.stop()


def connect(database: LocalPostgres, **where: Any) -> psycopg.Connection:
    return psycopg.connect(
        **{"port": database.port, **where},
        dbname=DATABASE,
        user=APP,
        password=database.passwords[APP],
        sslmode="verify-full",
        sslrootcert=str(database.ca_file),
        connect_timeout=10,
    )


def peer(conn: psycopg.Connection) -> tuple[str, str]:
    row = conn.execute("SELECT host(inet_server_addr()), host(inet_client_addr())").fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


@contextmanager
def forwarder(source: str, target: tuple[str, int]) -> Iterator[int]:
    """A TCP forwarder on 127.0.0.1:<port> whose connections to ``target`` come from ``source``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pump(reader: socket.socket, writer: socket.socket) -> None:
        try:
            while data := reader.recv(65536):
                writer.sendall(data)
        except OSError:
            pass
        finally:
            writer.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(target, timeout=10, source_address=(source, 0))
            for reader, writer in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(reader, writer), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_verify_full_by_the_host_name_the_certificate_names(rehearsal_db: LocalPostgres) -> None:
    with connect(rehearsal_db, host=RDS_NAME, hostaddr="127.0.0.1") as conn:
        assert peer(conn) == ("127.0.0.1", "127.0.0.1")
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        connect(rehearsal_db, host="other-db.abc123.us-east-1.rds.amazonaws.com", hostaddr="127.0.0.1")


def test_the_extra_address_listens_and_is_named_in_the_certificate(rehearsal_db: LocalPostgres) -> None:
    with connect(rehearsal_db, host=RDS_NAME, hostaddr="127.0.0.2") as conn:
        assert peer(conn)[0] == "127.0.0.2"
    with connect(rehearsal_db, host="127.0.0.2") as conn:
        assert peer(conn)[0] == "127.0.0.2"


def test_clients_of_the_extra_addresses_network_are_admitted_and_no_others(rehearsal_db: LocalPostgres) -> None:
    with forwarder("127.0.0.3", ("127.0.0.2", rehearsal_db.port)) as port:
        with connect(rehearsal_db, host=RDS_NAME, hostaddr="127.0.0.1", port=port) as conn:
            assert peer(conn) == ("127.0.0.2", "127.0.0.3")
    with forwarder("127.0.0.5", ("127.0.0.2", rehearsal_db.port)) as port:
        with pytest.raises(psycopg.OperationalError, match=r'no pg_hba\.conf entry for host "127\.0\.0\.5"'):
            connect(rehearsal_db, host=RDS_NAME, hostaddr="127.0.0.1", port=port)


def test_by_default_loopback_only_and_no_other_name(postgres: LocalPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        connect(postgres, host=RDS_NAME, hostaddr="127.0.0.1")
    with pytest.raises(psycopg.OperationalError, match="refused"):
        connect(postgres, host="127.0.0.2")
    with connect(postgres, host="localhost", hostaddr="127.0.0.1") as conn:
        assert peer(conn) == ("127.0.0.1", "127.0.0.1")


def test_an_address_of_no_interface_fails_the_start_before_anything_runs() -> None:
    database = LocalPostgres(listen_addresses=("192.0.2.1/30",))  # TEST-NET-1: on no interface here
    try:
        with pytest.raises(RuntimeError, match=r"listen address 192\.0\.2\.1 is not on any interface .*ip addr add"):
            database.start()
        assert not database.data.exists(), "checked before initdb"
    finally:
        database.stop()


def test_an_address_postgresql_cannot_bind_fails_the_start() -> None:
    """127.0.0.2 is this machine's, but its port is taken: PostgreSQL would start on 127.0.0.1 alone."""
    database = LocalPostgres(listen_addresses=("127.0.0.2/30",))
    with socket.create_server(("127.0.0.2", database.port)):
        try:
            with pytest.raises(RuntimeError, match=r"does not listen on 127\.0\.0\.2 port \d+"):
                database.start()
            assert not (database.data / "postmaster.pid").exists(), "the half-started server is stopped"
            assert 'could not bind IPv4 address "127.0.0.2"' in database.log()
        finally:
            database.stop()
