"""Build the transcode Workflow for one file: split -> encode (fan-out) [-> audio] -> merge.

A pure function of a :class:`WorkflowSpec`: the same spec always gives the same manifest, which
Argo runs as pods and the local executor runs as processes. The step programs' command lines are
the contract between this module and ``pipelines.steps``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from hera.workflows import DAG, Container, Env, Parameter, RetryStrategy, Workflow
from hera.workflows import models as m

from pipelines.contract import (
    AUDIO,
    CLEANUP,
    ENCODE,
    EXIT_ENVIRONMENT,
    INDEX_INPUT,
    JOB_ID_LABEL,
    MERGE,
    RESULT_OUTPUT,
    SETTINGS_PARAMETER,
    SLICES_OUTPUT,
    SPLIT,
)
from pipelines.spec import (
    ENTRYPOINT,
    RESULT_FILE,
    SLICES_FILE,
    Mount,
    PodSecurity,
    StepPod,
    Toleration,
    WorkflowSpec,
)

__all__ = [
    "RETRY_EXPRESSION",
    "Mount",
    "PodSecurity",
    "StepPod",
    "Toleration",
    "WorkflowSpec",
    "build_workflow",
    "manifest",
    "render_yaml",
]


def _toleration(t: Toleration) -> m.Toleration:
    return m.Toleration(
        key=t.key,
        operator=t.operator,
        value=t.value,
        effect=t.effect,
        toleration_seconds=t.toleration_seconds,
    )


RETRY_EXPRESSION = f'lastRetry.exitCode != "{EXIT_ENVIRONMENT}"'
"""Every step's ``retryStrategy.expression``: no retry after a step exited
:data:`~pipelines.contract.EXIT_ENVIRONMENT`, since the next attempt would find the same machine.
Argo's ``lastRetry.exitCode`` is a string (``"-1"`` for a pod that ended without one, such as a
deleted pod, which is retried): compared with the number 3 it would never be equal."""


def _retry_strategy(spec: WorkflowSpec) -> RetryStrategy:
    # Always is the one policy that retries both evicted (Failed) and deleted (Error) pods; the
    # expression then spares the steps that blamed the environment.
    return RetryStrategy(
        limit=spec.retry_limit,
        retry_policy="Always",
        expression=RETRY_EXPRESSION,
        backoff=m.Backoff(
            duration=spec.retry_backoff,
            factor=m.IntOrString(root=spec.retry_factor),
            cap=spec.retry_cap,
            max_duration=spec.retry_max_duration,
        ),
    )


def _resources(pod: StepPod) -> m.ResourceRequirements | None:
    requests = {
        k: m.Quantity(root=v)
        for k, v in (("cpu", pod.cpu_request), ("memory", pod.memory_request))
        if v is not None
    }
    limits = {
        k: m.Quantity(root=v)
        for k, v in (("cpu", pod.cpu_limit), ("memory", pod.memory_limit))
        if v is not None
    }
    if not requests and not limits:
        return None
    return m.ResourceRequirements(requests=requests or None, limits=limits or None)


def _volume(mount: Mount) -> m.Volume:
    if mount.claim_name is not None:
        return m.Volume(
            name=mount.name,
            persistent_volume_claim=m.PersistentVolumeClaimVolumeSource(
                claim_name=mount.claim_name, read_only=mount.read_only or None
            ),
        )
    return m.Volume(
        name=mount.name,
        host_path=m.HostPathVolumeSource(path=mount.host_path or ""),
    )


_RUNTIME_DEFAULT = m.SeccompProfile(type="RuntimeDefault")


def _scratch_volumes(security: PodSecurity | None) -> list[tuple[str, str]]:
    """(volume name, mount path) of each scratch emptyDir."""
    if security is None:
        return []
    return [(f"scratch-{i}", path) for i, path in enumerate(security.scratch_paths)]


def _pod_security(security: PodSecurity | None) -> m.PodSecurityContext | None:
    if security is None:
        return None
    return m.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=security.run_as_user,
        run_as_group=security.run_as_group,
        fs_group=security.fs_group,
        seccomp_profile=_RUNTIME_DEFAULT,
    )


def _container_security(security: PodSecurity | None) -> m.SecurityContext | None:
    if security is None:
        return None
    return m.SecurityContext(
        run_as_non_root=True,
        run_as_user=security.run_as_user,
        run_as_group=security.run_as_group,
        allow_privilege_escalation=False,
        capabilities=m.Capabilities(drop=["ALL"]),
        read_only_root_filesystem=True,
        seccomp_profile=_RUNTIME_DEFAULT,
    )


def _step(spec: WorkflowSpec, name: str, args: list[str], **kwargs: Any) -> Container:
    """One step template: the step program with ``args``, retried, with its pod settings."""
    pod = spec.steps.get(name, StepPod())
    # A template's nodeSelector/tolerations replace the workflow's, so a step that sets its own
    # repeats the workflow-wide ones (the arch selector above all).
    node_selector = {**spec.node_selector, **pod.node_selector} if pod.node_selector else None
    tolerations = (
        [_toleration(t) for t in (*spec.tolerations, *pod.tolerations)] if pod.tolerations else None
    )
    return Container(
        name=name,
        image=spec.image,
        image_pull_policy=spec.image_pull_policy,
        command=list(spec.step_command),
        args=[name, *args],
        env=[Env(name=k, value=v) for k, v in sorted(spec.env.items())] or None,
        resources=_resources(pod),
        volume_mounts=[
            *(
                m.VolumeMount(name=v.name, mount_path=v.mount_path, read_only=v.read_only or None)
                for v in spec.volumes
            ),
            *(m.VolumeMount(name=n, mount_path=p) for n, p in _scratch_volumes(spec.security)),
        ]
        or None,
        security_context=_container_security(spec.security),
        node_selector=node_selector,
        tolerations=tolerations,
        retry_strategy=_retry_strategy(spec),
        **kwargs,
    )


def build_workflow(spec: WorkflowSpec) -> Workflow:
    """Return the Workflow that transcodes ``spec.source`` to ``spec.output``.

    DAG: ``split`` plans the slices and emits them as its ``slices`` output parameter; ``encode``
    fans out over that list (``{{item.index}}``); ``audio`` runs after ``split`` only when the
    settings re-encode audio; ``merge`` waits for every encode (and audio) and writes its result
    as the ``result`` output parameter. ``cleanup`` is the exit handler and always runs.
    """
    settings_ref = f"{{{{workflow.parameters.{SETTINGS_PARAMETER}}}}}"
    common = ["--source", spec.source, "--work", spec.work_dir, "--settings", settings_ref]
    slices_path = posixpath.join(spec.work_dir, SLICES_FILE)
    result_path = posixpath.join(spec.work_dir, RESULT_FILE)
    with Workflow(
        name=spec.name,
        namespace=spec.namespace,
        entrypoint=ENTRYPOINT,
        on_exit=CLEANUP,
        arguments=[Parameter(name=SETTINGS_PARAMETER, value=spec.settings.to_json())],
        labels={**spec.labels, JOB_ID_LABEL: spec.job_id},
        annotations=dict(spec.annotations) or None,
        service_account_name=spec.service_account,
        node_selector=dict(spec.node_selector) or None,
        tolerations=[_toleration(t) for t in spec.tolerations] or None,
        volumes=[
            *(_volume(v) for v in spec.volumes),
            *(
                m.Volume(name=n, empty_dir=m.EmptyDirVolumeSource())
                for n, _ in _scratch_volumes(spec.security)
            ),
        ]
        or None,
        security_context=_pod_security(spec.security),
        active_deadline_seconds=spec.active_deadline_seconds,
        pod_gc=None if spec.pod_gc is None else m.PodGC(strategy=spec.pod_gc),
        ttl_strategy=None
        if spec.ttl_seconds_after_finished is None
        else m.TTLStrategy(seconds_after_completion=spec.ttl_seconds_after_finished),
    ) as workflow:
        split = _step(
            spec,
            SPLIT,
            [*common, "--slices-out", slices_path],
            outputs=[Parameter(name=SLICES_OUTPUT, value_from=m.ValueFrom(path=slices_path))],
        )
        encode = _step(
            spec,
            ENCODE,
            [*common, "--index", f"{{{{inputs.parameters.{INDEX_INPUT}}}}}"],
            inputs=[Parameter(name=INDEX_INPUT)],
        )
        audio = _step(spec, AUDIO, common) if spec.settings.audio is not None else None
        merge = _step(
            spec,
            MERGE,
            [*common, "--output", spec.output, "--result-out", result_path],
            outputs=[Parameter(name=RESULT_OUTPUT, value_from=m.ValueFrom(path=result_path))],
        )
        cleanup_args = ["--work", spec.work_dir, "--status", "{{workflow.status}}"]
        _step(spec, CLEANUP, [*cleanup_args, "--keep-result"] if spec.keep_result else cleanup_args)
        with DAG(name=ENTRYPOINT, parallelism=spec.parallelism):
            split_task = split(name=SPLIT)
            assert split_task is not None  # a template called in a DAG context returns its task
            encode(
                name=ENCODE,
                arguments={INDEX_INPUT: f"{{{{item.{INDEX_INPUT}}}}}"},
                with_param=split_task.get_parameter(SLICES_OUTPUT).value,
                depends=SPLIT,
            )
            merge_depends = ENCODE
            if audio is not None:
                audio(name=AUDIO, depends=SPLIT)
                merge_depends = f"{ENCODE} && {AUDIO}"
            merge(name=MERGE, depends=merge_depends)
    return workflow


def manifest(spec: WorkflowSpec) -> dict[str, Any]:
    """Return the Workflow manifest as a plain dict (what ``submit`` takes)."""
    result: dict[str, Any] = build_workflow(spec).to_dict()
    return result


def render_yaml(spec: WorkflowSpec) -> str:
    """Return the Workflow manifest as YAML, for ``kubectl create -f`` and review."""
    text: str = build_workflow(spec).to_yaml()
    return text
