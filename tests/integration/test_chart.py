"""The Helm chart rendered with its defaults and with a variant: the objects it makes, the
server's deployment, RBAC verbs, Redis persistence, and the rendered config file fed to
clustercode itself (load_settings) to prove it is accepted.

The ``helm``, ``defaults`` and ``variant`` fixtures live in the integration conftest."""

from __future__ import annotations

import base64
from pathlib import Path

from clustercode.config import load_settings
from clustercode.profiles.profileset import ProfileSet
from tests.support.chart import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    TASKRESULT_VERBS,
    VARIANT,
    WORKFLOW_VERBS,
    Manifest,
    chart_config,
    container_of,
    kinds_of,
    mounts_of,
    one,
    run_helm,
    values_file,
    volumes_of,
    write_profiles,
)


def test_lint_strict(helm: str, tmp_path: Path) -> None:
    for values in (None, VARIANT):
        result = run_helm(
            helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE,
            "--kube-version", KUBE_VERSION, *values_file(tmp_path, values),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_default_objects(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    assert kinds_of(defaults) == {
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
    service = one(defaults, "Service", full)
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP",
         "appProtocol": "grpc"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
    ]  # fmt: skip


def test_default_deployment_serves_with_config_and_token(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    deployment = one(defaults, "Deployment", full)
    spec = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    assert deployment["spec"]["replicas"] == 1
    assert spec["serviceAccountName"] == full
    assert container["image"] == "clustercode:0.1.0"
    assert container["command"] == ["clustercode"]
    assert container["args"] == ["serve", "--config", "/etc/clustercode/config.yaml"]
    assert container["ports"] == [
        {"name": "grpc", "containerPort": 50051, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"] == {"port": 50051}
    volumes, mounts = volumes_of(deployment), mounts_of(deployment)
    assert volumes["config"]["configMap"]["name"] == full
    assert mounts["config"]["mountPath"] == "/etc/clustercode/config.yaml"
    assert volumes["token"]["secret"] == {
        "secretName": f"{full}-token",
        "defaultMode": 0o440,
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
    token = base64.b64decode(one(defaults, "Secret", f"{full}-token")["data"]["token"]).decode()
    assert len(token) == 48 and token.isalnum()


def test_default_config_is_accepted(
    defaults: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    full = f"{RELEASE}-clustercode"
    path, raw = chart_config(defaults, tmp_path, full)
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
    control = one(defaults, "Role", f"{full}-workflows")
    pods = one(defaults, "Role", f"{full}-workflow-pods")
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
        rendered = one(defaults, "RoleBinding", binding)
        assert rendered["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role
        }  # fmt: skip
        assert rendered["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]


def test_default_redis_keeps_an_append_only_file(defaults: list[Manifest]) -> None:
    full = f"{RELEASE}-clustercode"
    redis = one(defaults, "StatefulSet", f"{full}-redis")
    container = redis["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--dir") + 1] == "/data"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    data = one(defaults, "Secret", f"{full}-redis")["data"]
    password = base64.b64decode(data["password"]).decode()
    url = base64.b64decode(data["url"]).decode()
    assert len(password) == 32
    assert url == f"redis://:{password}@{full}-redis:6379/0"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    service = one(defaults, "Service", f"{full}-redis")
    assert service["spec"]["selector"] == redis["spec"]["selector"]["matchLabels"]


def test_variant_objects_and_deployment(variant: list[Manifest]) -> None:
    kinds = kinds_of(variant)
    # Existing claims, an existing token Secret and account, an external Redis: none rendered.
    assert {k for k, _, _ in kinds} == {
        "ServiceAccount", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment"
    }  # fmt: skip
    assert ("ServiceAccount", "workflows", "argo-runner") not in kinds
    for role in ("cc-workflows", "cc-workflow-pods"):
        assert ("Role", "workflows", role) in kinds and ("RoleBinding", "workflows", role) in kinds
    pods_binding = one(variant, "RoleBinding", "cc-workflow-pods")
    assert pods_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "argo-runner", "namespace": "workflows"}
    ]
    control_binding = one(variant, "RoleBinding", "cc-workflows")
    assert control_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "cc", "namespace": NAMESPACE}
    ]
    deployment = one(variant, "Deployment", "cc")
    spec = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    assert container["image"] == "registry.example.org/media/clustercode:1.2.3"
    assert "env" not in container  # the external Redis URL is in the config file
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    volumes, mounts = volumes_of(deployment), mounts_of(deployment)
    assert volumes["token"]["secret"] == {
        "secretName": "cc-api", "defaultMode": 0o440, "items": [{"key": "bearer", "path": "token"}]
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
    account = one(variant, "ServiceAccount", "cc")
    assert account["imagePullSecrets"] == [{"name": "regcred"}]


def test_variant_config_is_accepted(
    variant: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    path, raw = chart_config(variant, tmp_path, "cc")
    settings = load_settings(path)
    assert raw["redis_url"] == settings.redis_url == "redis://redis.media.svc:6379/2"
    assert settings.token_file == Path("/etc/clustercode/token/token")
    assert settings.libraries == [Path("/library/0"), Path("/library/1")]
    assert settings.max_jobs == 4
    assert settings.profiles_dir == Path("/etc/clustercode/profiles")
    profiles = ProfileSet.load(write_profiles(variant, tmp_path, "cc"))
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
