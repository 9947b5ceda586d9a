"""Settings: file < environment < options, defaults, and messages that say where a value was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clustercode.config import (
    DEFAULT_MEDIA_EXTENSIONS,
    ArgoSettings,
    Settings,
    default_state_dir,
    load_settings,
)
from clustercode.config.reference import settings_reference
from clustercode.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CLUSTERCODE_") or name == "XDG_STATE_HOME":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "etc" / "cc.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = load_settings(require_library=False)
    state = tmp_path / "home" / ".local" / "state" / "clustercode"
    assert settings.state_dir == state == default_state_dir()
    assert settings.work_dir == state / "work"
    assert settings.libraries == []
    assert settings.output is None
    assert settings.executor == "local"
    assert settings.parallel == (os.cpu_count() or 1)
    assert (settings.max_jobs, settings.max_attempts) == (1, 3)
    assert (settings.scan_interval, settings.settle_seconds) == (300.0, 10.0)
    assert settings.media_extensions == DEFAULT_MEDIA_EXTENSIONS
    assert "m2ts" in settings.media_extensions
    assert settings.listen == "127.0.0.1:50051"
    assert settings.redis_url is None
    assert settings.bearer_token() is None
    assert settings.argo == ArgoSettings()
    assert settings.argo.namespace == "argo"
    assert settings.argo.pod_gc == "OnPodSuccess"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings(require_library=False).state_dir == tmp_path / "xdg" / "clustercode"


def test_file_then_environment_then_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = config(
        tmp_path,
        "libraries: [media/films, /srv/shows]\n"
        "output: ../out\n"
        "parallel: 4\n"
        "max_jobs: 2\n"
        "state_dir: ~/cc-state\n"
        "media_extensions: [MKV, .mp4]\n"
        "argo:\n  namespace: media\n  parallelism: 5\n"
        "  node_selector: {kubernetes.io/arch: amd64}\n",
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = load_settings(path)
    etc = tmp_path / "etc"
    assert settings.libraries == [etc / "media" / "films", Path("/srv/shows")]
    assert settings.output == tmp_path / "out"  # relative to the file, normalised
    assert settings.state_dir == tmp_path / "home" / "cc-state"
    assert settings.work_dir == tmp_path / "home" / "cc-state" / "work"
    assert settings.media_extensions == frozenset({"mkv", "mp4"})
    assert (settings.parallel, settings.max_jobs) == (4, 2)
    assert settings.argo.node_selector == {"kubernetes.io/arch": "amd64"}

    monkeypatch.setenv("CLUSTERCODE_PARALLEL", "3")
    monkeypatch.setenv("CLUSTERCODE_ARGO__NAMESPACE", "encode")
    monkeypatch.setenv("CLUSTERCODE_LIBRARIES", "lib1:/abs/lib2")
    monkeypatch.setenv("CLUSTERCODE_MEDIA_EXTENSIONS", "avi, ts")
    settings = load_settings(path)
    assert settings.parallel == 3
    assert settings.libraries == [tmp_path / "lib1", Path("/abs/lib2")]  # relative to the cwd
    assert settings.media_extensions == frozenset({"avi", "ts"})
    assert settings.argo.namespace == "encode"
    assert settings.argo.parallelism == 5  # the file's other argo keys survive
    assert settings.max_jobs == 2

    settings = load_settings(path, parallel=7, output=None, profile="hevc")
    assert settings.parallel == 7
    assert settings.output == tmp_path / "out"  # None means "option not given"
    assert settings.profile == "hevc"


def test_config_file_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = config(tmp_path, "libraries: [/lib]\nin_place: true\n")
    monkeypatch.setenv("CLUSTERCODE_CONFIG", str(path))
    settings = load_settings()
    assert settings.in_place is True
    assert settings.excluded_dirs() == [settings.work_dir, settings.state_dir]


def test_settings_are_frozen() -> None:
    settings = load_settings(require_library=False)
    with pytest.raises(ValueError, match="frozen"):
        settings.parallel = 9


def test_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    settings = load_settings(require_library=False, token_file=token, listen="0.0.0.0:50051")
    assert settings.bearer_token() == "s3cret"
    token.write_text("")
    with pytest.raises(ConfigError) as caught:
        settings.bearer_token()
    assert str(caught.value) == f"token_file: {token} is empty"
    inline = load_settings(require_library=False, token="abc")
    assert inline.bearer_token() == "abc"
    assert "abc" not in repr(inline)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("libraries: [/lib]\n", "config {file}: output: required unless in_place is true"),
        ("output: /out\n", "config {file}: libraries: at least one library root is required"),
        (
            "libraries: [/lib]\noutput: /out\nparalel: 4\n",
            "config {file} line 3: paralel: unknown setting",
        ),
        (
            "libraries: [/lib]\noutput: /out\n\nparallel: many\n",
            "config {file} line 4: parallel: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            "libraries: [/lib]\noutput: /out\nexecutor: k8s\n",
            "config {file} line 3: executor: Input should be 'local' or 'argo'",
        ),
        (
            "libraries: [/lib]\noutput: /out\nargo:\n  namespace: media\n  pod_gc: Never\n",
            "config {file} line 5: argo.pod_gc: Input should be 'OnPodCompletion', "
            "'OnPodSuccess', 'OnWorkflowCompletion' or 'OnWorkflowSuccess'",
        ),
        (
            "libraries: [/lib]\noutput: /out\nargo:\n  namespce: media\n",
            "config {file} line 4: argo.namespce: unknown setting",
        ),
        (
            "libraries: [/lib]\noutput: /out\nin_place: true\n",
            "config {file} line 2: output: set either output or in_place: true, not both",
        ),
        (
            "libraries: [/media/films]\noutput: /media\n",
            "config {file} line 2: output: /media contains library root /media/films; the output "
            "root is never scanned, so put it beside or inside the library instead",
        ),
        (
            "libraries: [/lib]\noutput: /out\nlisten: 0.0.0.0:50051\n",
            "config {file} line 3: listen: 0.0.0.0:50051 is reachable from other machines; set "
            "token or token_file, or allow_insecure_remote: true",
        ),
        (
            "libraries: [/lib]\noutput: /out\nlisten: localhost\n",
            "config {file} line 3: listen: expected host:port or unix:PATH, got 'localhost'",
        ),
        (
            "libraries: [/lib]\noutput: /out\nmax_attempts: 0\n",
            "config {file} line 3: max_attempts: Input should be greater than or equal to 1",
        ),
        (
            "libraries: [/lib\noutput: /out\n",
            "config {file} line 2: YAML syntax error: expected ',' or ']', but got ':'",
        ),
        ("- /lib\n", "config {file} line 1: expected a mapping of settings, got a list"),
    ],
)
def test_bad_config_file_messages(tmp_path: Path, text: str, message: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == message.format(file=path)


def test_messages_name_the_environment_variable_or_option(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = config(tmp_path, "libraries: [/lib]\noutput: /out\nparallel: 2\n")
    monkeypatch.setenv("CLUSTERCODE_SLICE_SECONDS", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        "environment CLUSTERCODE_SLICE_SECONDS: Input should be greater than 0"
    )
    monkeypatch.delenv("CLUSTERCODE_SLICE_SECONDS")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, parallel=0, max_jobs=0)
    assert str(caught.value) == (
        "option parallel: Input should be greater than or equal to 1\n"
        "option max_jobs: Input should be greater than or equal to 1"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, paralel=3)
    assert str(caught.value) == "option paralel: unknown setting"
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "missing.yaml")
    assert str(caught.value) == (
        f"config {tmp_path / 'missing.yaml'}: cannot read: No such file or directory"
    )


def test_settings_class_is_usable_directly() -> None:
    settings = Settings(libraries=[Path("/lib")], output=Path("/out"))
    assert settings.excluded_dirs()[0] == Path("/out")


def test_every_setting_is_documented() -> None:
    docs = {doc.name: doc for doc in settings_reference()}
    assert len(docs) == len(Settings.model_fields) - 1 + len(ArgoSettings.model_fields)
    assert all(doc.description for doc in docs.values())
    assert docs["parallel"].env == "CLUSTERCODE_PARALLEL"
    assert docs["argo.namespace"].env == "CLUSTERCODE_ARGO__NAMESPACE"
    assert docs["argo.namespace"].default == "argo"
    assert docs["in_place"].default == "false"
    assert docs["work_dir"].default == "<state_dir>/work"
    assert docs["media_extensions"].default.startswith("avi, flv, m2ts")


def test_config_command_prints_every_setting() -> None:
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "clustercode", "config", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = {doc["name"]: doc for doc in json.loads(result.stdout)}
    assert set(printed) == {doc.name for doc in settings_reference()}
    assert printed["parallel"]["env"] == "CLUSTERCODE_PARALLEL"
    text = subprocess.run(
        [sys.executable, "-m", "clustercode", "config"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert text.startswith("libraries  (CLUSTERCODE_LIBRARIES, default: [])\n")
