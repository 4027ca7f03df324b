"""The local PostgreSQL's configuration without starting it: the same pgaudit settings as the RDS parameter group,
the server certificate's names, and the listen addresses it accepts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509

from lib.components.database import AUDIT_PARAMETERS
from tools.dev.local_api import postgres
from tools.dev.local_api.postgres import LocalPostgres, listen_interfaces, write_certificates

RDS_NAME = "tapstackdev-db.abc123.us-east-1.rds.amazonaws.com"


def libraries(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


def test_pgaudit_is_configured_as_the_rds_parameter_group_configures_it() -> None:
    audit_keys = {key for key in AUDIT_PARAMETERS if key.startswith("pgaudit.")}
    assert audit_keys, "the parameter group sets pgaudit.log"
    assert {key: postgres.AUDIT_SETTINGS[key] for key in audit_keys} == {
        key: AUDIT_PARAMETERS[key] for key in audit_keys
    }
    local = libraries(postgres.AUDIT_SETTINGS["shared_preload_libraries"])
    assert local == {"pg_stat_statements", "pgaudit"}, "RDS's default pg_stat_statements beside pgaudit"
    assert libraries(AUDIT_PARAMETERS["shared_preload_libraries"]) <= local


def test_the_certificate_names_loopback_the_host_names_and_the_listen_addresses(tmp_path: Path) -> None:
    _, server, _ = write_certificates(tmp_path, host_names=(RDS_NAME,), addresses=("10.213.0.1", "127.0.0.1"))
    san = x509.load_pem_x509_certificate(server.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost", RDS_NAME]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.213.0.1"),
    ]


def test_by_default_the_certificate_names_loopback_only(tmp_path: Path) -> None:
    _, server, _ = write_certificates(tmp_path)
    san = x509.load_pem_x509_certificate(server.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_a_listen_address_carries_its_clients_network() -> None:
    assert [str(interface.network) for interface in listen_interfaces(["127.0.0.1", "10.213.0.1/30"])] == [
        "127.0.0.1/32",
        "10.213.0.0/30",
    ]


@pytest.mark.parametrize("address", ["10.213.0.1/33", "veth0", ""])
def test_a_wrong_listen_address_is_named(address: str) -> None:
    with pytest.raises(ValueError, match=f"listen address {address!r}: give an IP address"):
        listen_interfaces([address])


@pytest.mark.parametrize("name", ["", "db name", "db,other", "db'"])
def test_a_wrong_host_name_is_refused_before_anything_is_made(name: str) -> None:
    with pytest.raises(ValueError, match="give a DNS name"):
        LocalPostgres(host_names=(name,))
