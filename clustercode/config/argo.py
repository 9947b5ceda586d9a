"""Settings of the Argo executor: the ``argo:`` section of the config file.

Example::

    argo:
      url: https://argo.example.org:2746
      namespace: media
      token_file: /var/run/secrets/argo/token
      ca_file: /etc/clustercode/argo-ca.pem
      service_account: clustercode-workflow
      image: ghcr.io/example/clustercode:0.1.0
      node_selector: {kubernetes.io/arch: amd64}
      library_volumes: [{claim: media-library}]   # one per library root, in order
      output_volume: {claim: media-output}
      work_volume: {claim: clustercode-work}        # shared by every node (ReadWriteMany)
      resources:
        encode: {requests: {cpu: "2", memory: 1Gi}, limits: {memory: 2Gi}}
      step_tolerations:
        encode: [{key: spot, operator: Exists, effect: NoSchedule}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clustercode import __version__
from pipelines.contract import StepName

__all__ = [
    "DEFAULT_STEP_RESOURCES",
    "ArgoSettings",
    "StepResources",
    "TolerationSettings",
    "VolumeSettings",
]

_GO_DURATION = r"^(\d+|(\d+(ns|us|ms|s|m|h))+)$"


class VolumeSettings(BaseModel):
    """Where the pods find a directory: a PersistentVolumeClaim or a directory on every node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str | None = Field(default=None, description="PersistentVolumeClaim name.")
    host_path: str | None = Field(
        default=None, description="Absolute directory on the node (hostPath volume)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> VolumeSettings:
        if (self.claim is None) == (self.host_path is None):
            raise ValueError("set exactly one of claim and host_path")
        if self.host_path is not None and not self.host_path.startswith("/"):
            raise ValueError(f"host_path {self.host_path!r} must be absolute")
        return self


class TolerationSettings(BaseModel):
    """A Kubernetes toleration (``core/v1 Toleration``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, alias="tolerationSeconds", ge=0)


class StepResources(BaseModel):
    """Kubernetes resource requests and limits of one step's pods (cpu and memory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[Literal["cpu", "memory"], str] = Field(default_factory=dict)
    limits: dict[Literal["cpu", "memory"], str] = Field(default_factory=dict)

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _quantities_as_text(cls, value: object) -> object:
        # YAML reads `cpu: 2` as a number; Kubernetes quantities are strings.
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, int | float) else v for k, v in value.items()}
        return value


DEFAULT_STEP_RESOURCES: dict[StepName, StepResources] = {
    "split": StepResources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"}),
    "encode": StepResources(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "2Gi"}),
    "audio": StepResources(requests={"cpu": "500m", "memory": "256Mi"}, limits={"memory": "1Gi"}),
    "merge": StepResources(requests={"cpu": "500m", "memory": "256Mi"}, limits={"memory": "1Gi"}),
    "cleanup": StepResources(requests={"cpu": "50m", "memory": "64Mi"}, limits={"memory": "128Mi"}),
}
"""Resources of a step the ``resources`` setting does not list: every step asks for some."""


