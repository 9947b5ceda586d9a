"""compose.yaml passes Docker Compose's own loader and says what the README promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.packaging.compose_model import COMPOSE_FILE, SAMPLE_ENV, project, validate


def _volume(service: dict[str, Any], target: str) -> dict[str, Any]:
    (volume,) = [v for v in service["volumes"] if v["target"] == target]
    found: dict[str, Any] = volume
    return found


def test_compose_file_validates() -> None:
    done = validate(COMPOSE_FILE, SAMPLE_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok:")


def test_library_and_output_are_required() -> None:
    done = validate(COMPOSE_FILE, {})
    assert done.returncode == 1
    assert "required variable CLUSTERCODE_LIBRARY is missing a value" in done.stderr
    assert "required variable CLUSTERCODE_OUTPUT is missing a value" in done.stderr


def test_the_loader_rejects_what_compose_rejects(tmp_path: Path) -> None:
    # A secret no top-level entry defines, and a key the Compose Specification does not have.
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "services:\n  a:\n    image: busybox\n    secrets: [missing]\n",
    )
    done = validate(broken, {})
    assert done.returncode == 1
    assert "secret" in done.stderr and "missing" in done.stderr, done.stderr
    broken.write_text("services:\n  a:\n    image: busybox\n    restart_policy: always\n")
    done = validate(broken, {})
    assert done.returncode == 1
    assert "restart_policy" in done.stderr, done.stderr


def test_control_service() -> None:
    services = project()["services"]
    control = services["clustercode"]
    assert control["build"]["target"] == "cluster"
    assert control["command"][:2] == ["clustercode", "serve"]
    env = control["environment"]
    assert env["CLUSTERCODE_EXECUTOR"] == "local"
    assert env["CLUSTERCODE_REDIS_URL"] == "redis://redis:6379/0"
    assert env["CLUSTERCODE_TOKEN_FILE"] == "/run/secrets/clustercode_token"
    assert control["user"] == "10001:10001"
    assert control["init"] is True
    library = _volume(control, "/library")
    assert (library["type"], library["source"], library.get("read_only")) == (
        "bind",
        "/srv/media",
        True,
    )
    assert _volume(control, "/output")["source"] == "/srv/transcoded"
    assert not _volume(control, "/output").get("read_only")
    assert _volume(control, env["CLUSTERCODE_STATE_DIR"])["type"] == "volume"
    assert [s["source"] for s in control["secrets"]] == ["clustercode_token"]
    assert control["depends_on"]["redis"]["condition"] == "service_healthy"
    assert control["healthcheck"]["test"][0] == "CMD"
    # Published on the host's loopback unless CLUSTERCODE_PUBLISH says otherwise.
    assert [(p["host_ip"], p["published"], p["target"]) for p in control["ports"]] == [
        ("127.0.0.1", "50051", 50051)
    ]


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = project()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "@sha256:" in redis["image"]
    data = _volume(redis, "/data")
    assert data["type"] == "volume"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_web_view() -> None:
    services = project()["services"]
    web = services["web"]
    assert web["build"]["target"] == "web"
    command = web["command"]
    assert command[:4] == ["clustercode", "web", "--listen", "0.0.0.0:8080"]
    assert command[command.index("--address") + 1] == "clustercode:50051"
    assert web["user"] == "10001:10001"
    assert web["depends_on"]["clustercode"]["condition"] == "service_healthy"
    assert "healthcheck" in web


def test_token_is_a_file_secret(tmp_path: Path) -> None:
    secrets = project({**SAMPLE_ENV, "CLUSTERCODE_TOKEN_FILE": str(tmp_path / "t")})["secrets"]
    assert secrets["clustercode_token"]["file"] == str(tmp_path / "t")
