"""TLS and mTLS through a real server: certificates made here (a CA, a server certificate for
127.0.0.1, client certificates), the client certificate's common name mapped to scopes."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer

pytestmark = pytest.mark.backend_independent  # the transport's certificates and scopes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer_name: x509.Name, issuer_key, key, *, ca: bool = False, server: bool = False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(thing) -> bytes:
    if isinstance(thing, x509.Certificate):
        return thing.public_bytes(serialization.Encoding.PEM)
    return thing.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, bytes]:
    """A CA and, signed by it, a server certificate and two client certificates; also a
    client certificate of another CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("xiaodian test CA", _name("xiaodian test CA"), ca_key, ca_key, ca=True)
    out: dict[str, bytes] = {"ca": _pem(ca)}
    for name, subject, server in (("server", "127.0.0.1", True), ("loader", "batch-loader", False),
                                  ("stranger", "no-scopes", False)):  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        out[f"{name}.crt"] = _pem(_certificate(subject, ca.subject, ca_key, key, server=server))
        out[f"{name}.key"] = _pem(key)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _certificate("rogue CA", _name("rogue CA"), rogue_key, rogue_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    out["rogue.crt"] = _pem(_certificate("batch-loader", rogue_ca.subject, rogue_key, key))
    out["rogue.key"] = _pem(key)
    folder = tmp_path_factory.mktemp("pki")
    for name, data in out.items():
        (folder / name).write_bytes(data)
    out["folder"] = str(folder).encode()
    return out


def _tls_server(tmp_path: Path, pki: dict[str, bytes], mtls: bool) -> XiaodianServer:
    folder = Path(pki["folder"].decode())
    config = Config.ephemeral(tmp_path / "data")
    config.tls.cert_file = str(folder / "server.crt")
    config.tls.key_file = str(folder / "server.key")
    if mtls:
        config.tls.client_ca_file = str(folder / "ca")
        config.auth.client_certificates["batch-loader"] = {"scopes": ["settlement:read", "settlement:write"]}
    server = XiaodianServer(config)
    server.start()
    return server


def _mtls_client(server: XiaodianServer, pki: dict[str, bytes], who: str | None, timeout: float = 5) -> Client:
    """A client trusting the test CA, presenting `who`'s certificate (none for None), no token."""
    key = pki[f"{who}.key"] if who else None
    chain = pki[f"{who}.crt"] if who else None
    empty = Path(pki["folder"].decode()) / "no-data-dir"
    return Client(server.address, root_certificates=pki["ca"], private_key=key, certificate_chain=chain,
                  token="", data_dir=empty, timeout=timeout)  # fmt: skip


def test_tls_serves_with_a_token_and_refuses_plaintext(tmp_path, pki) -> None:
    server = _tls_server(tmp_path, pki, mtls=False)
    try:
        assert server.tls
        with server.admin_client(timeout=5) as client:
            assert client.get_ranking_profile(name="default").profile.name == "default"
        anonymous = Client(server.address, root_certificates=pki["ca"], token="", data_dir=tmp_path, timeout=5)
        with anonymous, pytest.raises(errors.Unauthenticated):
            anonymous.get_balance(account="escrow")
        plaintext = Client(server.address, timeout=3, data_dir=server.config.server.data_dir)
        with plaintext, pytest.raises(errors.Unavailable):
            plaintext.health()
    finally:
        server.stop()


def test_mtls_maps_the_client_certificate_subject_to_scopes(tmp_path, pki) -> None:
    server = _tls_server(tmp_path, pki, mtls=True)
    try:
        with _mtls_client(server, pki, "loader") as loader:
            assert loader.get_balance(account="escrow").settled_fen == 0
            with pytest.raises(errors.PermissionDenied) as caught:
                loader.run_settlement(as_of=Timestamp(seconds=1_800_000_000))
            assert caught.value.metadata["scope"] == "settlement:admin"
        with _mtls_client(server, pki, "stranger") as stranger:
            assert stranger.health() == "SERVING"  # health stays open
            with pytest.raises(errors.Unauthenticated):  # a valid certificate, but no caller of that name
                stranger.get_balance(account="escrow")
        for who in (None, "rogue"):  # no client certificate, or one of another CA
            with _mtls_client(server, pki, who, timeout=3) as refused, pytest.raises(errors.Unavailable):
                refused.health()  # the handshake fails
    finally:
        server.stop()


def test_a_missing_certificate_file_refuses_to_start_with_one_line(tmp_path) -> None:
    from xiaodian.platform.server import StartupError

    config = Config.ephemeral(tmp_path / "data")
    config.tls.cert_file = str(tmp_path / "missing.crt")
    config.tls.key_file = str(tmp_path / "missing.key")
    with pytest.raises(StartupError, match="cannot read the TLS"):
        XiaodianServer(config)


def test_grpc_channel_refuses_a_server_certificate_of_another_ca(tmp_path, pki) -> None:
    server = _tls_server(tmp_path, pki, mtls=False)
    try:
        other = x509.load_pem_x509_certificate(pki["rogue.crt"])
        client = Client(server.address, root_certificates=_pem(other), timeout=3, data_dir=tmp_path)
        with client, pytest.raises(errors.Unavailable):
            client.health()
    finally:
        server.stop()
