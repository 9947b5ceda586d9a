"""Turn a job attempt and the settings into the Workflow manifest an executor runs.

Both executors run the same builder's Workflow (:mod:`pipelines.workflow`); they differ in where
the files are. The local executor sees the host's paths and runs the steps with this
interpreter. Argo pods see volumes: the job's library root read-only at ``/library/<index>``
(``<index>`` is the root's position in ``libraries``), the output root at ``/output`` and the work
directory at ``/work``.

A workflow is named ``cc-<job id>-<attempt>``, so submitting an attempt twice names the same
workflow and the executor refuses to start it again.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from clustercode.config.argo import TolerationSettings, VolumeSettings
from clustercode.config.settings import Settings
from clustercode.errors import ExecutorError
from clustercode.jobs.tools import step_environment
from clustercode.models import Job
from pipelines.contract import (
    ATTEMPT_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    STEP_NAMES,
)
from pipelines.settings import EncodeSettings
from pipelines.workflow import Mount, StepPod, Toleration, WorkflowSpec, manifest

__all__ = [
    "ExecutorKind",
    "LocalRetry",
    "ManifestFactory",
    "argo_manifest",
    "argo_spec",
    "local_manifest",
    "local_spec",
    "manifest_factory",
    "min_slices",
    "workflow_name",
]

SOURCE_ANNOTATION = "clustercode.io/source"
OUTPUT_ANNOTATION = "clustercode.io/output"
PROFILE_ANNOTATION = "clustercode.io/profile"
# Argo's UI shows these in the workflow list instead of the bare name.
TITLE_ANNOTATION = "workflows.argoproj.io/title"
DESCRIPTION_ANNOTATION = "workflows.argoproj.io/description"

LIBRARY_MOUNT = "/library"
OUTPUT_MOUNT = "/output"
WORK_MOUNT = "/work"

ExecutorKind = Literal["local", "argo"]
ManifestFactory = Callable[[Job, int], Mapping[str, Any]]
"""Builds the Workflow manifest of a job's attempt (1 for the first)."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRetry:
    """Retries of a failed step on this machine: a crash is rarely cured by waiting long."""

    limit: int = 2
    backoff: str = "2s"
    factor: int = 2
    cap: str = "30s"


def workflow_name(job_id: str, attempt: int) -> str:
    """Return ``cc-<job id>-<attempt>``, the deterministic workflow name of a job attempt.

    Raises:
        ExecutorError: the name would not be a DNS-1123 label of at most 63 characters.
    """
    name = f"cc-{job_id}-{attempt}"
    if attempt < 1 or len(name) > 63 or not _DNS_LABEL.match(name):
        raise ExecutorError(
            f"job {job_id!r} attempt {attempt}: {name!r} is not a valid workflow name "
            "(lowercase letters, digits and '-', at most 63 characters)"
        )
    return name


def _encode_settings(job: Job) -> EncodeSettings:
    try:
        return EncodeSettings.from_json(job.settings)
    except ValueError as exc:
        raise ExecutorError(f"job {job.id}: {exc}") from None


