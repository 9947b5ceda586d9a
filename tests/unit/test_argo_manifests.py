"""Job attempt + settings -> Workflow manifest, for the local executor and for Argo.

Every Argo variant is checked against the Argo JSON schema and by Argo's own validator, with the
helpers of ``tests/pipelines/test_validation.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from clustercode.config import Settings, load_settings
from clustercode.config.argo import ArgoSettings
from clustercode.errors import ConfigError, ExecutorError
from clustercode.jobs.workflows import (
    argo_manifest,
    local_manifest,
    manifest_factory,
    workflow_name,
)
from clustercode.models import Job
from pipelines.ffmpeg import ffmpeg_path
from pipelines.settings import EncodeSettings
from tests.conftest import REQUIRE_TOOLS
from tests.pipelines.test_validation import VALIDATOR, _argo_validate, _schema_errors

X264 = EncodeSettings(video=("-c:v", "libx264", "-crf", "23"))
ARCH = {"kubernetes.io/arch": "amd64"}


def job(**changes: Any) -> Job:
    fields: dict[str, Any] = {
        "id": "3f9a0c1d2e4b",
        "source": "/srv/shows/Show/S01E01.mkv",
        "fingerprint": "123:abc",
        "profile": "h264",
        "profile_hash": "h",
        "output": "/srv/out/Show/S01E01.mkv",
        "root": "/srv/shows",
        "settings": X264.to_json(),
    }
    fields.update(changes)
    return Job(**fields)


def settings(**argo: Any) -> Settings:
    return Settings(
        libraries=[Path("/srv/movies"), Path("/srv/shows")],
        output=Path("/srv/out"),
        work_dir=Path("/var/lib/cc/work"),
        parallel=3,
        executor="argo",
        argo=ArgoSettings(**argo),
    )


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def test_name_labels_and_annotations_identify_the_job_attempt() -> None:
    doc = argo_manifest(job(), 2, settings(namespace="media"))
    meta = doc["metadata"]
    assert (meta["name"], meta["namespace"]) == ("cc-3f9a0c1d2e4b-2", "media")
    assert meta["labels"] == {
        "clustercode.io/job-id": "3f9a0c1d2e4b",
        "clustercode.io/attempt": "2",
        "app.kubernetes.io/managed-by": "clustercode",
    }
    assert meta["annotations"]["clustercode.io/source"] == "/srv/shows/Show/S01E01.mkv"
    assert meta["annotations"]["clustercode.io/profile"] == "h264"
    assert meta["annotations"]["workflows.argoproj.io/title"] == "S01E01.mkv"
    assert argo_manifest(job(), 2, settings()) == argo_manifest(job(), 2, settings())


def test_argo_paths_are_the_mounted_volumes() -> None:
    doc = argo_manifest(job(), 1, settings())
    merge = templates(doc)["merge"]["container"]
    args = merge["args"]
    assert args[args.index("--source") + 1] == "/library/1/Show/S01E01.mkv"
    assert args[args.index("--output") + 1] == "/output/Show/S01E01.mkv"
    assert args[args.index("--work") + 1] == "/work/3f9a0c1d2e4b"
    assert merge["command"] == ["clustercode-step"]
    assert doc["spec"]["volumes"] == [
        {"name": "library-1", "hostPath": {"path": "/srv/shows"}},
        {"name": "output", "hostPath": {"path": "/srv/out"}},
        {"name": "work", "hostPath": {"path": "/var/lib/cc/work"}},
    ]
    assert merge["volumeMounts"] == [
        {"name": "library-1", "mountPath": "/library/1", "readOnly": True},
        {"name": "output", "mountPath": "/output"},
        {"name": "work", "mountPath": "/work"},
    ]


def test_claims_per_root_and_in_place_writes_to_the_library() -> None:
    argo = {
        "library_volumes": [{"claim": "movies"}, {"claim": "shows"}],
        "output_volume": {"claim": "out"},
        "work_volume": {"claim": "work"},
    }
    doc = argo_manifest(job(), 1, settings(**argo))
    assert doc["spec"]["volumes"] == [
        {"name": "library-1", "persistentVolumeClaim": {"claimName": "shows", "readOnly": True}},
        {"name": "output", "persistentVolumeClaim": {"claimName": "out"}},
        {"name": "work", "persistentVolumeClaim": {"claimName": "work"}},
    ]
    in_place = Settings(
        libraries=[Path("/srv/shows")], in_place=True, executor="argo", work_dir=Path("/w")
    )
    doc = argo_manifest(job(output="/srv/shows/Show/S01E01.x.mkv"), 1, in_place)
    merge = templates(doc)["merge"]["container"]
    assert merge["args"][merge["args"].index("--output") + 1] == "/library/0/Show/S01E01.x.mkv"
    assert merge["volumeMounts"][0] == {"name": "library-0", "mountPath": "/library/0"}


def test_pod_settings_reach_every_step() -> None:
    doc = argo_manifest(
        job(),
        1,
        settings(
            node_selector=ARCH,
            tolerations=[{"key": "media", "operator": "Exists", "effect": "NoSchedule"}],
            step_node_selector={"encode": {"clustercode.io/pool": "encode"}},
            step_tolerations={"encode": [{"key": "spot", "operator": "Exists"}]},
            resources={"encode": {"requests": {"cpu": 2, "memory": "1Gi"}}},
            service_account="cc-workflow",
            image="registry.example/cc:1",
            parallelism=6,
            active_deadline_seconds=7200,
            ttl_seconds=600,
            pod_gc="OnWorkflowSuccess",
            env={"CLUSTERCODE_FFMPEG": "/usr/bin/ffmpeg"},
        ),
    )
    spec = doc["spec"]
    assert spec["nodeSelector"] == ARCH
    assert spec["serviceAccountName"] == "cc-workflow"
    assert (spec["activeDeadlineSeconds"], spec["ttlStrategy"]) == (
        7200,
        {"secondsAfterCompletion": 600},
    )
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert templates(doc)["main"]["parallelism"] == 6
    encode = templates(doc)["encode"]
    # A template's selector replaces the workflow's: the arch selector must be repeated.
    assert encode["nodeSelector"] == {**ARCH, "clustercode.io/pool": "encode"}
    assert [t["key"] for t in encode["tolerations"]] == ["media", "spot"]
    assert encode["container"]["resources"] == {"requests": {"cpu": "2", "memory": "1Gi"}}
    assert encode["container"]["image"] == "registry.example/cc:1"
    assert encode["container"]["env"] == [
        {"name": "CLUSTERCODE_FFMPEG", "value": "/usr/bin/ffmpeg"}
    ]
    assert "nodeSelector" not in templates(doc)["split"]


def test_local_manifest_runs_this_interpreter_on_host_paths(tmp_path: Path) -> None:
    local = Settings(
        libraries=[tmp_path / "lib"], output=tmp_path / "out", work_dir=tmp_path / "w", parallel=3
    )
    source = str(tmp_path / "lib" / "a.mkv")
    doc = local_manifest(job(source=source, root=str(tmp_path / "lib")), 1, local)
    split = templates(doc)["split"]
    assert split["container"]["command"] == [sys.executable, "-m", "pipelines.steps"]
    assert split["container"]["args"][2] == source
    assert split["container"]["args"][4] == str(tmp_path / "w" / "3f9a0c1d2e4b")
    assert split["retryStrategy"]["backoff"]["duration"] == "2s"
    # The steps run the ffmpeg the control plane checked.
    assert split["container"]["env"] == [{"name": "CLUSTERCODE_FFMPEG", "value": ffmpeg_path()}]
    assert templates(doc)["main"]["parallelism"] == 3
    assert "volumes" not in doc["spec"]
    assert "podGC" not in doc["spec"]
    assert manifest_factory(local)(job(source=source), 1) == doc


def test_factory_follows_the_executor_setting() -> None:
    argo = manifest_factory(settings())(job(), 1)
    assert argo["spec"]["volumes"]
    local = manifest_factory(settings(), "local")(job(), 1)
    assert "volumes" not in local["spec"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "/elsewhere/a.mkv", "root": ""}, "is in none of the library roots"),
        ({"output": "/tmp/a.mkv"}, "output /tmp/a.mkv is not below /srv/shows or /srv/out"),
        ({"settings": "{not json"}, "invalid encode settings"),
        ({"id": "Not_Hex"}, "is not a valid workflow name"),
    ],
)
def test_jobs_that_cannot_make_a_workflow(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ExecutorError, match=message):
        argo_manifest(job(**changes), 1, settings())


def test_workflow_name_is_a_dns_label() -> None:
    assert workflow_name("0a1b", 1) == "cc-0a1b-1"
    with pytest.raises(ExecutorError):
        workflow_name("a" * 60, 1)
    with pytest.raises(ExecutorError):
        workflow_name("0a1b", 0)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("output_volume: {claim: a, host_path: /b}", "exactly one of claim and host_path"),
        ("work_volume: {host_path: rel}", "must be absolute"),
        ("resources: {encode: {requests: {gpu: 1}}}", "argo.resources.encode.requests.gpu"),
        ("resources: {transcode: {}}", "argo.resources.transcode"),
        ("step_tolerations: {encode: [{operator: Sometimes}]}", "operator"),
        ("retry_backoff: soon", "retry_backoff"),
        ("url: argo:2746", "must start with http:// or https://"),
    ],
)
def test_argo_settings_errors_name_the_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "cc.yaml"
    path.write_text("argo:\n  " + yaml_text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, require_library=False)


def variants() -> dict[str, dict[str, Any]]:
    """The Argo manifests of the settings that change the Workflow's shape."""
    audio = EncodeSettings(video=X264.video, audio=("-c:a", "aac", "-b:a", "128k"))
    return {
        "host-paths": argo_manifest(job(), 1, settings()),
        "claims": argo_manifest(
            job(),
            1,
            settings(
                library_volumes=[{"claim": "movies"}, {"claim": "shows"}],
                output_volume={"claim": "out"},
                work_volume={"claim": "work"},
            ),
        ),
        "arch-selectors": argo_manifest(
            job(),
            1,
            settings(
                node_selector=ARCH,
                step_node_selector={"encode": {"pool": "encode"}, "merge": {"pool": "io"}},
            ),
        ),
        "tolerations": argo_manifest(
            job(),
            1,
            settings(
                tolerations=[{"key": "media", "value": "yes", "effect": "NoSchedule"}],
                step_tolerations={
                    "encode": [{"key": "spot", "operator": "Exists", "tolerationSeconds": 30}]
                },
            ),
        ),
        "resources": argo_manifest(
            job(settings=audio.to_json()),
            1,
            settings(
                resources={
                    "split": {"requests": {"cpu": "100m"}},
                    "encode": {
                        "requests": {"cpu": 2, "memory": "1Gi"},
                        "limits": {"memory": "2Gi"},
                    },
                    "audio": {"limits": {"cpu": "1"}},
                    "merge": {"requests": {"memory": "256Mi"}},
                    "cleanup": {"limits": {"memory": "64Mi"}},
                },
                parallelism=4,
                active_deadline_seconds=3600,
                service_account="cc",
                env={"A": "b"},
            ),
        ),
    }


@pytest.mark.parametrize("name", sorted(variants()))
def test_argo_variant_matches_the_json_schema(name: str) -> None:
    assert _schema_errors(variants()[name]) == []


@pytest.fixture(scope="module")
def argo_validator() -> Path:
    if VALIDATOR.is_file():
        return VALIDATOR
    message = f"{VALIDATOR} is not built (make validator)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def test_every_argo_variant_passes_argos_validator(argo_validator: Path, tmp_path: Path) -> None:
    files = []
    for name, doc in sorted(variants().items()):
        as_json = tmp_path / f"{name}.json"
        as_json.write_text(json.dumps(doc))
        as_yaml = tmp_path / f"{name}.yaml"
        as_yaml.write_text(yaml.safe_dump(doc))
        files += [as_json, as_yaml]
    result = _argo_validate(argo_validator, *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{f}: ok" for f in files]
