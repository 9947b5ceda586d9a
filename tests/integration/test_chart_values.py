"""The Helm chart's values: bad values and config typos fail helm with a clear message, the
NOTES, in-place mode with the Redis URL from a Secret, the values schema against the settings
model, and the metrics ServiceMonitor and web view.

The ``helm`` and ``clean_env`` fixtures live in the integration conftest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from clustercode.cli.parser import build_parser
from clustercode.config import load_settings
from clustercode.config.reference import settings_reference
from clustercode.config.schema import config_json_schema
from tests.support.chart import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    chart_config,
    container_of,
    mounts_of,
    one,
    render_chart,
    run_helm,
    values_file,
)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"listen": "0.0.0.0:1"}}, "config.listen: the chart sets this itself"),
        ({"config": {"argo": {"image": "x"}}}, "config.argo.image: the chart sets this itself"),
        # values.schema.json
        ({"workflows": {"arch": "riscv64"}}, "at '/workflows/arch': value must be one of"),
        ({"workflow": {"arch": "arm64"}}, "additional properties 'workflow' not allowed"),
        ({"persistence": {"libraries": []}}, "at '/persistence/libraries': minItems"),
        # the templates
        ({"redis": {"enabled": False}}, "redis: set redis.enabled: true, or redis.external.url"),
        (
            {"argo": {"namespace": "workflows"}},
            "persistence.libraries[0]: the chart's claims live in namespace media but workflows "
            "run in workflows",
        ),
        (
            {"persistence": {"output": {"existingClaim": "a", "hostPath": "/b"}}},
            "persistence.output: set existingClaim or hostPath, not both",
        ),
        (
            {"persistence": {"libraries": [{"hostPath": "media"}]}},
            'persistence.libraries[0].hostPath: "media" must be an absolute path',
        ),
        (
            {"profiles": {"my films": {"extends": "h264"}}},
            "profiles.my films: a profile name may hold only letters, digits",
        ),
        ({"config": {"profiles_dir": "/p"}}, "config.profiles_dir: the chart sets this itself"),
        (
            {"workflows": {"serviceAccount": {"create": False}}},
            "workflows.serviceAccount.name: name an existing service account",
        ),
    ],
)
def test_bad_values_fail_with_a_clear_message(
    helm: str, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    result = run_helm(
        helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *values_file(tmp_path, values),
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_notes_show_the_grpcurl_port_forward(helm: str, tmp_path: Path) -> None:
    # helm template skips NOTES.txt; render it as a define inside a copy of the chart.
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text(encoding="utf-8")
    (chart / "templates" / "_notes_check.tpl").write_text(
        '{{- define "notes.check" -}}\n' + notes + "\n{{- end }}\n", encoding="utf-8"
    )
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-check\n"
        'data:\n  notes: {{ include "notes.check" . | toJson }}\n',
        encoding="utf-8",
    )
    docs = render_chart(helm, tmp_path, None, chart)
    text = one(docs, "ConfigMap", "notes-check")["data"]["notes"]
    full = f"{RELEASE}-clustercode"
    assert f"kubectl -n {NAMESPACE} port-forward svc/{full} 50051:50051" in text
    assert f"kubectl -n {NAMESPACE} get secret {full}-token -o jsonpath='{{.data.token}}'" in text
    assert 'grpcurl -plaintext -H "authorization: Bearer $TOKEN" localhost:50051 list' in text
    assert one(docs, "Secret", f"{full}-token")["data"]["token"]


def test_in_place_and_redis_url_from_a_secret(helm: str, tmp_path: Path, clean_env: None) -> None:
    values = {
        "config": {"in_place": True},
        "redis": {"enabled": False, "external": {"existingSecret": "media-redis", "key": "dsn"}},
    }
    docs = render_chart(helm, tmp_path, values)
    full = f"{RELEASE}-clustercode"
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"} == {
        f"{full}-library-0",
        f"{full}-work",
    }
    deployment = one(docs, "Deployment", full)
    assert container_of(deployment)["env"] == [
        {
            "name": "CLUSTERCODE_REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": "media-redis", "key": "dsn"}},
        }
    ]
    mounts = mounts_of(deployment)
    assert "output" not in mounts
    assert mounts["library-0"]["readOnly"] is False  # outputs replace their sources
    path, raw = chart_config(docs, tmp_path, full)
    assert "output" not in raw and "output_volume" not in raw["argo"]
    settings = load_settings(path)
    assert settings.in_place and settings.output is None


def test_values_schema_covers_every_setting() -> None:
    """The chart's schema of config is the settings model's (tools/chart-schema writes it)."""
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["config"] == config_json_schema()
    names = set(schema["properties"]["config"]["properties"])
    assert names == {doc.name for doc in settings_reference() if "." not in doc.name} | {"argo"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max_job": 3}, "at '/config': additional properties 'max_job' not allowed"),
        ({"max_jobs": "two"}, "at '/config/max_jobs': got string, want integer"),
        ({"settle_seconds": -1}, "at '/config/settle_seconds'"),
        ({"argo": {"paralelism": 3}}, "at '/config/argo': additional properties 'paralelism'"),
        ({"argo": {"pod_gc": "Never"}}, "at '/config/argo/pod_gc'"),
        ({"argo": {"step_node_selector": {"encod": {}}}}, "invalid propertyName 'encod'"),
    ],
)
def test_a_config_typo_fails_helm_not_the_pod(
    helm: str, tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    for command in ("template", "lint"):
        result = run_helm(
            helm, command, *(["rel"] if command == "template" else []), str(CHART),
            "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION,
            *values_file(tmp_path, {"config": config}),
        )  # fmt: skip
        assert result.returncode != 0
        assert message in result.stdout + result.stderr


def test_metrics_service_monitor_and_web_view(helm: str, tmp_path: Path, clean_env: None) -> None:
    full = f"{RELEASE}-clustercode"
    values = {
        "metrics": {
            "port": 9100,
            "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
        },
        "web": {
            "enabled": True,
            "image": {"repository": "registry.example.org/clustercode-web", "tag": "1.2.3"},
            "publicUrl": "https://media.example.org/clustercode",
        },
    }
    docs = render_chart(helm, tmp_path, values)
    _, config = chart_config(docs, tmp_path, full)
    assert config["metrics_listen"] == "0.0.0.0:9100"

    service = one(docs, "Service", full)
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"grpc": (50051, "grpc"), "metrics": (9100, "metrics"), "web": (8080, "web")}
    monitor = one(docs, "ServiceMonitor", full)
    assert monitor["metadata"]["labels"]["release"] == "kps"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    redis = one(docs, "Service", f"{full}-redis")
    assert not selector.items() <= redis["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]

    pod = one(docs, "Deployment", full)["spec"]["template"]["spec"]
    serve, web = pod["containers"]
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in serve["ports"]
    assert web["name"] == "web"
    assert web["image"] == "registry.example.org/clustercode-web:1.2.3"
    assert web["command"] == ["clustercode"]
    assert web["args"] == [
        "web", "--listen", "0.0.0.0:8080", "--address", "127.0.0.1:50051",
        "--token-file", "/etc/clustercode/token/token",
        "--public-url", "https://media.example.org/clustercode",
    ]  # fmt: skip
    assert web["ports"] == [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]
    assert {m["name"]: m["mountPath"] for m in web["volumeMounts"]} == {
        "token": "/etc/clustercode/token", "tmp": "/tmp",
    }  # fmt: skip
    # The same command line is what `clustercode web` accepts.
    parsed = build_parser().parse_args(web["args"])
    assert (parsed.listen, parsed.address, parsed.token_file) == (
        "0.0.0.0:8080", "127.0.0.1:50051", "/etc/clustercode/token/token",
    )  # fmt: skip

    # Metrics off: no port, no setting, no monitor.
    off = render_chart(
        helm, tmp_path, {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}}
    )
    assert "metrics_listen" not in chart_config(off, tmp_path, full)[1]
    assert [p["name"] for p in one(off, "Service", full)["spec"]["ports"]] == ["grpc"]
    assert not [d for d in off if d["kind"] == "ServiceMonitor"]
