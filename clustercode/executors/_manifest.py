"""Read a Workflow manifest into the plan the local executor runs, refusing what it cannot run.

hera's generated models parse the manifest (see :mod:`._manifest_policy` for which fields are
supported, ignored as Kubernetes-only, or refused); this module walks the typed Workflow into a
:class:`Plan`. Variable references are checked against their scope here too, so a bad manifest
fails at submit time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from hera.workflows import models as m

from clustercode.errors import ManifestError
from clustercode.executors._manifest_policy import (
    CONTAINER_TEMPLATE,
    DAG_TEMPLATE,
    INPUT_PARAMETER,
    OUTPUT_PARAMETER,
    check_fields,
    first_refused,
    read_workflow,
    required,
    unsupported,
)
from clustercode.executors._plan import (
    ContainerTemplate,
    DagTemplate,
    Dependency,
    Input,
    Output,
    Plan,
    Retry,
    Task,
    Template,
)
from clustercode.executors._retry_expression import (
    GRAMMAR,
    ExpressionError,
    RetryExpression,
    parse_retry_expression,
)
from clustercode.executors._substitution import parse_duration, references
from clustercode.executors.base import Phase

_DEPENDS_PHASES = {
    "Succeeded": frozenset({Phase.SUCCEEDED}),
    "Failed": frozenset({Phase.FAILED}),
    "Errored": frozenset({Phase.ERROR}),
    "Skipped": frozenset({Phase.SKIPPED}),
}
# A bare task name in `depends` means Succeeded, Skipped or Daemoned; `dependencies` the same.
_DEFAULT_PHASES = frozenset({Phase.SUCCEEDED, Phase.SKIPPED})
_WORKFLOW_VARIABLES = {"workflow.name", "workflow.namespace", "workflow.status"}


def _int(value: m.IntOrString | int, where: str, minimum: int = 0) -> int:
    """An integer Argo may also write as a string (``"2"``)."""
    raw = value.root if isinstance(value, m.IntOrString) else value
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < minimum:
        raise ManifestError(f"manifest field {where}: expected an integer >= {minimum}")
    return raw


def _parameters(
    holder: m.Arguments | m.Inputs | None, where: str, *, value_required: bool
) -> tuple[Input, ...]:
    if holder is None:
        return ()
    check_fields(holder, where)
    params = []
    for i, param in enumerate(holder.parameters or []):
        at = f"{where}.parameters[{i}]"
        check_fields(param, at, INPUT_PARAMETER)
        if value_required and param.value is None:
            raise ManifestError(f"manifest field {at}: parameter needs a value")
        params.append(Input(name=param.name, value=param.value, default=param.default))
    return tuple(params)


def _retry(retry: m.RetryStrategy, where: str) -> Retry:
    check_fields(retry, where)
    policy = retry.retry_policy or "OnFailure"
    if policy not in ("Always", "OnFailure", "OnError"):
        raise ManifestError(
            f"manifest field {where}.retryPolicy {policy!r} is not supported by the local "
            "executor (Always, OnFailure, OnError)"
        )
    backoff = retry.backoff or m.Backoff()
    at = f"{where}.backoff"
    check_fields(backoff, at)
    return Retry(
        limit=0 if retry.limit is None else _int(retry.limit, f"{where}.limit"),
        policy=policy,
        backoff=parse_duration(backoff.duration or 0, f"{at}.duration"),
        factor=1 if backoff.factor is None else _int(backoff.factor, f"{at}.factor", 1),
        cap=None if backoff.cap is None else parse_duration(backoff.cap, f"{at}.cap"),
        max_duration=None
        if backoff.max_duration is None
        else parse_duration(backoff.max_duration, f"{at}.maxDuration"),
        expression=_retry_expression(retry.expression, f"{where}.expression"),
    )


def _retry_expression(text: str | None, where: str) -> RetryExpression | None:
    """The parsed expression; Argo ignores an empty one."""
    if not text:
        return None
    try:
        return parse_retry_expression(text)
    except ExpressionError as exc:
        raise ManifestError(f"manifest field {where} {text!r}: {exc}; {GRAMMAR}") from None


def _host_paths(volumes: Sequence[m.Volume]) -> dict[str, str]:
    """Volumes the local executor can honour: host paths (checked against their mounts)."""
    paths = {}
    for i, volume in enumerate(volumes):
        at = f"spec.volumes[{i}]"
        check_fields(volume, at)
        host = required(volume.host_path, f"{at}.hostPath")
        check_fields(host, f"{at}.hostPath")
        paths[volume.name] = host.path
    return paths


def _check_mounts(container: m.Container, where: str, host_paths: Mapping[str, str]) -> None:
    for i, mount in enumerate(container.volume_mounts or []):
        at = f"{where}.volumeMounts[{i}]"
        check_fields(mount, at)
        host = host_paths.get(mount.name)
        if host is None or posixpath.normpath(host) != posixpath.normpath(mount.mount_path):
            raise ManifestError(
                f"manifest field {at}: the local executor runs on this machine's files; it "
                "supports only a hostPath volume mounted at its own path"
            )


def _outputs(outputs: m.Outputs | None, where: str) -> tuple[Output, ...]:
    if outputs is None:
        return ()
    check_fields(outputs, where)
    found = []
    for i, out in enumerate(outputs.parameters or []):
        at = f"{where}.parameters[{i}]"
        check_fields(out, at, OUTPUT_PARAMETER)
        value_from = required(out.value_from, f"{at}.valueFrom")
        check_fields(value_from, f"{at}.valueFrom")
        path = required(value_from.path, f"{at}.valueFrom.path")
        found.append(Output(name=out.name, path=path, default=value_from.default))
    return tuple(found)


def _container(template: m.Template, at: str, host_paths: Mapping[str, str]) -> ContainerTemplate:
    check_fields(template, at, CONTAINER_TEMPLATE)
    container = required(template.container, f"{at}.container")
    where = f"{at}.container"
    _check_mounts(container, where, host_paths)
    check_fields(container, where)
    command = (*(container.command or []), *(container.args or []))
    if not command:
        raise ManifestError(f"manifest field {where}.command: the local executor needs a command")
    env = []
    for i, var in enumerate(container.env or []):
        check_fields(var, f"{where}.env[{i}]")
        env.append((var.name, var.value or ""))
    retry, deadline = template.retry_strategy, template.active_deadline_seconds
    return ContainerTemplate(
        name=required(template.name, f"{at}.name"),
        command=command,
        env=tuple(env),
        working_dir=container.working_dir,
        inputs=_parameters(template.inputs, f"{at}.inputs", value_required=False),
        outputs=_outputs(template.outputs, f"{at}.outputs"),
        retry=None if retry is None else _retry(retry, f"{at}.retryStrategy"),
        deadline=None if deadline is None else _int(deadline, f"{at}.activeDeadlineSeconds", 1),
    )


def _depends(task: m.DAGTask, where: str) -> tuple[Dependency, ...]:
    deps = [Dependency(task=d, phases=_DEFAULT_PHASES) for d in task.dependencies or []]
    expression = task.depends
    if expression is None:
        return tuple(deps)
    for term in expression.split("&&"):
        name, _, result = term.strip().partition(".")
        if (
            not name
            or not name.replace("-", "").replace("_", "").isalnum()
            or (result and result not in _DEPENDS_PHASES)
        ):
            raise ManifestError(
                f"manifest field {where}.depends {expression!r}: the local executor supports "
                "'A && B.Succeeded' (task names, .Succeeded/.Failed/.Errored/.Skipped, &&)"
            )
        deps.append(Dependency(task=name, phases=_DEPENDS_PHASES.get(result, _DEFAULT_PHASES)))
    return tuple(deps)


def _dag(template: m.Template, at: str) -> DagTemplate:
    check_fields(template, at, DAG_TEMPLATE)
    dag = required(template.dag, f"{at}.dag")
    check_fields(dag, f"{at}.dag")
    tasks = []
    for i, task in enumerate(dag.tasks):
        where = f"{at}.dag.tasks[{i}]"
        check_fields(task, where)
        params = _parameters(task.arguments, f"{where}.arguments", value_required=True)
        tasks.append(Task(
            name=task.name,
            template=required(task.template, f"{where}.template"),
            arguments=tuple((p.name, p.value or "") for p in params),
            depends=_depends(task, where),
            with_param=task.with_param,
            with_items=None if task.with_items is None else tuple(x.root for x in task.with_items),
        ))  # fmt: skip
    parallelism = template.parallelism
    return DagTemplate(
        name=required(template.name, f"{at}.name"),
        tasks=tuple(tasks),
        inputs=_parameters(template.inputs, f"{at}.inputs", value_required=False),
        parallelism=None if parallelism is None else _int(parallelism, f"{at}.parallelism", 1),
        fail_fast=dag.fail_fast is not False,
    )


def _template(template: m.Template, at: str, host_paths: Mapping[str, str]) -> Template:
    name = required(template.name, f"{at}.name")
    at = f"{at} ({name})"
    if template.dag is not None:
        return _dag(template, at)
    if template.container is None:
        kind = first_refused(template, CONTAINER_TEMPLATE | DAG_TEMPLATE)
        if kind is not None:
            raise unsupported(at, kind, m.Template)
        raise ManifestError(f"manifest field {at}: templates must be container or dag")
    return _container(template, at, host_paths)


def parse_manifest(manifest: Mapping[str, Any]) -> Plan:
    """Read and check ``manifest``.

    Raises:
        ManifestError: the manifest uses something the local executor does not support, or is
            inconsistent (unknown template, dependency cycle, unresolvable variable).
    """
    workflow = read_workflow(manifest)
    check_fields(workflow, "")
    if workflow.kind != "Workflow":
        raise ManifestError(f"manifest field kind: expected 'Workflow', got {workflow.kind!r}")
    meta, spec = workflow.metadata, workflow.spec
    check_fields(meta, "metadata")
    check_fields(spec, "spec")
    parameters = _parameters(spec.arguments, "spec.arguments", value_required=True)
    host_paths = _host_paths(spec.volumes or [])
    templates: dict[str, Template] = {}
    for i, raw in enumerate(required(spec.templates, "spec.templates")):
        template = _template(raw, f"spec.templates[{i}]", host_paths)
        if template.name in templates:
            raise ManifestError(f"manifest field spec.templates[{i}]: duplicate {template.name!r}")
        templates[template.name] = template
    parallelism, deadline = spec.parallelism, spec.active_deadline_seconds
    plan = Plan(
        name=required(meta.name, "metadata.name"),
        labels=dict(meta.labels or {}),
        namespace=meta.namespace or "default",
        entrypoint=required(spec.entrypoint, "spec.entrypoint"),
        templates=templates,
        parameters={p.name: p.value or "" for p in parameters},
        on_exit=spec.on_exit,
        parallelism=None if parallelism is None else _int(parallelism, "spec.parallelism", 1),
        deadline=None if deadline is None else _int(deadline, "spec.activeDeadlineSeconds", 1),
    )
    _check_plan(plan)
    return plan


def _check_plan(plan: Plan) -> None:
    for field, target in (("spec.entrypoint", plan.entrypoint), ("spec.onExit", plan.on_exit)):
        if target is not None and target not in plan.templates:
            raise ManifestError(f"manifest field {field}: no template named {target!r}")
    workflow_scope = _WORKFLOW_VARIABLES | {f"workflow.parameters.{p}" for p in plan.parameters}
    for template in plan.templates.values():
        inputs = {f"inputs.parameters.{p.name}" for p in template.inputs}
        if isinstance(template, ContainerTemplate):
            texts = [*template.command, *(v for _, v in template.env), template.working_dir or "",
                     *(o.path for o in template.outputs)]  # fmt: skip
            _check_references(texts, workflow_scope | inputs | {"retries"}, template.name)
        else:
            _check_dag(plan, template, workflow_scope | inputs)


def _ancestors(dag: DagTemplate, task: Task, by_name: Mapping[str, Task]) -> set[str]:
    seen: set[str] = set()
    stack = [d.task for d in task.depends]
    while stack:
        name = stack.pop()
        if name == task.name:
            raise ManifestError(f"template {dag.name!r}: dependency cycle through task {name!r}")
        if name not in seen:
            seen.add(name)
            stack.extend(d.task for d in by_name[name].depends)
    return seen


def _check_dag(plan: Plan, dag: DagTemplate, scope: set[str]) -> None:
    by_name = {t.name: t for t in dag.tasks}
    if len(by_name) != len(dag.tasks):
        raise ManifestError(f"template {dag.name!r}: duplicate task names")
    for task in dag.tasks:
        where = f"template {dag.name!r} task {task.name!r}"
        for dep in task.depends:
            if dep.task not in by_name:
                raise ManifestError(f"{where}: depends on unknown task {dep.task!r}")
        target = plan.templates.get(task.template)
        if target is None:
            raise ManifestError(f"{where}: no template named {task.template!r}")
        if not isinstance(target, ContainerTemplate):
            raise ManifestError(f"{where}: nested DAG {task.template!r} is not supported")
        declared = {p.name for p in target.inputs}
        given = {name for name, _ in task.arguments}
        for name in given - declared:
            raise ManifestError(f"{where}: template {target.name!r} has no input {name!r}")
        for p in target.inputs:
            if p.name not in given and p.value is None and p.default is None:
                raise ManifestError(f"{where}: input {p.name!r} of {target.name!r} has no value")
        task_scope = set(scope)
        for ancestor in _ancestors(dag, task, by_name):
            ancestor_template = plan.templates[by_name[ancestor].template]
            if isinstance(ancestor_template, ContainerTemplate):
                task_scope |= {f"tasks.{ancestor}.outputs.parameters.{o.name}"
                               for o in ancestor_template.outputs}  # fmt: skip
        texts = [v for _, v in task.arguments] + [task.with_param or ""]
        looped = task.with_param is not None or task.with_items is not None
        _check_references(texts, task_scope, where, items=looped)


def _check_references(
    texts: Sequence[str], scope: set[str], where: str, items: bool = False
) -> None:
    for text in texts:
        for name in references(text):
            if name in scope or (items and (name == "item" or name.startswith("item."))):
                continue
            if name.startswith("="):
                raise ManifestError(f"{where}: expression {{{{{name}}}}} is not supported")
            raise ManifestError(f"{where}: unknown variable {{{{{name}}}}}")