def _metadata(job: Job, attempt: int) -> tuple[dict[str, str], dict[str, str]]:
    labels = {ATTEMPT_LABEL: str(attempt), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    annotations = {
        SOURCE_ANNOTATION: job.source,
        OUTPUT_ANNOTATION: job.output,
        PROFILE_ANNOTATION: job.profile,
        TITLE_ANNOTATION: posixpath.basename(job.source),
        DESCRIPTION_ANNOTATION: f"profile {job.profile}, attempt {attempt}: {job.source}",
    }
    return labels, annotations


def min_slices(settings: Settings) -> int:
    """The fewest slices a file is cut into: on this machine, one per worker (even a short file
    keeps every core busy); on a cluster, as many as ``slice_seconds`` makes."""
    return max(1, settings.parallel) if settings.executor == "local" else 1


def local_spec(
    job: Job, attempt: int, settings: Settings, *, retry: LocalRetry | None = None
) -> WorkflowSpec:
    """The spec of a job attempt for the local executor: host paths, this interpreter's steps.

    Raises:
        ExecutorError: the job's settings or id cannot make a valid workflow.
    """
    retry = retry or LocalRetry()
    labels, annotations = _metadata(job, attempt)
    try:
        return WorkflowSpec(
            job_id=job.id,
            name=workflow_name(job.id, attempt),
            source=job.source,
            output=job.output,
            work_dir=str(settings.work_dir / job.id),
            settings=replace(_encode_settings(job), min_slices=min_slices(settings)),
            step_command=(sys.executable, "-m", "pipelines.steps"),
            parallelism=settings.parallel,
            retry_limit=retry.limit,
            retry_backoff=retry.backoff,
            retry_factor=retry.factor,
            retry_cap=retry.cap,
            labels=labels,
            annotations=annotations,
            pod_gc=None,
            env=step_environment(),
        )
    except ValueError as exc:
        raise ExecutorError(f"job {job.id}: {exc}") from None


def local_manifest(
    job: Job, attempt: int, settings: Settings, *, retry: LocalRetry | None = None
) -> dict[str, Any]:
    """The Workflow manifest of a job attempt for the local executor."""
    return manifest(local_spec(job, attempt, settings, retry=retry))


class _Paths:
    """Maps the job's host paths to the paths its pods see, and the volumes that make it so."""

    def __init__(self, job: Job, settings: Settings) -> None:
        argo = settings.argo
        self.index, root = _library_root(job, settings)
        self.mounts: list[Mount] = []
        # Library roots stay read-only unless outputs replace their sources in place.
        volume = _nth(argo.library_volumes, self.index)
        library = f"{LIBRARY_MOUNT}/{self.index}"
        self._add(f"library-{self.index}", library, root, volume, read_only=not settings.in_place)
        self.roots: list[tuple[Path, str]] = [(root, library)]
        if not settings.in_place and settings.output is not None:
            self._add("output", OUTPUT_MOUNT, settings.output, argo.output_volume)
            self.roots.append((settings.output, OUTPUT_MOUNT))
        self._add("work", WORK_MOUNT, settings.work_dir, argo.work_volume)

    def _add(
        self,
        name: str,
        mount_path: str,
        host: Path,
        volume: VolumeSettings | None,
        *,
        read_only: bool = False,
    ) -> None:
        if volume is None:
            volume = VolumeSettings(host_path=str(host))
        self.mounts.append(
            Mount(
                name=name,
                mount_path=mount_path,
                claim_name=volume.claim,
                host_path=volume.host_path,
                read_only=read_only,
            )
        )

    def inside(self, host_path: str, what: str, job: Job) -> str:
        """The pod's path of ``host_path``, which must lie below a mounted root."""
        path = Path(os.path.normpath(host_path))
        for root, mount_path in self.roots:
            for candidate in {root, Path(os.path.realpath(root))}:
                if path.is_relative_to(candidate):
                    relative = PurePosixPath(*path.relative_to(candidate).parts)
                    return str(PurePosixPath(mount_path) / relative)
        places = " or ".join(str(r) for r, _ in self.roots)
        raise ExecutorError(f"job {job.id}: {what} {host_path} is not below {places}")


def _nth(volumes: list[VolumeSettings], index: int) -> VolumeSettings | None:
    return volumes[index] if index < len(volumes) else None


def _library_root(job: Job, settings: Settings) -> tuple[int, Path]:
    """The index in ``libraries`` of the job's root (or of the root holding its source)."""
    roots = settings.libraries
    real = [Path(os.path.realpath(r)) for r in roots]
    if job.root:
        wanted = Path(os.path.normpath(job.root))
        for i, root in enumerate(roots):
            if wanted in (root, real[i]) or Path(os.path.realpath(wanted)) == real[i]:
                return i, root
    source = Path(os.path.normpath(job.source))
    for i, root in enumerate(roots):
        if source.is_relative_to(root) or source.is_relative_to(real[i]):
            return i, root
    raise ExecutorError(
        f"job {job.id}: its source {job.source} is in none of the library roots "
        f"({', '.join(map(str, roots)) or 'none configured'}); add its root to libraries"
    )


def _toleration(t: TolerationSettings) -> Toleration:
    return Toleration(
        key=t.key,
        operator=t.operator,
        value=t.value,
        effect=t.effect,
        toleration_seconds=t.toleration_seconds,
    )


def _steps(settings: Settings) -> dict[str, StepPod]:
    argo = settings.argo
    steps: dict[str, StepPod] = {}
    for name in STEP_NAMES:
        resources = argo.resources.get(name)
        selector = argo.step_node_selector.get(name, {})
        tolerations = argo.step_tolerations.get(name, [])
        if resources is None and not selector and not tolerations:
            continue
        requests = resources.requests if resources else {}
        limits = resources.limits if resources else {}
        steps[name] = StepPod(
            cpu_request=requests.get("cpu"),
            cpu_limit=limits.get("cpu"),
            memory_request=requests.get("memory"),
            memory_limit=limits.get("memory"),
            node_selector=dict(selector),
            tolerations=tuple(_toleration(t) for t in tolerations),
        )
    return steps


def argo_spec(job: Job, attempt: int, settings: Settings) -> WorkflowSpec:
    """The spec of a job attempt for Argo: container paths, volumes, pod settings.

    Raises:
        ExecutorError: the job's paths are outside the configured roots, or its settings or id
            cannot make a valid workflow.
    """
    argo = settings.argo
    paths = _Paths(job, settings)
    labels, annotations = _metadata(job, attempt)
    try:
        return WorkflowSpec(
            job_id=job.id,
            name=workflow_name(job.id, attempt),
            namespace=argo.namespace,
            source=paths.inside(job.source, "source", job),
            output=paths.inside(job.output, "output", job),
            work_dir=f"{WORK_MOUNT}/{job.id}",
            settings=_encode_settings(job),
            image=argo.image,
            image_pull_policy=argo.image_pull_policy,
            service_account=argo.service_account,
            step_command=tuple(argo.step_command),
            parallelism=argo.parallelism,
            retry_limit=argo.retry_limit,
            retry_backoff=argo.retry_backoff,
            retry_factor=argo.retry_factor,
            retry_cap=argo.retry_cap,
            labels=labels,
            annotations=annotations,
            volumes=tuple(paths.mounts),
            node_selector=dict(argo.node_selector),
            tolerations=tuple(_toleration(t) for t in argo.tolerations),
            steps=_steps(settings),
            active_deadline_seconds=argo.active_deadline_seconds,
            pod_gc=argo.pod_gc,
            ttl_seconds_after_finished=argo.ttl_seconds,
            env=dict(argo.env),
        )
    except ValueError as exc:
        raise ExecutorError(f"job {job.id}: {exc}") from None


def argo_manifest(job: Job, attempt: int, settings: Settings) -> dict[str, Any]:
    """The Workflow manifest of a job attempt for Argo."""
    return manifest(argo_spec(job, attempt, settings))


def manifest_factory(
    settings: Settings,
    executor: ExecutorKind | None = None,
    *,
    local_retry: LocalRetry | None = None,
) -> ManifestFactory:
    """Return ``make(job, attempt) -> manifest`` for ``executor`` (default: ``settings.executor``).

    The factory raises :class:`~clustercode.errors.ExecutorError` for a job that cannot make a
    valid workflow (the runner parks such a job with that message).
    """
    kind = executor or settings.executor
    if kind == "argo":
        return lambda job, attempt: argo_manifest(job, attempt, settings)
    return lambda job, attempt: local_manifest(job, attempt, settings, retry=local_retry)
