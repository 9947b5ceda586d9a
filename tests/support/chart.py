"""Rendering the Helm chart with the real helm binary and reading the manifests it yields: the
chart's tests and the Pod Security check of the Workflows its config produces share these."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "clustercode"
KUBE_VERSION = "1.30.0"  # a go-installed helm reports 1.20; the chart needs 1.27+
RELEASE, NAMESPACE = "rel", "media"

Manifest = dict[str, Any]

WORKFLOW_VERBS = ["create", "get", "list", "watch", "patch", "delete"]
TASKRESULT_VERBS = ["create", "patch"]

# External Redis, existing claims and a hostPath, arm64 step pods, the API token from an existing
# Secret, an argo-server token and CA from Secrets, workflows in their own namespace.
VARIANT: dict[str, Any] = {
    "fullnameOverride": "cc",
    "image": {"repository": "registry.example.org/media/clustercode", "tag": "1.2.3"},
    "imagePullSecrets": [{"name": "regcred"}],
    "argo": {
        "url": "https://argo.example.org:2746",
        "namespace": "workflows",
        "token": {"existingSecret": "argo-token", "key": "tok"},
        "verifyTls": True,
        "ca": {"existingSecret": "argo-ca", "key": "ca.pem"},
    },
    "auth": {"existingSecret": "cc-api", "key": "bearer"},
    "redis": {"enabled": False, "external": {"url": "redis://redis.media.svc:6379/2"}},
    "persistence": {
        "libraries": [{"existingClaim": "movies"}, {"hostPath": "/mnt/nas/shows"}],
        "output": {"existingClaim": "transcoded"},
        "work": {"existingClaim": "scratch"},
    },
    "workflows": {
        "arch": "arm64",
        "nodeSelector": {"clustercode.io/pool": "pi"},
        "tolerations": [{"key": "pi", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"encode": {"requests": {"cpu": "4", "memory": "512Mi"}}},
        "serviceAccount": {"create": False, "name": "argo-runner"},
    },
    "config": {"max_jobs": 4, "profile": "pi-h264", "argo": {"parallelism": 8}},
    "profiles": {
        "pi-h264": {"extends": "h264", "description": "H.264, short slices", "slice_seconds": 30},
        "films": "# films keep their grain\nextends: hevc\ndescription: Films\n",
    },
    "nodeSelector": {"kubernetes.io/arch": "arm64"},
}


def values_file(tmp: Path, values: dict[str, Any] | None) -> list[str]:
    if values is None:
        return []
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return ["--values", str(path)]


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, check=False)


def render_chart(
    helm: str, tmp: Path, values: dict[str, Any] | None = None, chart: Path = CHART
) -> list[Manifest]:
    result = run_helm(
        helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *values_file(tmp, values),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(docs: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds_of(docs: list[Manifest]) -> set[tuple[str, str, str]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs}


def chart_config(docs: list[Manifest], tmp: Path, fullname: str) -> tuple[Path, dict[str, Any]]:
    text = one(docs, "ConfigMap", fullname)["data"]["config.yaml"]
    path = tmp / "config.yaml"
    path.write_text(text, encoding="utf-8")
    parsed = yaml.safe_load(text)
    assert isinstance(parsed, dict)
    return path, parsed


def write_profiles(docs: list[Manifest], tmp: Path, fullname: str) -> Path:
    """Write the rendered profiles ConfigMap's files to a directory, as the volume would."""
    directory = tmp / "profiles"
    directory.mkdir()
    for name, text in one(docs, "ConfigMap", f"{fullname}-profiles")["data"].items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def container_of(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Manifest = containers[0]
    return container


def volumes_of(deployment: Manifest) -> dict[str, Manifest]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}


def mounts_of(deployment: Manifest) -> dict[str, Manifest]:
    return {m["name"]: m for m in container_of(deployment)["volumeMounts"]}


def render_workflow(
    config: Path, tmp: Path, library_index: int, profiles_dir: Path | None = None
) -> Manifest:
    """``clustercode render`` of a file with the chart's config; host dirs stand in for mounts."""
    roots = [tmp / f"lib{i}" for i in range(library_index + 1)]
    for root in roots:
        root.mkdir()
    source = roots[library_index] / "film.mkv"
    source.write_bytes(os.urandom(64 * 1024))  # render fingerprints the file; it never decodes
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCODE_")}
    env |= {
        "CLUSTERCODE_LIBRARIES": os.pathsep.join(map(str, roots)),
        "CLUSTERCODE_OUTPUT": str(tmp / "out"),
        "CLUSTERCODE_WORK_DIR": str(tmp / "work"),
        "CLUSTERCODE_STATE_DIR": str(tmp / "state"),
    }
    if profiles_dir is not None:
        env["CLUSTERCODE_PROFILES_DIR"] = str(profiles_dir)
    result = subprocess.run(
        [sys.executable, "-m", "clustercode", "render", str(source), "--config", str(config)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    workflow = yaml.safe_load(result.stdout)
    assert isinstance(workflow, dict) and workflow["kind"] == "Workflow"
    return workflow
