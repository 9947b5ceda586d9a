"""Token resolution and listen addresses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clustercode.cli.main import main
from clustercode.errors import ConfigError
from clustercode.server import ListenAddress, resolve_token
from clustercode.server.app import check_exposure


def test_explicit_token_wins(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    token_file.chmod(0o600)
    environ = {"CLUSTERCODE_TOKEN": "from-env"}
    assert resolve_token(token="explicit", token_file=token_file, environ=environ) == "explicit"
    assert resolve_token(token_file=token_file, environ=environ) == "from-file"
    assert resolve_token(environ=environ) == "from-env"
    assert resolve_token(environ={}) is None


def test_unreadable_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"token_file: cannot read .*missing"):
        resolve_token(token_file=tmp_path / "missing", environ={})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "is empty"),
        ("  \n", "is empty"),
        ("two words", "the token must be non-empty printable ASCII without spaces"),
        ("naïve", "the token must be non-empty"),
        ("\xff\xfe", "the token must be non-empty"),
    ],
)
def test_bad_token_file_content(tmp_path: Path, content: str, problem: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(content)
    token_file.chmod(0o600)
    with pytest.raises(ConfigError, match=r"token_file.*token") as caught:
        resolve_token(token_file=token_file, environ={})
    assert problem in str(caught.value)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640, 0o660, 0o666])
def test_token_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("a" * 40)
    token_file.chmod(mode)
    if mode & 0o070 and not mode & 0o007:
        os.chown(token_file, -1, os.getegid() + 1)  # a group other than the service's
    with pytest.raises(ConfigError) as caught:
        resolve_token(token_file=token_file, environ={})
    assert f"(mode {mode:04o})" in str(caught.value)
    assert str(caught.value).endswith(f"Fix: chmod 600 {token_file}")
    assert "a" * 40 not in str(caught.value)


def test_group_readable_token_file_of_the_services_own_group(tmp_path: Path) -> None:
    # How Kubernetes mounts a secret with fsGroup: root-owned, mode 0440, the pod's group.
    token_file = tmp_path / "token"
    token_file.write_text("b" * 40)
    token_file.chmod(0o440)
    assert resolve_token(token_file=token_file, environ={}) == "b" * 40


def test_short_tokens_warn(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_token(token="short-one") == "short-one"
    assert "only 9 characters" in caplog.text
    caplog.clear()
    assert resolve_token(token="x" * 32) == "x" * 32
    assert caplog.text == ""


def test_token_new_writes_a_private_file(tmp_path: Path) -> None:
    target = tmp_path / "token"
    assert main(["token", "new", "--file", str(target)]) == 0
    assert target.stat().st_mode & 0o777 == 0o600
    token = target.read_text().strip()
    assert len(token) >= 32 and token.isprintable() and " " not in token
    assert resolve_token(token_file=target, environ={}) == token
    # Never silently replaced: a usage error (exit 2), as every config or argument error is.
    assert main(["token", "new", "--file", str(target)]) == 2
    assert target.read_text().strip() == token
    assert main(["token", "new", "--file", str(target), "--force"]) == 0
    assert target.read_text().strip() != token


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
