"""Read a Workflow manifest into the plan the local executor runs, refusing what it cannot run.

Every key of the manifest is either supported, ignored because it only matters to Kubernetes
(images, resources, scheduling, pod GC), or a :class:`ManifestError` naming the field. Variable
references are checked against their scope here too, so a bad manifest fails at submit time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from clustercode.errors import ManifestError
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
from clustercode.executors._substitution import parse_duration, references
from clustercode.executors.base import Phase

_K8S_SPEC = {
    "serviceAccountName", "automountServiceAccountToken", "podGC", "ttlStrategy", "nodeSelector",
    "tolerations", "affinity", "imagePullSecrets", "podPriorityClassName", "priority",
    "schedulerName", "securityContext", "podMetadata", "podDisruptionBudget", "dnsPolicy",
    "dnsConfig", "hostAliases", "archiveLogs", "workflowMetadata", "hostNetwork",
}  # fmt: skip
_K8S_TEMPLATE = {
    "nodeSelector", "tolerations", "affinity", "metadata", "serviceAccountName",
    "automountServiceAccountToken", "priorityClassName", "schedulerName", "securityContext",
}  # fmt: skip
_K8S_CONTAINER = {
    "name", "image", "imagePullPolicy", "resources", "securityContext", "lifecycle",
    "livenessProbe", "readinessProbe", "startupProbe", "ports", "terminationMessagePath",
    "terminationMessagePolicy", "resizePolicy",
}  # fmt: skip
_DEPENDS_PHASES = {
    "Succeeded": frozenset({Phase.SUCCEEDED}),
    "Failed": frozenset({Phase.FAILED}),
    "Errored": frozenset({Phase.ERROR}),
    "Skipped": frozenset({Phase.SKIPPED}),
}
# A bare task name in `depends` means Succeeded, Skipped or Daemoned; `dependencies` the same.
_DEFAULT_PHASES = frozenset({Phase.SUCCEEDED, Phase.SKIPPED})
_WORKFLOW_VARIABLES = {"workflow.name", "workflow.namespace", "workflow.status"}


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"manifest field {where}: expected an object")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ManifestError(f"manifest field {where}: expected a list")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"manifest field {where}: expected a string")
    return value


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ManifestError(f"manifest field {where}: expected an integer >= {minimum}")
    return value


def _check_keys(
    obj: Mapping[str, Any], where: str, supported: set[str], ignored: set[str] | None = None
) -> None:
    for key in obj:
        if key not in supported and key not in (ignored or set()):
            raise ManifestError(
                f"manifest field {where}.{key} is not supported by the local executor"
            )


def _parameters(value: Any, where: str, *, value_required: bool) -> tuple[Input, ...]:
    params = []
    for i, raw in enumerate(_list(value, where)):
        at = f"{where}[{i}]"
        param = _object(raw, at)
        _check_keys(param, at, {"name", "value", "default", "description"})
        has_value = "value" in param
        if value_required and not has_value:
            raise ManifestError(f"manifest field {at}: parameter needs a value")
        params.append(
            Input(
                name=_str(param.get("name"), f"{at}.name"),
                value=_str(param["value"], f"{at}.value") if has_value else None,
                default=_str(param["default"], f"{at}.default") if "default" in param else None,
            )
        )
    return tuple(params)


def _retry(value: Any, where: str) -> Retry:
    raw = _object(value, where)
    _check_keys(raw, where, {"limit", "retryPolicy", "backoff"}, {"affinity"})
    policy = raw.get("retryPolicy", "OnFailure")
    if policy not in ("Always", "OnFailure", "OnError"):
        raise ManifestError(
            f"manifest field {where}.retryPolicy {policy!r} is not supported by the local "
            "executor (Always, OnFailure, OnError)"
        )
    backoff = _object(raw.get("backoff", {}), f"{where}.backoff")
    at = f"{where}.backoff"
    _check_keys(backoff, at, {"duration", "factor", "cap", "maxDuration"})
    return Retry(
        limit=_int(raw.get("limit", 0), f"{where}.limit"),
        policy=policy,
        backoff=parse_duration(backoff.get("duration", 0), f"{at}.duration"),
        factor=_int(backoff.get("factor", 1), f"{at}.factor", 1),
        cap=parse_duration(backoff["cap"], f"{at}.cap") if "cap" in backoff else None,
        max_duration=parse_duration(backoff["maxDuration"], f"{at}.maxDuration")
        if "maxDuration" in backoff
        else None,
    )


def _host_paths(spec: Mapping[str, Any]) -> dict[str, str]:
    """Volumes the local executor can honour: host paths (checked against their mounts)."""
    paths = {}
    for i, raw in enumerate(_list(spec.get("volumes", []), "spec.volumes")):
        at = f"spec.volumes[{i}]"
        volume = _object(raw, at)
        _check_keys(volume, at, {"name", "hostPath"})
        host = _object(volume.get("hostPath"), f"{at}.hostPath")
        paths[_str(volume.get("name"), f"{at}.name")] = _str(host.get("path"), f"{at}.hostPath")
    return paths


def _container(raw: Mapping[str, Any], at: str, template: Mapping[str, Any]) -> ContainerTemplate:
    where = f"{at}.container"
    container = _object(raw, where)
    _check_keys(container, where, {"command", "args", "env", "workingDir", "volumeMounts"},
                _K8S_CONTAINER)  # fmt: skip
    command = [_str(c, f"{where}.command") for c in _list(container.get("command", []), where)]
    command += [_str(a, f"{where}.args") for a in _list(container.get("args", []), where)]
    if not command:
        raise ManifestError(f"manifest field {where}.command: the local executor needs a command")
    env = []
    for i, raw_var in enumerate(_list(container.get("env", []), f"{where}.env")):
        var = _object(raw_var, f"{where}.env[{i}]")
        _check_keys(var, f"{where}.env[{i}]", {"name", "value"})
        env.append((_str(var.get("name"), f"{where}.env[{i}].name"),
                    _str(var.get("value", ""), f"{where}.env[{i}].value")))  # fmt: skip
    outputs = []
    raw_outputs = _object(template.get("outputs", {}), f"{at}.outputs")
    _check_keys(raw_outputs, f"{at}.outputs", {"parameters"})
    for i, raw_out in enumerate(_list(raw_outputs.get("parameters", []), f"{at}.outputs")):
        out_at = f"{at}.outputs.parameters[{i}]"
        out = _object(raw_out, out_at)
        _check_keys(out, out_at, {"name", "valueFrom", "description"})
        value_from = _object(out.get("valueFrom"), f"{out_at}.valueFrom")
        _check_keys(value_from, f"{out_at}.valueFrom", {"path", "default"})
        outputs.append(Output(
            name=_str(out.get("name"), f"{out_at}.name"),
            path=_str(value_from.get("path"), f"{out_at}.valueFrom.path"),
            default=value_from.get("default"),
        ))  # fmt: skip
    working_dir = container.get("workingDir")
    return ContainerTemplate(
        name=template["name"],
        command=tuple(command),
        env=tuple(env),
        working_dir=None if working_dir is None else _str(working_dir, f"{where}.workingDir"),
        inputs=_inputs(template, at),
        outputs=tuple(outputs),
    )


def _inputs(template: Mapping[str, Any], at: str) -> tuple[Input, ...]:
    raw = _object(template.get("inputs", {}), f"{at}.inputs")
    _check_keys(raw, f"{at}.inputs", {"parameters"})
    return _parameters(raw.get("parameters", []), f"{at}.inputs.parameters", value_required=False)


def _depends(task: Mapping[str, Any], where: str) -> tuple[Dependency, ...]:
    deps = [
        Dependency(task=_str(d, f"{where}.dependencies"), phases=_DEFAULT_PHASES)
        for d in _list(task.get("dependencies", []), f"{where}.dependencies")
    ]
    expression = task.get("depends")
    if expression is None:
        return tuple(deps)
    for term in _str(expression, f"{where}.depends").split("&&"):
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


def _dag(raw: Any, at: str, template: Mapping[str, Any]) -> DagTemplate:
    dag = _object(raw, f"{at}.dag")
    _check_keys(dag, f"{at}.dag", {"tasks", "failFast"})
    tasks = []
    for i, raw_task in enumerate(_list(dag.get("tasks"), f"{at}.dag.tasks")):
        where = f"{at}.dag.tasks[{i}]"
        task = _object(raw_task, where)
        _check_keys(task, where, {"name", "template", "arguments", "dependencies", "depends",
                                  "withParam", "withItems"})  # fmt: skip
        arguments = _object(task.get("arguments", {}), f"{where}.arguments")
        _check_keys(arguments, f"{where}.arguments", {"parameters"})
        params = _parameters(arguments.get("parameters", []), f"{where}.arguments.parameters",
                             value_required=True)  # fmt: skip
        items = task.get("withItems")
        tasks.append(Task(
            name=_str(task.get("name"), f"{where}.name"),
            template=_str(task.get("template"), f"{where}.template"),
            arguments=tuple((p.name, p.value or "") for p in params),
            depends=_depends(task, where),
            with_param=_str(task["withParam"], f"{where}.withParam") if "withParam" in task
            else None,
            with_items=None if items is None else tuple(_list(items, f"{where}.withItems")),
        ))  # fmt: skip
    parallelism = template.get("parallelism")
    return DagTemplate(
        name=template["name"],
        tasks=tuple(tasks),
        inputs=_inputs(template, at),
        parallelism=None if parallelism is None else _int(parallelism, f"{at}.parallelism", 1),
        fail_fast=bool(dag.get("failFast", True)),
    )


def _template(raw: Any, at: str, host_paths: Mapping[str, str]) -> Template:
    template = _object(raw, at)
    name = _str(template.get("name"), f"{at}.name")
    at = f"{at} ({name})"
    common = {"name", "inputs", "outputs", "retryStrategy", "activeDeadlineSeconds"}
    if "dag" in template:
        _check_keys(template, at, {"name", "inputs", "dag", "parallelism"}, _K8S_TEMPLATE)
        return _dag(template["dag"], at, template)
    if "container" not in template:
        kind = next((k for k in template if k not in common | _K8S_TEMPLATE), "(none)")
        raise ManifestError(
            f"manifest field {at}.{kind} is not supported by the local executor "
            "(templates must be container or dag)"
        )
    _check_keys(template, at, common | {"container"}, _K8S_TEMPLATE)
    mounts = _object(template["container"], f"{at}.container").get("volumeMounts", [])
    for i, raw_mount in enumerate(_list(mounts, f"{at}.container.volumeMounts")):
        where = f"{at}.container.volumeMounts[{i}]"
        mount = _object(raw_mount, where)
        _check_keys(mount, where, {"name", "mountPath", "readOnly"})
        host = host_paths.get(str(mount.get("name")))
        if host is None or posixpath.normpath(host) != posixpath.normpath(
            _str(mount.get("mountPath"), f"{where}.mountPath")
        ):
            raise ManifestError(
                f"manifest field {where}: the local executor runs on this machine's files; it "
                "supports only a hostPath volume mounted at its own path"
            )
    container = _container(template["container"], at, template)
    retry = template.get("retryStrategy")
    deadline = template.get("activeDeadlineSeconds")
    return ContainerTemplate(
        name=container.name,
        command=container.command,
        env=container.env,
        working_dir=container.working_dir,
        inputs=container.inputs,
        outputs=container.outputs,
        retry=None if retry is None else _retry(retry, f"{at}.retryStrategy"),
        deadline=None if deadline is None else _int(deadline, f"{at}.activeDeadlineSeconds", 1),
    )


def parse_manifest(manifest: Mapping[str, Any]) -> Plan:
    """Read and check ``manifest``.

    Raises:
        ManifestError: the manifest uses something the local executor does not support, or is
            inconsistent (unknown template, dependency cycle, unresolvable variable).
    """
    doc = _object(manifest, "(manifest)")
    _check_keys(doc, "(manifest)", {"apiVersion", "kind", "metadata", "spec"})
    if doc.get("kind") != "Workflow":
        raise ManifestError(f"manifest field kind: expected 'Workflow', got {doc.get('kind')!r}")
    meta = _object(doc.get("metadata"), "metadata")
    _check_keys(meta, "metadata", {"name", "namespace", "labels", "annotations"})
    name = _str(meta.get("name"), "metadata.name")
    labels = {
        _str(k, "metadata.labels"): _str(v, f"metadata.labels.{k}")
        for k, v in _object(meta.get("labels", {}), "metadata.labels").items()
    }
    spec = _object(doc.get("spec"), "spec")
    _check_keys(spec, "spec", {"entrypoint", "templates", "arguments", "onExit", "parallelism",
                               "activeDeadlineSeconds", "volumes"}, _K8S_SPEC)  # fmt: skip
    arguments = _object(spec.get("arguments", {}), "spec.arguments")
    _check_keys(arguments, "spec.arguments", {"parameters"})
    parameters = _parameters(arguments.get("parameters", []), "spec.arguments.parameters",
                             value_required=True)  # fmt: skip
    host_paths = _host_paths(spec)
    templates: dict[str, Template] = {}
    for i, raw in enumerate(_list(spec.get("templates"), "spec.templates")):
        template = _template(raw, f"spec.templates[{i}]", host_paths)
        if template.name in templates:
            raise ManifestError(f"manifest field spec.templates[{i}]: duplicate {template.name!r}")
        templates[template.name] = template
    parallelism = spec.get("parallelism")
    deadline = spec.get("activeDeadlineSeconds")
    plan = Plan(
        name=name,
        labels=labels,
        namespace=str(meta.get("namespace", "default")),
        entrypoint=_str(spec.get("entrypoint"), "spec.entrypoint"),
        templates=templates,
        parameters={p.name: p.value or "" for p in parameters},
        on_exit=None if spec.get("onExit") is None else _str(spec["onExit"], "spec.onExit"),
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
