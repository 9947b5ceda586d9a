"""The Helm chart: lint, render with defaults and with a variant, and feed the rendered config
file to clustercode itself (load_settings, then ``clustercode render``) to prove it is accepted
and that the Workflows it yields use the chart's service account, volumes and node selector."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clustercode.config import load_settings
from clustercode.profiles.profileset import ProfileSet
from tests.conftest import require_tool

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


def _values_file(tmp: Path, values: dict[str, Any] | None) -> list[str]:
    if values is None:
        return []
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return ["--values", str(path)]


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, check=False)


def _template(
    helm: str, tmp: Path, values: dict[str, Any] | None = None, chart: Path = CHART
) -> list[Manifest]:
    result = _helm(
        helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *_values_file(tmp, values),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _one(docs: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def _kinds(docs: list[Manifest]) -> set[tuple[str, str, str]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs}


@pytest.fixture(scope="module")
def helm() -> str:
    """Path of helm (tools/install-helm)."""
    return require_tool("helm")


@pytest.fixture(scope="module")
def defaults(helm: str, tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The chart rendered with its default values."""
    return _template(helm, tmp_path_factory.mktemp("defaults"))


@pytest.fixture(scope="module")
def variant(helm: str, tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The chart rendered with VARIANT."""
    return _template(helm, tmp_path_factory.mktemp("variant"), VARIANT)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLUSTERCODE_* variables from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("CLUSTERCODE_"):
            monkeypatch.delenv(name)
    yield


def _config(docs: list[Manifest], tmp: Path, fullname: str) -> tuple[Path, dict[str, Any]]:
    text = _one(docs, "ConfigMap", fullname)["data"]["config.yaml"]
    path = tmp / "config.yaml"
    path.write_text(text, encoding="utf-8")
    parsed = yaml.safe_load(text)
    assert isinstance(parsed, dict)
    return path, parsed


def _profiles_dir(docs: list[Manifest], tmp: Path, fullname: str) -> Path:
    """Write the rendered profiles ConfigMap's files to a directory, as the volume would."""
    directory = tmp / "profiles"
    directory.mkdir()
    for name, text in _one(docs, "ConfigMap", f"{fullname}-profiles")["data"].items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _container(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Manifest = containers[0]
    return container


def _volumes(deployment: Manifest) -> dict[str, Manifest]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}


def _mounts(deployment: Manifest) -> dict[str, Manifest]:
    return {m["name"]: m for m in _container(deployment)["volumeMounts"]}


def test_lint_strict(helm: str, tmp_path: Path) -> None:
    for values in (None, VARIANT):
        result = _helm(
            helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE,
            "--kube-version", KUBE_VERSION, *_values_file(tmp_path, values),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_default_objects(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    assert _kinds(defaults) == {
        ("ServiceAccount", NAMESPACE, full),
        ("ServiceAccount", NAMESPACE, f"{full}-workflow"),
        ("Secret", NAMESPACE, f"{full}-token"),
        ("Secret", NAMESPACE, f"{full}-redis"),
        ("ConfigMap", NAMESPACE, full),
        ("PersistentVolumeClaim", NAMESPACE, f"{full}-library-0"),
        ("PersistentVolumeClaim", NAMESPACE, f"{full}-output"),
        ("PersistentVolumeClaim", NAMESPACE, f"{full}-work"),
        ("Role", NAMESPACE, f"{full}-workflows"),
        ("RoleBinding", NAMESPACE, f"{full}-workflows"),
        ("Role", NAMESPACE, f"{full}-workflow-pods"),
        ("RoleBinding", NAMESPACE, f"{full}-workflow-pods"),
        ("Service", NAMESPACE, full),
        ("Service", NAMESPACE, f"{full}-redis"),
        ("Deployment", NAMESPACE, full),
        ("StatefulSet", NAMESPACE, f"{full}-redis"),
    }
    service = _one(defaults, "Service", full)
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP",
         "appProtocol": "grpc"}
    ]  # fmt: skip


def test_default_deployment_serves_with_config_and_token(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    deployment = _one(defaults, "Deployment", full)
    spec = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert deployment["spec"]["replicas"] == 1
    assert spec["serviceAccountName"] == full
    assert container["image"] == "clustercode:0.1.0"
    assert container["command"] == ["clustercode"]
    assert container["args"] == ["serve", "--config", "/etc/clustercode/config.yaml"]
    assert container["ports"] == [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"] == {"port": 50051}
    volumes, mounts = _volumes(deployment), _mounts(deployment)
    assert volumes["config"]["configMap"]["name"] == full
    assert mounts["config"]["mountPath"] == "/etc/clustercode/config.yaml"
    assert volumes["token"]["secret"] == {
        "secretName": f"{full}-token",
        "items": [{"key": "token", "path": "token"}],
    }
    assert mounts["token"]["mountPath"] == "/etc/clustercode/token"
    assert container["env"] == [
        {"name": "CLUSTERCODE_REDIS_URL",
         "valueFrom": {"secretKeyRef": {"name": f"{full}-redis", "key": "url"}}}
    ]  # fmt: skip
    assert {n: (m["mountPath"], m["readOnly"]) for n, m in mounts.items() if "readOnly" in m} == {
        "config": ("/etc/clustercode/config.yaml", True),
        "token": ("/etc/clustercode/token", True),
        "library-0": ("/library/0", True),
        "output": ("/output", False),
        "work": ("/work", False),
    }
    assert {n: v["persistentVolumeClaim"]["claimName"] for n, v in volumes.items()
            if "persistentVolumeClaim" in v} == {
        "library-0": f"{full}-library-0", "output": f"{full}-output", "work": f"{full}-work"
    }  # fmt: skip
    token = base64.b64decode(_one(defaults, "Secret", f"{full}-token")["data"]["token"]).decode()
    assert len(token) == 48 and token.isalnum()


def test_default_config_is_accepted(
    defaults: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    full = f"{RELEASE}-clustercode"
    path, raw = _config(defaults, tmp_path, full)
    assert "redis_url" not in raw  # the in-chart Redis URL carries a password: env from a Secret
    settings = load_settings(path)
    assert settings.profiles_dir is None and settings.profile is None
    assert settings.executor == "argo"
    assert settings.listen == "0.0.0.0:50051"
    assert settings.token_file == Path("/etc/clustercode/token/token")
    assert settings.libraries == [Path("/library/0")]
    assert (settings.output, settings.work_dir) == (Path("/output"), Path("/work"))
    assert (settings.max_jobs, settings.scan_interval, settings.settle_seconds) == (2, 600, 60)
    argo = settings.argo
    assert argo.url == "https://argo-server.argo.svc:2746"
    assert argo.namespace == NAMESPACE
    assert argo.token_file == Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    assert (argo.verify_tls, argo.ca_file) == (True, None)
    assert argo.service_account == f"{full}-workflow"
    assert argo.image == "clustercode:0.1.0"
    assert [v.claim for v in argo.library_volumes] == [f"{full}-library-0"]
    assert argo.output_volume is not None and argo.output_volume.claim == f"{full}-output"
    assert argo.work_volume is not None and argo.work_volume.claim == f"{full}-work"
    assert argo.node_selector == {}  # the image is multi-arch: steps may run on any node
    assert argo.resources["encode"].requests == {"cpu": "2", "memory": "1Gi"}
    assert argo.retry_limit == 3 and argo.ttl_seconds == 86400


def test_rbac_grants_exactly_the_needed_verbs(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    control = _one(defaults, "Role", f"{full}-workflows")
    pods = _one(defaults, "Role", f"{full}-workflow-pods")
    assert control["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": WORKFLOW_VERBS}
    ]
    assert pods["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
         "verbs": TASKRESULT_VERBS}
    ]  # fmt: skip
    for binding, role, account in (
        (f"{full}-workflows", f"{full}-workflows", full),
        (f"{full}-workflow-pods", f"{full}-workflow-pods", f"{full}-workflow"),
    ):
        rendered = _one(defaults, "RoleBinding", binding)
        assert rendered["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role
        }  # fmt: skip
        assert rendered["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]


def test_default_redis_keeps_an_append_only_file(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    redis = _one(defaults, "StatefulSet", f"{full}-redis")
    container = redis["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--dir") + 1] == "/data"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    data = _one(defaults, "Secret", f"{full}-redis")["data"]
    password = base64.b64decode(data["password"]).decode()
    url = base64.b64decode(data["url"]).decode()
    assert len(password) == 32
    assert url == f"redis://:{password}@{full}-redis:6379/0"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    service = _one(defaults, "Service", f"{full}-redis")
    assert service["spec"]["selector"] == redis["spec"]["selector"]["matchLabels"]


def test_variant_objects_and_deployment(variant: list[Manifest]) -> None:
    kinds = _kinds(variant)
    # Existing claims, an existing token Secret and account, an external Redis: none rendered.
    assert {k for k, _, _ in kinds} == {
        "ServiceAccount", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment"
    }  # fmt: skip
    assert ("ServiceAccount", "workflows", "argo-runner") not in kinds
    for role in ("cc-workflows", "cc-workflow-pods"):
        assert ("Role", "workflows", role) in kinds and ("RoleBinding", "workflows", role) in kinds
    pods_binding = _one(variant, "RoleBinding", "cc-workflow-pods")
    assert pods_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "argo-runner", "namespace": "workflows"}
    ]
    control_binding = _one(variant, "RoleBinding", "cc-workflows")
    assert control_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "cc", "namespace": NAMESPACE}
    ]
    deployment = _one(variant, "Deployment", "cc")
    spec = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert container["image"] == "registry.example.org/media/clustercode:1.2.3"
    assert "env" not in container  # the external Redis URL is in the config file
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    volumes, mounts = _volumes(deployment), _mounts(deployment)
    assert volumes["token"]["secret"] == {
        "secretName": "cc-api", "items": [{"key": "bearer", "path": "token"}]
    }  # fmt: skip
    assert volumes["argo-token"]["secret"] == {
        "secretName": "argo-token", "items": [{"key": "tok", "path": "token"}]
    }  # fmt: skip
    assert volumes["argo-ca"]["secret"] == {
        "secretName": "argo-ca", "items": [{"key": "ca.pem", "path": "ca.crt"}]
    }  # fmt: skip
    assert volumes["profiles"]["configMap"] == {"name": "cc-profiles"}
    assert mounts["profiles"]["mountPath"] == "/etc/clustercode/profiles"
    assert volumes["library-0"]["persistentVolumeClaim"] == {"claimName": "movies"}
    assert volumes["library-1"]["hostPath"] == {"path": "/mnt/nas/shows", "type": "Directory"}
    assert volumes["output"]["persistentVolumeClaim"] == {"claimName": "transcoded"}
    assert volumes["work"]["persistentVolumeClaim"] == {"claimName": "scratch"}
    assert mounts["library-1"] == {"name": "library-1", "mountPath": "/library/1", "readOnly": True}
    account = _one(variant, "ServiceAccount", "cc")
    assert account["imagePullSecrets"] == [{"name": "regcred"}]


