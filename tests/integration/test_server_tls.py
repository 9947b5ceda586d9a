"""TLS and mutual TLS on a real server, with the API client of the TUI too."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest

from clustercode.api.v1 import service_pb2, service_pb2_grpc
from clustercode.errors import ConfigError
from clustercode.server import ApiServer
from clustercode.server.tls import TlsFiles
from tests.integration.grpc_client import AUTH, TOKEN
from tests.integration.server_double import ControlDouble
from tests.support.certs import Certs, make_certs
from tui.client import ApiClient
from tui.settings import Settings as TuiSettings
from tui.settings import Tls


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _credentials(
    ca: Path, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


async def _status(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = (
        grpc.aio.secure_channel(target, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        stub = service_pb2_grpc.ClustercodeServiceStub(channel)
        try:
            await stub.GetStatus(service_pb2.GetStatusRequest(), metadata=AUTH, timeout=5)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK


async def test_tls_server_answers_only_over_tls_with_the_right_ca(certs: Certs) -> None:
    tls = TlsFiles(cert=certs.server, key=certs.server_key)
    async with ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN, tls=tls) as server:
        assert await _status(server.target, _credentials(certs.ca)) is grpc.StatusCode.OK
        assert await _status(server.target, None) is grpc.StatusCode.UNAVAILABLE
        assert await _status(server.target, _credentials(certs.other_ca)) is (
            grpc.StatusCode.UNAVAILABLE
        )
        client = ApiClient(
            TuiSettings(address=server.target, token=TOKEN, tls=Tls(ca=certs.ca.read_bytes()))
        )
        try:
            assert (await client.status()).executor
        finally:
            await client.close()


async def test_mutual_tls_needs_a_client_certificate(certs: Certs) -> None:
    tls = TlsFiles(cert=certs.server, key=certs.server_key, client_ca=certs.ca)
    async with ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN, tls=tls) as server:
        without = await _status(server.target, _credentials(certs.ca))
        assert without is grpc.StatusCode.UNAVAILABLE
        with_cert = _credentials(certs.ca, certs.client, certs.client_key)
        assert await _status(server.target, with_cert) is grpc.StatusCode.OK


def test_bad_tls_files_are_named(tmp_path: Path, certs: Certs) -> None:
    not_pem = tmp_path / "cert.txt"
    not_pem.write_text("hello")
    with pytest.raises(ConfigError, match=r"tls_cert: .*cert.txt is not a PEM file"):
        ApiServer(ControlDouble(), tls=TlsFiles(cert=not_pem, key=certs.server_key))
    with pytest.raises(ConfigError, match=r"tls_key: cannot read .*missing"):
        ApiServer(ControlDouble(), tls=TlsFiles(cert=certs.server, key=tmp_path / "missing"))


def test_a_remote_listen_without_tls_warns_loudly(
    certs: Certs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        ApiServer(ControlDouble(), listen="0.0.0.0:0", token=TOKEN)
    assert "WITHOUT TLS" in caplog.text
    caplog.clear()
    tls = TlsFiles(cert=certs.server, key=certs.server_key)
    with caplog.at_level(logging.WARNING):
        ApiServer(ControlDouble(), listen="0.0.0.0:0", token=TOKEN, tls=tls)
        ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN)
    assert "WITHOUT TLS" not in caplog.text