class ArgoSettings(BaseModel):
    """How the Argo executor reaches argo-server and shapes the Workflows it submits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None, description="argo-server base URL, e.g. https://argo.example.org:2746."
    )
    namespace: str = Field(default="argo", description="Namespace the Workflows are created in.")
    token_file: Path | None = Field(
        default=None,
        description="File holding the bearer token for argo-server (read for every request, "
        "so rotated service-account tokens are picked up).",
    )
    verify_tls: bool = Field(default=True, description="Verify argo-server's TLS certificate.")
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed argo-server's certificate "
        "(default: the system's trusted CAs).",
    )
    request_timeout: float = Field(
        default=15.0, gt=0, description="Seconds one request to argo-server may take."
    )
    poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between status reads of a running Workflow."
    )
    watch_retry_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long following a Workflow keeps retrying while argo-server is "
        "unreachable or refuses the token before the job attempt fails.",
    )
    stop_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a cancelled Workflow gets to stop (its exit handler cleans up) "
        "before it is terminated.",
    )
    stop_unknown: bool = Field(
        default=False,
        description="At start-up, stop running clustercode Workflows that belong to no known "
        "job (otherwise they are only reported).",
    )
    service_account: str | None = Field(
        default=None,
        description="Service account the Workflow pods run as (needs workflowtaskresults).",
    )
    image: str = Field(
        default=f"clustercode:{__version__}",
        description="Container image with ffmpeg and the steps.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="Kubernetes imagePullPolicy of every step."
    )
    step_command: list[str] = Field(
        default_factory=lambda: ["clustercode-step"],
        min_length=1,
        description="The step program inside the image.",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables of every step container."
    )
    library_volumes: list[VolumeSettings] = Field(
        default_factory=list,
        description="Volume of each library root, in the order of libraries, mounted read-only "
        "at /library/<index> (default: each root as a hostPath of the same path).",
    )
    output_volume: VolumeSettings | None = Field(
        default=None,
        description="Volume of the output root, mounted at /output "
        "(default: the output root as a hostPath).",
    )
    work_volume: VolumeSettings | None = Field(
        default=None,
        description="Volume of the work directory, mounted at /work; every node must see the "
        "same files (default: work_dir as a hostPath).",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="nodeSelector applied to every step's pod."
    )
    tolerations: list[TolerationSettings] = Field(
        default_factory=list, description="Kubernetes tolerations applied to every step's pod."
    )
    resources: dict[StepName, StepResources] = Field(
        default_factory=dict,
        description="Kubernetes resources per step name (split, encode, audio, merge, cleanup), "
        "e.g. {encode: {requests: {cpu: '2', memory: 2Gi}}}; a step not listed gets "
        "DEFAULT_STEP_RESOURCES.",
    )
    restricted: bool = Field(
        default=True,
        description="Step pods fit Pod Security 'restricted': non-root as run_as_user, no "
        "privilege escalation, no capabilities, RuntimeDefault seccomp, read-only root "
        "filesystem with an emptyDir at /tmp.",
    )
    run_as_user: int = Field(default=10001, ge=1, description="uid of the steps (the image's).")
    run_as_group: int = Field(default=10001, ge=0, description="gid of the steps (the image's).")
    fs_group: int | None = Field(
        default=10001, ge=0, description="Group owning the pods' volumes (None: unchanged)."
    )
    step_node_selector: dict[StepName, dict[str, str]] = Field(
        default_factory=dict,
        description="Extra nodeSelector per step, merged over node_selector "
        "(e.g. {encode: {clustercode.io/pool: encode}}).",
    )
    step_tolerations: dict[StepName, list[TolerationSettings]] = Field(
        default_factory=dict, description="Extra tolerations per step, added to tolerations."
    )
    parallelism: int | None = Field(
        default=None,
        ge=1,
        description="Most pods of one Workflow running at once (None: unlimited).",
    )
    retry_limit: int = Field(
        default=3,
        ge=0,
        description="Retries of a failed, evicted or deleted step pod; a step that exited 3 "
        "(the environment is at fault) is not retried.",
    )
    retry_backoff: str = Field(
        default="10s",
        pattern=_GO_DURATION,
        description="Wait before the first retry (e.g. 10s, 1m).",
    )
    retry_factor: int = Field(
        default=2, ge=1, description="Each further wait is this times longer."
    )
    retry_cap: str | None = Field(
        default="5m", pattern=_GO_DURATION, description="Longest wait between retries."
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description="A Workflow running longer than this fails (None: no limit).",
    )
    pod_gc: Literal[
        "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
    ] = Field(default="OnPodSuccess", description="Argo podGC strategy.")
    ttl_seconds: int | None = Field(
        default=86400,
        ge=1,
        description="Finished Workflows are deleted after this long (None: kept). Keep it longer "
        "than the control service may be down, so it can read the outcome after a restart.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value
