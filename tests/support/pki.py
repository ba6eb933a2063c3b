"""A throw-away certificate authority made with the openssl CLI, shaped like Puppet's: a CA, a
CRL, a server certificate and client certificates whose CN is the certname."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_CONFIG = """
[ ca ]
default_ca = puppet_ca
[ puppet_ca ]
dir = {dir}
database = {dir}/index.txt
serial = {dir}/serial
crlnumber = {dir}/crlnumber
default_md = sha256
default_crl_days = 30
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:{{cn}},DNS:localhost,IP:127.0.0.1
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class TestCA:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def crl(self) -> Path:
        return self.dir / "crl.pem"

    def issue(self, cn: str) -> tuple[Path, Path, Path]:
        """Certificate and key for ``cn``; returns (cert, key, combined cert+key PEM)."""
        key, csr, cert, both = (self.dir / f"{cn}.{ext}" for ext in ("key", "csr", "crt", "pem"))
        config = self.dir / f"{cn}.cnf"
        config.write_text(CA_CONFIG.format(dir=self.dir).replace("{cn}", cn))
        _openssl(
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            f"/CN={cn}",
            "-config",
            str(config),
            cwd=self.dir,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(self.ca_cert),
            "-CAkey",
            str(self.dir / "ca.key"),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            "2",
            "-sha256",
            "-extfile",
            str(config),
            "-extensions",
            "v3_leaf",
            cwd=self.dir,
        )
        both.write_text(cert.read_text() + key.read_text())
        return cert, key, both


def make_ca(directory: Path, name: str = "Puppet CA: test") -> TestCA:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    (directory / "crlnumber").write_text("01\n")
    config = directory / "ca.cnf"
    config.write_text(CA_CONFIG.format(dir=directory).replace("{cn}", "ca"))
    _openssl(
        "req",
        "-x509",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-config",
        str(config),
        "-extensions",
        "v3_ca",
        cwd=directory,
    )
    _openssl(
        "ca",
        "-gencrl",
        "-config",
        str(config),
        "-keyfile",
        "ca.key",
        "-cert",
        "ca.pem",
        "-out",
        "crl.pem",
        cwd=directory,
    )
    return TestCA(directory)


def make_pki(directory: Path, client_certname: str) -> dict[str, Path]:
    """A CA with a server certificate (valid for localhost and 127.0.0.1) and a client
    certificate for ``client_certname``, as paths: what a TLS test with a Puppet agent needs."""
    ca = make_ca(directory)
    server_cert, server_key, _ = ca.issue("localhost")
    client_cert, client_key, _ = ca.issue(client_certname)
    return {
        "ca": ca.ca_cert,
        "crl": ca.crl,
        "server_cert": server_cert,
        "server_key": server_key,
        "client_cert": client_cert,
        "client_key": client_key,
    }
