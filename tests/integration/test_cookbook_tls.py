"""The README's TLS lines, run against a real ``clustercode serve`` with a certificate."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.support.certs import Certs, make_certs

README = Path(__file__).resolve().parents[2] / "README.md"


def tls_lines() -> list[str]:
    """The lines of the README's "Over TLS" block."""
    section = README.read_text(encoding="utf-8").split("### Over TLS", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Certs]]:
    """``token new`` and ``serve`` exactly as the README says, with paths of this test."""
    certs = make_certs(tmp_path / "tls")
    library, output = tmp_path / "library", tmp_path / "out"
    library.mkdir()
    paths = {
        "/etc/clustercode/token": str(tmp_path / "token"),
        "/etc/clustercode/server.pem": str(certs.server),
        "/etc/clustercode/server-key.pem": str(certs.server_key),
        "/srv/media": str(library),
        "/srv/transcoded": str(output),
        "0.0.0.0:50051": "127.0.0.1:0",
    }
    make_token, serve_line = tls_lines()[:2]
    argv = [sys.executable, "-m", "clustercode"]
    for old, new in paths.items():
        make_token, serve_line = make_token.replace(old, new), serve_line.replace(old, new)
    subprocess.run(argv + shlex.split(make_token)[1:], check=True, timeout=60)
    token = Path(paths["/etc/clustercode/token"]).read_text().strip()
    process = subprocess.Popen(
        argv + shlex.split(serve_line)[1:] + ["--state-dir", str(tmp_path / "state")],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLUSTERCODE_SCAN_INTERVAL": "3600"},
    )
    assert process.stderr is not None
    address = ""
    deadline = time.monotonic() + 60
    logged: list[str] = []
    while time.monotonic() < deadline and not address:
        line = process.stderr.readline()
        if not line:
            break
        logged.append(line)
        match = re.search(r"gRPC API on (\S+)", line)
        address = match.group(1) if match else ""
    try:
        assert address, "".join(logged)
        yield address, token, certs
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def test_tls_cookbook_lines_work(served: tuple[str, str, Certs]) -> None:
    address, token, certs = served
    grpcurl = require_tool("grpcurl")
    lines = [line for line in tls_lines() if line.startswith("grpcurl ")]
    assert len(lines) == 3
    for line in lines:
        line = line.replace("/etc/clustercode/ca.pem", str(certs.ca)).replace("$TOKEN", token)
        line = line.replace("media.lan:50051", address)
        argv = shlex.split(line)
        result = subprocess.run(
            [grpcurl, *argv[1:]], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"{line}\n{result.stderr}"
        reply = json.loads(result.stdout)
        assert reply.get("status") == "SERVING" or "executor" in reply or "profiles" in reply
    # Plain text, or a CA that did not sign the server's certificate, gets nowhere.
    for flags in (["-plaintext"], ["-cacert", str(certs.other_ca)]):
        refused = subprocess.run(
            [grpcurl, *flags, address, "grpc.health.v1.Health/Check"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode != 0
