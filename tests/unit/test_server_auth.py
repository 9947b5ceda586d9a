"""Token resolution and listen addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustercode.errors import ConfigError
from clustercode.server import ListenAddress, resolve_token
from clustercode.server.app import check_exposure


def test_explicit_token_wins(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    environ = {"CLUSTERCODE_TOKEN": "from-env"}
    assert resolve_token(token="explicit", token_file=token_file, environ=environ) == "explicit"
    assert resolve_token(token_file=token_file, environ=environ) == "from-file"
    assert resolve_token(environ=environ) == "from-env"
    assert resolve_token(environ={}) is None


def test_unreadable_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the token file .*missing"):
        resolve_token(token_file=tmp_path / "missing", environ={})


@pytest.mark.parametrize("content", ["", "  \n", "two words", "naïve"])
def test_bad_token_file_content(tmp_path: Path, content: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(content)
    with pytest.raises(ConfigError, match=r"token file .*token: the token must be non-empty"):
        resolve_token(token_file=token_file, environ={})


def test_bad_env_token() -> None:
    with pytest.raises(ConfigError, match=r"^\$CLUSTERCODE_TOKEN: the token must"):
        resolve_token(environ={"CLUSTERCODE_TOKEN": ""})


@pytest.mark.parametrize(
    ("listen", "host", "port", "loopback", "target"),
    [
        ("127.0.0.1:50051", "127.0.0.1", 50051, True, "127.0.0.1:50051"),
        ("127.8.9.10:1", "127.8.9.10", 1, True, "127.8.9.10:1"),
        ("localhost:0", "localhost", 0, True, "localhost:0"),
        ("[::1]:50051", "::1", 50051, True, "[::1]:50051"),
        ("0.0.0.0:50051", "0.0.0.0", 50051, False, "0.0.0.0:50051"),
        ("[::]:50051", "::", 50051, False, "[::]:50051"),
        (":50051", "", 50051, False, "[::]:50051"),
        ("10.0.0.5:8080", "10.0.0.5", 8080, False, "10.0.0.5:8080"),
        ("media.lan:50051", "media.lan", 50051, False, "media.lan:50051"),
    ],
)
def test_listen_address(listen: str, host: str, port: int, loopback: bool, target: str) -> None:
    address = ListenAddress.parse(listen)
    assert (address.host, address.port, address.is_loopback) == (host, port, loopback)
    assert address.grpc_target() == target


def test_unix_socket_address() -> None:
    address = ListenAddress.parse("unix:/run/clustercode/api.sock")
    assert (address.unix_path, address.is_loopback) == ("/run/clustercode/api.sock", True)
    assert address.grpc_target() == "unix:/run/clustercode/api.sock"
    with pytest.raises(ConfigError, match="expected unix:PATH"):
        ListenAddress.parse("unix:")


def test_exposure_check() -> None:
    remote = ListenAddress.parse("0.0.0.0:50051")
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0:50051 without"):
        check_exposure(remote, token=None, allow_insecure_remote=False)
    check_exposure(remote, token="t", allow_insecure_remote=False)
    check_exposure(remote, token=None, allow_insecure_remote=True)
    check_exposure(ListenAddress.parse("127.0.0.1:1"), token=None, allow_insecure_remote=False)