def test_variant_config_is_accepted(
    variant: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    path, raw = _config(variant, tmp_path, "cc")
    settings = load_settings(path)
    assert raw["redis_url"] == settings.redis_url == "redis://redis.media.svc:6379/2"
    assert settings.token_file == Path("/etc/clustercode/token/token")
    assert settings.libraries == [Path("/library/0"), Path("/library/1")]
    assert settings.max_jobs == 4
    assert settings.profiles_dir == Path("/etc/clustercode/profiles")
    profiles = ProfileSet.load(_profiles_dir(variant, tmp_path, "cc"))
    assert settings.profile is not None
    chosen = profiles.get(settings.profile)
    assert (chosen.name, chosen.slice_seconds, chosen.description) == (
        "pi-h264",
        30,
        "H.264, short slices",
    )
    assert profiles.get("films").description == "Films"
    argo = settings.argo
    assert argo.url == "https://argo.example.org:2746"
    assert argo.namespace == "workflows"
    assert argo.token_file == Path("/etc/clustercode/argo-token/token")
    assert argo.ca_file == Path("/etc/clustercode/argo-ca/ca.crt")
    assert argo.service_account == "argo-runner"
    assert argo.image == "registry.example.org/media/clustercode:1.2.3"
    assert [(v.claim, v.host_path) for v in argo.library_volumes] == [
        ("movies", None), (None, "/mnt/nas/shows")
    ]  # fmt: skip
    assert argo.output_volume is not None and argo.output_volume.claim == "transcoded"
    assert argo.work_volume is not None and argo.work_volume.claim == "scratch"
    assert argo.node_selector == {"kubernetes.io/arch": "arm64", "clustercode.io/pool": "pi"}
    assert [(t.key, t.operator, t.effect) for t in argo.tolerations] == [
        ("pi", "Exists", "NoSchedule")
    ]
    assert argo.resources["encode"].requests == {"cpu": "4", "memory": "512Mi"}
    assert argo.parallelism == 8


def _render_workflow(
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


def _pod_volumes(workflow: Manifest) -> dict[str, Manifest]:
    return {v["name"]: v for v in workflow["spec"]["volumes"]}


def test_default_config_renders_a_workflow_on_the_charts_objects(
    defaults: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    full = f"{RELEASE}-clustercode"
    config, _ = _config(defaults, tmp_path, full)
    workflow = _render_workflow(config, tmp_path, 0)
    assert workflow["metadata"]["namespace"] == NAMESPACE
    assert workflow["spec"]["serviceAccountName"] == f"{full}-workflow"
    assert {n: v["persistentVolumeClaim"]["claimName"] for n, v in
            _pod_volumes(workflow).items()} == {
        "library-0": f"{full}-library-0", "output": f"{full}-output", "work": f"{full}-work"
    }  # fmt: skip
    images = {t["container"]["image"] for t in workflow["spec"]["templates"] if "container" in t}
    assert images == {"clustercode:0.1.0"}


def test_variant_config_renders_arm64_workflows(
    variant: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    config, _ = _config(variant, tmp_path, "cc")
    profiles = _profiles_dir(variant, tmp_path, "cc")
    workflow = _render_workflow(config, tmp_path, 1, profiles)  # a file of the hostPath library
    spec = workflow["spec"]
    assert workflow["metadata"]["annotations"]["clustercode.io/profile"] == "pi-h264"
    assert workflow["metadata"]["namespace"] == "workflows"
    assert spec["serviceAccountName"] == "argo-runner"
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64", "clustercode.io/pool": "pi"}
    volumes = _pod_volumes(workflow)
    assert volumes["library-1"]["hostPath"]["path"] == "/mnt/nas/shows"
    assert volumes["output"]["persistentVolumeClaim"]["claimName"] == "transcoded"
    assert volumes["work"]["persistentVolumeClaim"]["claimName"] == "scratch"
    # A template with a selector of its own replaces the workflow's: the arch must be repeated.
    for template in spec["templates"]:
        selector = template.get("nodeSelector")
        if selector is not None:
            assert selector["kubernetes.io/arch"] == "arm64", template["name"]


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
    result = _helm(
        helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *_values_file(tmp_path, values),
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
    docs = _template(helm, tmp_path, None, chart)
    text = _one(docs, "ConfigMap", "notes-check")["data"]["notes"]
    full = f"{RELEASE}-clustercode"
    assert f"kubectl -n {NAMESPACE} port-forward svc/{full} 50051:50051" in text
    assert f"kubectl -n {NAMESPACE} get secret {full}-token -o jsonpath='{{.data.token}}'" in text
    assert 'grpcurl -plaintext -H "authorization: Bearer $TOKEN" localhost:50051 list' in text
    assert _one(docs, "Secret", f"{full}-token")["data"]["token"]


def test_in_place_and_redis_url_from_a_secret(helm: str, tmp_path: Path, clean_env: None) -> None:
    values = {
        "config": {"in_place": True},
        "redis": {"enabled": False, "external": {"existingSecret": "media-redis", "key": "dsn"}},
    }
    docs = _template(helm, tmp_path, values)
    full = f"{RELEASE}-clustercode"
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"} == {
        f"{full}-library-0",
        f"{full}-work",
    }
    deployment = _one(docs, "Deployment", full)
    assert _container(deployment)["env"] == [
        {
            "name": "CLUSTERCODE_REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": "media-redis", "key": "dsn"}},
        }
    ]
    mounts = _mounts(deployment)
    assert "output" not in mounts
    assert mounts["library-0"]["readOnly"] is False  # outputs replace their sources
    path, raw = _config(docs, tmp_path, full)
    assert "output" not in raw and "output_volume" not in raw["argo"]
    settings = load_settings(path)
    assert settings.in_place and settings.output is None
