"""TLS for the gRPC server: certificate files to server credentials, with messages that help.

A token sent over plain TCP to another machine can be read by anyone on the path, so a
non-loopback listen address wants TLS (``tls_cert`` + ``tls_key``); ``tls_client_ca`` makes it
mutual TLS, clients then need a certificate that CA signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from clustercode.config.settings import Settings
from clustercode.errors import ConfigError

__all__ = ["TlsFiles", "channel_credentials", "read_pem", "tls_files"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """The server's TLS files.

    Attributes:
        cert: PEM certificate chain.
        key: PEM private key of ``cert``.
        client_ca: PEM CA certificates clients must be signed by (mutual TLS), or None.
    """

    cert: Path
    key: Path
    client_ca: Path | None = None

    def server_credentials(self) -> grpc.ServerCredentials:
        """Read the files into grpc server credentials.

        Raises:
            ConfigError: a file cannot be read or holds no PEM block.
        """
        ca = read_pem(self.client_ca, "tls_client_ca") if self.client_ca is not None else None
        return grpc.ssl_server_credentials(
            [(read_pem(self.key, "tls_key"), read_pem(self.cert, "tls_cert"))],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )


def read_pem(path: Path, setting: str) -> bytes:
    """The bytes of a PEM file.

    Raises:
        ConfigError: it cannot be read or holds no ``-----BEGIN`` block.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{setting}: {path} is not a PEM file (no -----BEGIN line)")
    return data


def channel_credentials(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials:
    """Client credentials: trust ``ca`` (None: the system's roots), present ``cert`` if given.

    Raises:
        ConfigError: a file cannot be read, or only one of cert and key is given.
    """
    if (cert is None) != (key is None):
        raise ConfigError("a client certificate needs both --tls-cert and --tls-key")
    return grpc.ssl_channel_credentials(
        root_certificates=read_pem(ca, "tls_ca") if ca is not None else None,
        private_key=read_pem(key, "tls_key") if key is not None else None,
        certificate_chain=read_pem(cert, "tls_cert") if cert is not None else None,
    )


def tls_files(settings: Settings) -> TlsFiles | None:
    """The server's TLS files from the settings, or None to serve plain TCP."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return TlsFiles(cert=settings.tls_cert, key=settings.tls_key, client_ca=settings.tls_client_ca)
