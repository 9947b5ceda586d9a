"""The Workflow builder: DAG shape, step command lines, retries, scheduling, golden manifests.

Golden files are rewritten only with ``CLUSTERCODE_REGEN_GOLDEN=1`` and never when ``CI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from hera.workflows import Workflow
from hera.workflows import models as m

from pipelines.contract import JOB_ID_LABEL, STEP_NAMES
from pipelines.settings import EncodeSettings
from pipelines.workflow import (
    StepPod,
    WorkflowSpec,
    build_workflow,
    manifest,
    render_yaml,
)
from tests.pipelines.variants import ARCH, X264, base, variants

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_VARIANTS = ("audio-copy", "resources", "tolerations", "volumes", "local")
REGEN = os.environ.get("CLUSTERCODE_REGEN_GOLDEN") == "1" and not os.environ.get("CI")


def _templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def _tasks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in _templates(doc)["main"]["dag"]["tasks"]}


@pytest.mark.parametrize("name", GOLDEN_VARIANTS)
def test_manifest_matches_golden(name: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    text = render_yaml(variants()[name])
    if REGEN:
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with CLUSTERCODE_REGEN_GOLDEN=1"
    assert yaml.safe_load(path.read_text()) == manifest(variants()[name])


@pytest.mark.parametrize("name", sorted(variants()))
def test_hera_round_trip(name: str) -> None:
    workflow = build_workflow(variants()[name])
    doc = workflow.to_dict()
    from_dict = cast(Workflow, Workflow.from_dict(doc))
    from_yaml = cast(Workflow, Workflow.from_yaml(workflow.to_yaml()))
    assert from_dict.to_dict() == doc
    assert from_yaml.to_dict() == doc
    # The generated Argo model parses it field by field and dumps the same document.
    model = m.Workflow.model_validate(doc)
    assert model.model_dump(by_alias=True, exclude_none=True) == doc


def test_builder_is_pure() -> None:
    spec = variants()["resources"]
    assert manifest(spec) == manifest(spec)
    assert render_yaml(spec) == render_yaml(spec)


def test_dag_without_audio_step() -> None:
    doc = manifest(base())
    tasks = _tasks(doc)
    assert sorted(tasks) == ["encode", "merge", "split"]
    assert "depends" not in tasks["split"]
    assert tasks["encode"]["depends"] == "split"
    assert tasks["encode"]["withParam"] == "{{tasks.split.outputs.parameters.slices}}"
    index_argument = {"name": "index", "value": "{{item.index}}"}
    assert tasks["encode"]["arguments"]["parameters"] == [index_argument]
    assert tasks["merge"]["depends"] == "encode"
    assert "audio" not in _templates(doc)
    assert doc["spec"]["entrypoint"] == "main"
    assert doc["spec"]["onExit"] == "cleanup"
    assert _templates(doc)["main"]["parallelism"] == 8


def test_dag_with_audio_step() -> None:
    doc = manifest(variants()["audio-encode"])
    tasks = _tasks(doc)
    assert tasks["audio"]["depends"] == "split"
    assert tasks["merge"]["depends"] == "encode && audio"
    assert _templates(doc)["audio"]["container"]["args"][0] == "audio"


def test_step_command_lines_follow_the_step_cli() -> None:
    spec = base(step_command=("python3", "-m", "pipelines.steps"))
    templates = _templates(manifest(spec))
    common = [
        "--source",
        "/library/movies/a.mkv",
        "--work",
        "/work/j-0001-1",
        "--settings",
        "{{workflow.parameters.settings}}",
    ]
    expected = {
        "split": ["split", *common, "--slices-out", "/work/j-0001-1/slices.json"],
        "encode": ["encode", *common, "--index", "{{inputs.parameters.index}}"],
        "merge": [
            "merge",
            *common,
            "--output",
            "/output/movies/a.mkv",
            "--result-out",
            "/work/j-0001-1/result.json",
        ],
        "cleanup": ["cleanup", "--work", "/work/j-0001-1", "--status", "{{workflow.status}}"],
    }
    for name, args in expected.items():
        assert templates[name]["container"]["command"] == ["python3", "-m", "pipelines.steps"]
        assert templates[name]["container"]["args"] == args
    assert templates["split"]["outputs"]["parameters"] == [
        {"name": "slices", "valueFrom": {"path": "/work/j-0001-1/slices.json"}}
    ]
    assert templates["merge"]["outputs"]["parameters"] == [
        {"name": "result", "valueFrom": {"path": "/work/j-0001-1/result.json"}}
    ]
    assert templates["encode"]["inputs"]["parameters"] == [{"name": "index"}]


def test_settings_travel_as_a_workflow_parameter() -> None:
    settings = EncodeSettings(video=X264, audio=("-c:a", "aac"), slice_seconds=12.5, threads=2)
    doc = manifest(base(settings=settings))
    params = doc["spec"]["arguments"]["parameters"]
    assert [p["name"] for p in params] == ["settings"]
    assert EncodeSettings.from_json(params[0]["value"]) == settings


@pytest.mark.parametrize("name", sorted(variants()))
def test_every_step_retries_always_with_integer_backoff_except_exit_3(name: str) -> None:
    spec = variants()[name]
    templates = _templates(manifest(spec))
    steps = [t for t in templates.values() if "container" in t]
    assert {t["name"] for t in steps} <= set(STEP_NAMES)
    assert len(steps) == (5 if spec.settings.audio is not None else 4)
    for template in steps:
        retry = template["retryStrategy"]
        assert retry["retryPolicy"] == "Always"
        # Argo's lastRetry.exitCode is a string: the number 3 would never equal it.
        assert retry["expression"] == 'lastRetry.exitCode != "3"'
        assert retry["limit"] == spec.retry_limit
        assert retry["backoff"]["factor"] == 2
        assert isinstance(retry["backoff"]["factor"], int)
        assert retry["backoff"]["duration"] == spec.retry_backoff
        assert retry["backoff"]["cap"] == "1m"
        # maxDuration is a deadline from the first attempt: it would kill long slice retries.
        assert "maxDuration" not in retry["backoff"]


def test_labels_and_annotations() -> None:
    doc = manifest(base(labels={JOB_ID_LABEL: "spoofed", "clustercode.io/attempt": "2"}))
    assert doc["metadata"]["labels"] == {JOB_ID_LABEL: "j-0001", "clustercode.io/attempt": "2"}
    assert doc["metadata"]["annotations"] == {"clustercode.io/source": "/library/movies/a.mkv"}
    assert doc["metadata"]["name"] == "cc-j-0001-1"
    assert doc["metadata"]["namespace"] == "media"


@pytest.mark.parametrize("name", ["arch-selector", "tolerations"])
def test_template_scheduling_repeats_the_workflow_settings(name: str) -> None:
    spec = variants()[name]
    doc = manifest(spec)
    assert doc["spec"]["nodeSelector"] == ARCH
    own_selector = 0
    for template in doc["spec"]["templates"]:
        if "nodeSelector" in template:
            own_selector += 1
            # A template's selector replaces the workflow's: the arch key must be there again.
            assert ARCH.keys() <= template["nodeSelector"].keys()
        if "tolerations" in template:
            workflow_tolerations = doc["spec"]["tolerations"]
            assert template["tolerations"][: len(workflow_tolerations)] == workflow_tolerations
    templates = _templates(doc)
    if name == "arch-selector":
        assert own_selector == 2
        assert templates["encode"]["nodeSelector"] == {**ARCH, "clustercode.io/pool": "encode"}
        assert templates["merge"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
        assert "nodeSelector" not in templates["split"]
    else:
        assert [t["key"] for t in templates["encode"]["tolerations"]] == ["dedicated", "spot"]
        assert "tolerations" not in templates["split"]


def test_resources_per_step() -> None:
    templates = _templates(manifest(variants()["resources"]))
    assert templates["encode"]["container"]["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert templates["cleanup"]["container"]["resources"] == {
        "requests": {"cpu": "50m"},
        "limits": {"memory": "64Mi"},
    }
    assert "resources" not in _templates(manifest(base()))["encode"]["container"]


def test_volumes_are_mounted_by_every_step() -> None:
    doc = manifest(variants()["volumes"])
    assert doc["spec"]["volumes"] == [
        {
            "name": "library",
            "persistentVolumeClaim": {"claimName": "media-library", "readOnly": True},
        },
        {"name": "output", "persistentVolumeClaim": {"claimName": "media-output"}},
        {"name": "work", "hostPath": {"path": "/var/lib/clustercode/work"}},
    ]
    for template in doc["spec"]["templates"]:
        if "container" in template:
            container = template["container"]
            assert [v["name"] for v in container["volumeMounts"]] == ["library", "output", "work"]
            assert container["env"] == [{"name": "CLUSTERCODE_FFMPEG", "value": "/usr/bin/ffmpeg"}]
            assert container["imagePullPolicy"] == "Always"


def test_local_spec_emits_no_kubernetes_extras() -> None:
    doc = manifest(variants()["local"])
    assert "volumes" not in doc["spec"]
    assert "podGC" not in doc["spec"]
    assert "serviceAccountName" not in doc["spec"]
    assert all("volumeMounts" not in t.get("container", {}) for t in doc["spec"]["templates"])


def test_cluster_settings() -> None:
    doc = manifest(base(pod_gc="OnPodCompletion"))
    assert doc["spec"]["serviceAccountName"] == "clustercode-workflow"
    assert doc["spec"]["activeDeadlineSeconds"] == 86400
    assert doc["spec"]["podGC"] == {"strategy": "OnPodCompletion"}
    assert doc["spec"]["ttlStrategy"] == {"secondsAfterCompletion": 3600}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"name": "CC_Upper"}, "name 'CC_Upper'"),
        ({"name": "c" * 64}, "at most 63"),
        ({"job_id": "has space"}, "clustercode.io/job-id"),
        ({"parallelism": 0}, "parallelism 0"),
        ({"retry_limit": -1}, "retry_limit -1"),
        ({"retry_factor": 0}, "retry_factor 0"),
        ({"retry_backoff": "5 seconds"}, "retry_backoff '5 seconds'"),
        ({"pod_gc": "Never"}, "pod_gc 'Never'"),
        ({"steps": {"encdoe": StepPod()}}, "steps ['encdoe'] unknown"),
        ({"source": "relative.mkv"}, "'relative.mkv' is not absolute"),
        ({"step_command": ()}, "step_command is empty"),
        ({"active_deadline_seconds": 0}, "active_deadline_seconds 0"),
    ],
)
def test_invalid_spec_names_the_field(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid workflow spec") as info:
        base(**overrides)
    assert fragment in str(info.value)


def test_spec_is_frozen() -> None:
    spec: Any = base()
    with pytest.raises(AttributeError):
        spec.name = "other"
    assert isinstance(spec, WorkflowSpec)
