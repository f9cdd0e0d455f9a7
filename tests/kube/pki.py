"""A throwaway PKI for the local control plane: one CA, serving certs, an admin client cert and the
service-account signing key. Real X.509, so every client verifies TLS instead of skipping it."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)


def _write_key(key, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


class PKI:
    """Creates (once) and names every credential file under ``directory``."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca_cert = directory / "ca.crt"
        self.ca_key = directory / "ca.key"
        self.apiserver_cert = directory / "apiserver.crt"
        self.apiserver_key = directory / "apiserver.key"
        self.admin_cert = directory / "admin.crt"
        self.admin_key = directory / "admin.key"
        self.kwok_cert = directory / "kwok.crt"
        self.kwok_key = directory / "kwok.key"
        self.sa_key = directory / "sa.key"
        self.sa_pub = directory / "sa.pub"

    def ensure(self) -> "PKI":
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.sa_pub.exists():
            return self
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("mcp-operator-local-ca"))
            .issuer_name(_name("mcp-operator-local-ca"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(ca_key, self.ca_key)
        _write_cert(ca, self.ca_cert)

        def issue(cn, org, usage, sans, cert_path, key_path):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(_name(cn, org))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(now + _VALIDITY)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            _write_key(key, key_path)
            _write_cert(builder.sign(ca_key, hashes.SHA256()), cert_path)

        loopback = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        issue(
            "kube-apiserver",
            None,
            ExtendedKeyUsageOID.SERVER_AUTH,
            loopback
            + [
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"),
                x509.DNSName("kubernetes.default.svc.cluster.local"),
                x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
            ],
            self.apiserver_cert,
            self.apiserver_key,
        )
        # system:masters makes this the cluster admin; the apiserver also uses it as its kubelet
        # client credential when it reaches kwok's kubelet-like server for logs and port-forward.
        issue(
            "kubernetes-admin",
            "system:masters",
            ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
            self.admin_cert,
            self.admin_key,
        )
        issue(
            "kwok",
            None,
            ExtendedKeyUsageOID.SERVER_AUTH,
            loopback,
            self.kwok_cert,
            self.kwok_key,
        )
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(sa_key, self.sa_key)
        self.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return self
