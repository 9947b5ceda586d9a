"""The API definition's tooling: buf lint and format, committed modules current, buf.gen.yaml
equivalent to tools/generate-proto."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "tools" / "generate-proto"
COMMITTED = ROOT / "clustercode" / "api" / "v1"


@pytest.fixture
def buf() -> str:
    """Path of buf (go install github.com/bufbuild/buf/cmd/buf@v1.75.0)."""
    return require_tool("buf")


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command with this interpreter's directory first on PATH (buf runs `python3`)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_buf_lint(buf: str) -> None:
    result = run(buf, "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format(buf: str) -> None:
    result = run(buf, "format", "-d", "--exit-code")
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_modules_are_current() -> None:
    result = run(sys.executable, GENERATE, "--check")
    assert result.returncode == 0, result.stderr


def test_check_notices_a_stale_module(tmp_path: Path) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(COMMITTED, copy)
    (copy / "jobs_pb2.pyi").write_text("# edited by hand\n")
    (copy / "old_pb2.py").write_text("")
    result = run(sys.executable, GENERATE, "--check", "--out", copy)
    assert result.returncode == 1
    assert "jobs_pb2.pyi is out of date" in result.stderr
    assert "old_pb2.py is out of date" in result.stderr
    assert "service_pb2.py" not in result.stderr


def _descriptor(module: str) -> descriptor_pb2.FileDescriptorProto:
    # The serialized FileDescriptorProto that protoc embeds in a *_pb2.py module.
    match = re.search(r"AddSerializedFile\((b'.*')\)", module)
    assert match is not None
    proto = descriptor_pb2.FileDescriptorProto.FromString(ast.literal_eval(match.group(1)))
    for message in proto.message_type:
        _drop_json_names(message)
    return proto


def _drop_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _drop_json_names(nested)


def test_buf_generate_matches_generate_proto(buf: str, tmp_path: Path) -> None:
    generated = run(buf, "generate", "-o", tmp_path)
    assert generated.returncode == 0, generated.stderr
    relocated = tmp_path / "relocated"
    result = run(
        sys.executable, GENERATE, "--raw", tmp_path / "build" / "proto-gen", "--out", relocated
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in relocated.iterdir())
    assert names == sorted(p.name for p in COMMITTED.iterdir() if "_pb2" in p.name)
    for name in names:
        ours, bufs = (COMMITTED / name).read_text(), (relocated / name).read_text()
        if name.endswith("_pb2.py"):
            # buf's compiler also records each field's json_name; nothing else may differ.
            assert _descriptor(bufs) == _descriptor(ours), name
        else:
            assert bufs == ours, name
