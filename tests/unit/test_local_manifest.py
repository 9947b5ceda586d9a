"""LocalExecutor manifest checks: what it refuses (naming the field), what it ignores, and that
the field policy covers the hera models it reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, RootModel

from clustercode.errors import ManifestError
from clustercode.executors import Phase
from clustercode.executors._manifest import parse_manifest
from clustercode.executors._manifest_policy import FIELDS
from clustercode.executors.local import LocalExecutor
from pipelines.workflow import manifest
from tests.pipelines.variants import variants
from tests.support.local_workflows import APPEND, final, run_to_end, step, workflow

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("problem", "setup"),
    [
        (
            "output parameter x: cannot read",
            lambda p: {
                "outputs": {
                    "parameters": [{"name": "x", "valueFrom": {"path": str(p / "missing")}}]
                }
            },
        ),
        (
            "cannot run /nonexistent/tool",
            lambda p: {"container": {"command": ["/nonexistent/tool"]}},
        ),
    ],
    ids=["missing-output-file", "missing-command"],
)
async def test_step_errors_end_the_run_with_the_reason(
    executor: LocalExecutor, tmp_path: Path, problem: str, setup: Callable[[Path], dict[str, Any]]
) -> None:
    nodes, run = await run_to_end(
        executor,
        workflow("err", [{"name": "e", "template": "e"}], step("e", "pass", **setup(tmp_path))),
    )
    assert run.phase is Phase.ERROR
    assert problem in run.message
    assert final(nodes)["e(0)"].phase is Phase.ERROR


async def test_with_param_that_is_not_a_list_is_an_error(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    doc = workflow(
        "notalist",
        [
            {"name": "a", "template": "a"},
            {
                "name": "b",
                "template": "a",
                "depends": "a",
                "withParam": "{{tasks.a.outputs.parameters.x}}",
            },
        ],
        step(
            "a",
            "import sys; open(sys.argv[1], 'w').write('{\"not\": 1}')",
            str(out),
            outputs={"parameters": [{"name": "x", "valueFrom": {"path": str(out)}}]},
        ),
    )
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.ERROR
    assert run.message.startswith("task b: withParam is not a JSON list")


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = workflow(
        "broken",
        [
            {"name": "a", "template": "a"},
            {
                "name": "b",
                "template": "b",
                "depends": "a",
                "arguments": {"parameters": [{"name": "v", "value": "x"}]},
            },
        ],
        step("a", "pass"),
        step("b", "pass", "{{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]}),
    )
    change(doc)
    return doc


def _template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def _moved_mount(doc: dict[str, Any]) -> None:
    doc["spec"]["volumes"] = [{"name": "v", "hostPath": {"path": "/srv"}}]
    _template(doc, "a")["container"]["volumeMounts"] = [{"name": "v", "mountPath": "/data"}]


UNSUPPORTED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "script": (
        lambda d: d["spec"]["templates"].append(
            {"name": "s", "script": {"image": "x", "source": "x"}}
        ),
        "spec.templates[3] (s).script",
    ),
    "steps": (
        lambda d: d["spec"]["templates"].append({"name": "s", "steps": []}),
        "spec.templates[3] (s).steps",
    ),
    "resource": (
        lambda d: d["spec"]["templates"].append({"name": "r", "resource": {}}),
        "spec.templates[3] (r).resource",
    ),
    "when": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(when="1 == 1"),
        "spec.templates[2] (main).dag.tasks[0].when",
    ),
    "continueOn": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].update(continueOn={"failed": True}),
        "dag.tasks[1].continueOn",
    ),
    "sidecars": (
        lambda d: _template(d, "a").update(sidecars=[{"name": "x"}]),
        "spec.templates[0] (a).sidecars",
    ),
    "initContainers": (lambda d: _template(d, "a").update(initContainers=[]), "(a).initContainers"),
    "output-artifacts": (
        lambda d: _template(d, "a").update(outputs={"artifacts": []}),
        "(a).outputs.artifacts",
    ),
    "input-artifacts": (
        lambda d: _template(d, "b").update(inputs={"artifacts": []}),
        "(b).inputs.artifacts",
    ),
    "unknown-variable": (
        lambda d: _template(d, "a")["container"].update(args=["{{pod.name}}"]),
        "unknown variable {{pod.name}}",
    ),
    "expression": (
        lambda d: _template(d, "a")["container"].update(args=["{{=sprig.upper('x')}}"]),
        "expression {{=sprig.upper('x')}}",
    ),
    "future-task-output": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(
            withParam="{{tasks.b.outputs.parameters.x}}"
        ),
        "unknown variable {{tasks.b.outputs.parameters.x}}",
    ),
    "depends-or": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].update(depends="a || a"),
        "dag.tasks[1].depends 'a || a'",
    ),
    "pvc-volume": (
        lambda d: d["spec"].update(
            volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]
        ),
        "spec.volumes[0].persistentVolumeClaim",
    ),
    "moved-mount": (_moved_mount, "(a).container.volumeMounts[0]"),
    "env-from-secret": (
        lambda d: _template(d, "a")["container"].update(
            env=[{"name": "X", "valueFrom": {"secretKeyRef": {}}}]
        ),
        "(a).container.env[0].valueFrom",
    ),
    "transient-retry": (
        lambda d: _template(d, "a").update(retryStrategy={"retryPolicy": "OnTransientError"}),
        "retryStrategy.retryPolicy 'OnTransientError'",
    ),
    "retry-expression": (
        lambda d: _template(d, "a").update(retryStrategy={"expression": "true"}),
        "(a).retryStrategy.expression",
    ),
    "generate-name": (lambda d: d["metadata"].update(generateName="x-"), "metadata.generateName"),
    "kind": (lambda d: d.update(kind="CronWorkflow"), "kind: expected 'Workflow'"),
    "template-defaults": (lambda d: d["spec"].update(templateDefaults={}), "spec.templateDefaults"),
    "cycle": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(depends="b"),
        "dependency cycle",
    ),
    "missing-template": (
        lambda d: d["spec"].update(onExit="nope"),
        "spec.onExit: no template named 'nope'",
    ),
    "missing-input": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].pop("arguments"),
        "input 'v' of 'b' has no value",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
async def test_unsupported_manifest_fields_are_refused(executor: LocalExecutor, case: str) -> None:
    change, fragment = UNSUPPORTED[case]
    doc = _broken(change)
    with pytest.raises(ManifestError) as info:
        await executor.submit(doc)
    assert fragment in str(info.value)
    assert await executor.list_runs({}) == []


def test_the_builders_manifests_are_accepted_and_cluster_volumes_refused() -> None:
    for name, spec in variants().items():
        if name == "volumes":
            with pytest.raises(ManifestError, match=r"spec\.volumes\[0\]\.persistentVolumeClaim"):
                parse_manifest(manifest(spec))
        else:
            plan = parse_manifest(manifest(spec))
            assert plan.entrypoint == "main"
            assert plan.on_exit == "cleanup"


INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown-field": (
        lambda d: d["spec"]["templates"][2].update(foo=1),
        "manifest field spec.templates[2] (main).foo is not supported by the local executor",
    ),
    "python-name": (
        lambda d: d["spec"].update(active_deadline_seconds=3),
        "manifest field spec.active_deadline_seconds is not supported by the local executor",
    ),
    "wrong-type": (
        lambda d: _template(d, "a")["container"].update(command=["x", 1]),
        "manifest field spec.templates[0] (a).container.command[1]: expected a string",
    ),
    "int-or-string": (
        lambda d: _template(d, "a").update(retryStrategy={"limit": [1]}),
        "manifest field spec.templates[0] (a).retryStrategy.limit: expected a string or an integer",
    ),
    "missing": (lambda d: d.pop("metadata"), "manifest field metadata: required"),
    "not-an-object": (
        lambda d: d["spec"]["templates"].append([]),
        "manifest field spec.templates[3]: expected an object",
    ),
    "refused-and-invalid": (
        lambda d: d["spec"]["templates"].append({"name": "r", "resource": {"action": 1}}),
        "manifest field spec.templates[3] (r).resource is not supported by the local executor "
        "(templates must be container or dag)",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifests_name_the_field_in_one_line(case: str) -> None:
    change, message = INVALID[case]
    with pytest.raises(ManifestError) as info:
        parse_manifest(_broken(change))
    assert str(info.value) == message


def test_kubernetes_only_fields_are_not_validated() -> None:
    """Kubernetes reads them, not the local executor: numbers where hera's models want strings
    and keys newer than the models are no error."""

    def k8s(doc: dict[str, Any]) -> None:
        _template(doc, "a")["container"].update(
            resources={"limits": {"cpu": 2, "memory": 1}}, securityContext={"newerKey": True}
        )
        doc["spec"]["podGC"] = {"strategy": "OnPodSuccess", "newerKey": 1}

    plan = parse_manifest(_broken(k8s))
    assert plan == parse_manifest(_broken(lambda _: None))


def _models(annotation: Any) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return set() if issubclass(annotation, RootModel) else {annotation}
    return set().union(*(_models(a) for a in get_args(annotation)))


def test_the_field_policy_covers_what_it_reads() -> None:
    """Every name in the policy is a field of its model (by its Argo name), and every model
    behind a supported field has a policy of its own."""
    for model, (supported, ignored) in FIELDS.items():
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        assert supported | ignored <= fields.keys(), model.__name__
        for name in supported:
            assert _models(fields[name].annotation) <= FIELDS.keys(), f"{model.__name__}.{name}"


async def test_kubernetes_only_fields_are_ignored(executor: LocalExecutor, tmp_path: Path) -> None:
    log = tmp_path / "log"
    template = step(
        "a",
        APPEND,
        str(log),
        "ok",
        nodeSelector={"kubernetes.io/arch": "amd64"},
        container={"resources": {"requests": {"cpu": "1"}}, "imagePullPolicy": "Always"},
    )
    doc = workflow(
        "k8s",
        [{"name": "a", "template": "a"}],
        template,
        serviceAccountName="sa",
        podGC={"strategy": "OnPodSuccess"},
        ttlStrategy={"secondsAfterCompletion": 5},
        tolerations=[{"key": "k", "operator": "Exists"}],
    )
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED
    assert log.read_text() == "ok\n"
