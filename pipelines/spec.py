"""What one transcode Workflow is made of: the file, the work directory, the pods' settings.

:class:`WorkflowSpec` checks itself when it is made, so :mod:`pipelines.workflow` can build any
spec it is given.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pipelines.contract import JOB_ID_LABEL, STEP_NAMES
from pipelines.settings import EncodeSettings

__all__ = [
    "ENTRYPOINT",
    "RESULT_FILE",
    "SLICES_FILE",
    "Mount",
    "PodGCStrategy",
    "PodSecurity",
    "PullPolicy",
    "StepPod",
    "Toleration",
    "WorkflowSpec",
]

ENTRYPOINT = "main"
"""Name of the DAG template."""

SLICES_FILE = "slices.json"
RESULT_FILE = "result.json"

PodGCStrategy = Literal[
    "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

_POD_GC = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
_PULL = ("Always", "IfNotPresent", "Never")
# Argo parses backoff durations as Go durations or plain seconds.
_DURATION = re.compile(r"^(\d+|(\d+(ns|us|ms|s|m|h))+)$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    """A volume every step container mounts: a PersistentVolumeClaim or a host path.

    Attributes:
        name: volume name, unique within the workflow.
        mount_path: where the containers see it.
        claim_name: the PVC to mount (exactly one of ``claim_name`` and ``host_path``).
        host_path: the node directory to mount.
        read_only: mount read-only (library roots).
    """

    name: str
    mount_path: str
    claim_name: str | None = None
    host_path: str | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        if (self.claim_name is None) == (self.host_path is None):
            raise ValueError(f"mount {self.name!r}: set exactly one of claim_name and host_path")
        if not posixpath.isabs(self.mount_path):
            raise ValueError(f"mount {self.name!r}: mount_path {self.mount_path!r} is not absolute")


@dataclass(frozen=True, slots=True, kw_only=True)
class Toleration:
    """A Kubernetes toleration (see ``core/v1 Toleration``)."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPod:
    """What the pods of one step ask for, on top of the workflow-wide settings.

    Attributes:
        cpu_request: e.g. ``"1"`` or ``"500m"``.
        cpu_limit: CPU limit.
        memory_request: e.g. ``"512Mi"``.
        memory_limit: memory limit.
        node_selector: merged over :attr:`WorkflowSpec.node_selector` for this step.
        tolerations: added to :attr:`WorkflowSpec.tolerations` for this step.
    """

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSecurity:
    """Every step pod fits a namespace enforcing Pod Security "restricted".

    Pods run as a non-root user (the image's), without privilege escalation or capabilities,
    under the runtime's default seccomp profile, with a read-only root filesystem; each of
    ``scratch_paths`` is a writable emptyDir instead.

    Attributes:
        run_as_user: uid of the step processes (the image's user).
        run_as_group: gid of the step processes.
        fs_group: group that owns the pods' volumes; ``None`` leaves them as they are.
        scratch_paths: writable emptyDir mounts (``/tmp`` above all).
    """

    run_as_user: int = 10001
    run_as_group: int = 10001
    fs_group: int | None = 10001
    scratch_paths: tuple[str, ...] = ("/tmp",)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSpec:
    """Everything that decides the Workflow of one job attempt.

    Attributes:
        job_id: the job; becomes the ``clustercode.io/job-id`` label.
        name: the workflow name, deterministic per job attempt (e.g. ``cc-<job>-<attempt>``).
        namespace: Kubernetes namespace.
        source: the source file as the containers see it.
        output: the output file as the containers see it.
        work_dir: the job's work directory as the containers see it (slices, plan, results).
        settings: what the steps do to the file.
        image: container image holding ffmpeg and the step programs.
        image_pull_policy: Kubernetes image pull policy.
        service_account: service account of the workflow pods.
        step_command: the step program; the local executor uses the running interpreter.
        parallelism: how many DAG tasks (slice encodes) run at once; ``None`` for no limit.
        retry_limit: retries per step after the first attempt.
        retry_backoff: wait before the first retry (Go duration).
        retry_factor: the wait is multiplied by this integer after each retry.
        retry_cap: longest single wait between retries.
        retry_max_duration: Argo's ``maxDuration``: a deadline counted from the first attempt's
            start, after which no retry starts and a running retry is killed. Off by default
            because a long slice would outlive any short value.
        labels: extra workflow labels (e.g. ``clustercode.io/attempt``).
        annotations: workflow annotations (e.g. the source path).
        volumes: volumes every step mounts; empty for the local executor.
        node_selector: workflow-wide node selector (e.g. ``kubernetes.io/arch``).
        tolerations: workflow-wide tolerations.
        steps: per-step resources, node selectors and tolerations, keyed by step name.
        active_deadline_seconds: the whole workflow's deadline.
        pod_gc: when Argo deletes finished pods.
        ttl_seconds_after_finished: when Argo deletes the finished workflow.
        env: extra environment variables of every step container.
        security: the pods' security settings; ``None`` for none (the local executor).
        keep_result: the exit handler keeps ``result.json`` after a success, as proof of the
            published output for a control plane that may die before it records it (the local
            executor's runs die with it; Argo's workflows outlive a restart and need none).
    """

    job_id: str
    name: str
    namespace: str = "default"
    source: str
    output: str
    work_dir: str
    settings: EncodeSettings
    image: str = "clustercode:latest"
    image_pull_policy: PullPolicy = "IfNotPresent"
    service_account: str | None = None
    step_command: tuple[str, ...] = ("clustercode-step",)
    parallelism: int | None = None
    retry_limit: int = 3
    retry_backoff: str = "5s"
    retry_factor: int = 2
    retry_cap: str | None = "1m"
    retry_max_duration: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[Mount, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    steps: Mapping[str, StepPod] = field(default_factory=dict)
    active_deadline_seconds: int | None = None
    pod_gc: PodGCStrategy | None = "OnPodSuccess"
    ttl_seconds_after_finished: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    security: PodSecurity | None = None
    keep_result: bool = False

    def __post_init__(self) -> None:
        _validate(self)


def _validate(spec: WorkflowSpec) -> None:
    problems: list[str] = []
    if len(spec.name) > 63 or not _NAME.match(spec.name):
        problems.append(f"name {spec.name!r} is not a DNS-1123 name of at most 63 characters")
    for key, value in {**spec.labels, JOB_ID_LABEL: spec.job_id}.items():
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            problems.append(f"label {key}={value!r} is not a valid Kubernetes label value")
    unknown = sorted(set(spec.steps) - set(STEP_NAMES))
    if unknown:
        problems.append(f"steps {unknown} unknown; known steps: {', '.join(STEP_NAMES)}")
    if not spec.step_command:
        problems.append("step_command is empty")
    if spec.parallelism is not None and spec.parallelism < 1:
        problems.append(f"parallelism {spec.parallelism} must be at least 1")
    if spec.retry_limit < 0:
        problems.append(f"retry_limit {spec.retry_limit} must not be negative")
    if spec.retry_factor < 1:
        problems.append(f"retry_factor {spec.retry_factor} must be at least 1")
    durations = {
        "retry_backoff": spec.retry_backoff,
        "retry_cap": spec.retry_cap,
        "retry_max_duration": spec.retry_max_duration,
    }
    for what, duration in durations.items():
        if duration is not None and not _DURATION.match(duration):
            problems.append(f"{what} {duration!r} is not a duration such as 5s, 1m or 1m30s")
    if spec.pod_gc is not None and spec.pod_gc not in _POD_GC:
        problems.append(f"pod_gc {spec.pod_gc!r} is not one of {', '.join(_POD_GC)}")
    if spec.image_pull_policy not in _PULL:
        problems.append(f"image_pull_policy {spec.image_pull_policy!r} is not one of {_PULL}")
    seconds = {
        "active_deadline_seconds": spec.active_deadline_seconds,
        "ttl_seconds_after_finished": spec.ttl_seconds_after_finished,
    }
    for what, number in seconds.items():
        if number is not None and number < 1:
            problems.append(f"{what} {number} must be at least 1")
    names = [v.name for v in spec.volumes]
    if len(set(names)) != len(names):
        problems.append(f"volume names {names} are not unique")
    for path in (spec.source, spec.output, spec.work_dir):
        if not posixpath.isabs(path):
            problems.append(f"path {path!r} is not absolute")
    if spec.security is not None:
        security = spec.security
        if security.run_as_user < 1:
            problems.append(f"run_as_user {security.run_as_user} must be a non-root uid")
        if security.run_as_group < 0 or (security.fs_group or 0) < 0:
            problems.append("run_as_group and fs_group must not be negative")
        for path in security.scratch_paths:
            if not posixpath.isabs(path):
                problems.append(f"scratch path {path!r} is not absolute")
    if problems:
        raise ValueError("invalid workflow spec: " + "; ".join(problems))
