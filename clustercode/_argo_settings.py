"""Settings of the Argo executor: the ``argo:`` section of the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clustercode import __version__

__all__ = ["ArgoSettings"]


class ArgoSettings(BaseModel):
    """How the Argo executor reaches argo-server and shapes the Workflows it submits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None, description="argo-server base URL, e.g. https://argo.example.org:2746."
    )
    namespace: str = Field(default="argo", description="Namespace the Workflows are created in.")
    token_file: Path | None = Field(
        default=None,
        description="File holding the bearer token for argo-server (re-read on change).",
    )
    verify_tls: bool = Field(default=True, description="Verify argo-server's TLS certificate.")
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
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="nodeSelector applied to every step's pod."
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Kubernetes tolerations applied to every step's pod."
    )
    resources: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Kubernetes resources per step name (split, encode, audio, merge, cleanup), "
        "e.g. {encode: {requests: {cpu: '2', memory: 2Gi}}}.",
    )
    parallelism: int | None = Field(
        default=None,
        ge=1,
        description="Most pods of one Workflow running at once (None: unlimited).",
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
        ge=0,
        description="Finished Workflows are deleted after this long (None: kept).",
    )
