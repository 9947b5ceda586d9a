"""Which Workflow fields the local executor runs, and hera's models as the manifest's reader.

A manifest is validated by hera's generated models (Argo's own schema). Each field it sets is then
supported, ignored because it only matters to Kubernetes (images, resources, scheduling, pod GC),
or refused with a :class:`ManifestError` naming the field. A validation error names its field the
same way; errors inside an ignored field do not count, since the local executor never reads it.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, Union, get_args, get_origin

from hera.workflows import models as m
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from clustercode.errors import ManifestError

T = TypeVar("T")

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
# The fields that make a template's kind; the local executor runs two of them.
TEMPLATE_KINDS = frozenset(
    {"container", "containerSet", "dag", "data", "http", "plugin", "resource", "script", "steps",
     "suspend"}
)  # fmt: skip

CONTAINER_TEMPLATE = frozenset(
    {"name", "inputs", "outputs", "retryStrategy", "activeDeadlineSeconds", "container"}
)
DAG_TEMPLATE = frozenset({"name", "inputs", "dag", "parallelism"})
_SPEC = {
    "entrypoint", "templates", "arguments", "onExit", "parallelism", "activeDeadlineSeconds",
    "volumes",
}  # fmt: skip
_DAG_TASK = {
    "name", "template", "arguments", "dependencies", "depends", "withParam", "withItems",
}  # fmt: skip
INPUT_PARAMETER = frozenset({"name", "value", "default", "description"})
OUTPUT_PARAMETER = frozenset({"name", "valueFrom", "description"})

# Per model, by manifest (alias) name: (supported, ignored). Where a model serves several places
# (a template, a parameter), this is the union; the reader narrows it per place.
FIELDS: Mapping[type[BaseModel], tuple[frozenset[str], frozenset[str]]] = {
    model: (frozenset(supported), frozenset(ignored))
    for model, supported, ignored in (
        (m.Workflow, {"apiVersion", "kind", "metadata", "spec"}, ()),
        (m.ObjectMeta, {"name", "namespace", "labels", "annotations"}, ()),
        (m.WorkflowSpec, _SPEC, _K8S_SPEC),
        (m.Arguments, {"parameters"}, ()),
        (m.Inputs, {"parameters"}, ()),
        (m.Outputs, {"parameters"}, ()),
        (m.Parameter, INPUT_PARAMETER | OUTPUT_PARAMETER, ()),
        (m.ValueFrom, {"path", "default"}, ()),
        (m.Volume, {"name", "hostPath"}, ()),
        (m.HostPathVolumeSource, {"path", "type"}, ()),
        (m.Template, CONTAINER_TEMPLATE | DAG_TEMPLATE, _K8S_TEMPLATE),
        (m.Container, {"command", "args", "env", "workingDir", "volumeMounts"}, _K8S_CONTAINER),
        (m.EnvVar, {"name", "value"}, ()),
        (m.VolumeMount, {"name", "mountPath", "readOnly"}, ()),
        (m.RetryStrategy, {"limit", "retryPolicy", "backoff", "expression"}, {"affinity"}),
        (m.Backoff, {"duration", "factor", "cap", "maxDuration"}, ()),
        (m.DAGTemplate, {"tasks", "failFast"}, ()),
        (m.DAGTask, _DAG_TASK, ()),
    )
}

_EXPECTED = {
    "missing": "required",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "dict_type": "expected an object",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def unsupported(where: str, field: str, model: type[BaseModel] | None = None) -> ManifestError:
    """The error for ``field`` of the object at ``where``, which the local executor refuses."""
    path = f"{where}.{field}" if where else field
    hint = " (templates must be container or dag)"
    return ManifestError(
        f"manifest field {path} is not supported by the local executor"
        + (hint if model is m.Template and field in TEMPLATE_KINDS else "")
    )


def first_refused(obj: BaseModel, supported: frozenset[str] | None = None) -> str | None:
    """The manifest name of the first field ``obj`` sets that is neither supported nor ignored.

    ``supported`` narrows the model's own list for one place; a field set to null is absent.
    """
    allowed, ignored = FIELDS[type(obj)]
    allowed = allowed if supported is None else supported
    for name, field in type(obj).model_fields.items():
        alias = field.alias or name
        is_set = name in obj.model_fields_set and getattr(obj, name) is not None
        if is_set and alias not in allowed and alias not in ignored:
            return alias
    return None


def check_fields(obj: BaseModel, where: str, supported: frozenset[str] | None = None) -> None:
    """Refuse the first field of ``obj`` (at ``where``) the local executor does not run.

    Raises:
        ManifestError: naming the field.
    """
    field = first_refused(obj, supported)
    if field is not None:
        raise unsupported(where, field, type(obj))


def required(value: T | None, where: str) -> T:
    """``value``, which Argo may leave out but the local executor needs.

    Raises:
        ManifestError: ``value`` is missing.
    """
    if value is None:
        raise ManifestError(f"manifest field {where}: required")
    return value


def read_workflow(manifest: Any) -> m.Workflow:
    """``manifest`` as hera's Workflow model, keys by their Argo names only, no unknown keys.

    Raises:
        ManifestError: naming the first field that is invalid or refused.
    """
    doc = manifest
    while True:
        try:
            return m.Workflow.model_validate(doc, extra="forbid", by_alias=True, by_name=False)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
        ignored: dict[tuple[int | str, ...], None] = {}  # an ordered set
        for error in errors:
            loc = error["loc"]
            _, refused = _walk(loc)
            if refused is None:
                continue
            end, is_ignored, model = refused
            if not is_ignored:
                raise unsupported(_path(loc[: end - 1], manifest), str(loc[end - 1]), model)
            ignored[loc[:end]] = None
        if doc is manifest:
            doc = copy.deepcopy(manifest)
        if not ignored or not all(_delete(doc, loc) for loc in ignored):
            raise _invalid(errors, manifest)


def _invalid(errors: Sequence[ErrorDetails], manifest: Any) -> ManifestError:
    """The first error as one line; a value that fits no member of a union lists each member."""
    first = _path(errors[0]["loc"][: _walk(errors[0]["loc"])[0]], manifest)
    expected = []
    for error in errors:
        if _path(error["loc"][: _walk(error["loc"])[0]], manifest) == first:
            text = _EXPECTED.get(error["type"], error["msg"][:1].lower() + error["msg"][1:])
            if text not in expected:
                expected.append(text)
    rest = [text.removeprefix("expected ") for text in expected[1:]]
    return ManifestError(f"manifest field {first}: {' or '.join([expected[0], *rest])}")


def _walk(
    loc: tuple[int | str, ...],
) -> tuple[int, tuple[int, bool, type[BaseModel]] | None]:
    """Follow an error's ``loc`` through the models.

    Returns:
        How many parts of ``loc`` are manifest fields, list positions and map keys (the rest name
        union members), and the first field that is not supported: where it ends in ``loc``,
        whether it is ignored, and the model it belongs to.
    """
    model: Any = m.Workflow
    i = 0
    while i < len(loc) and model in FIELDS:
        supported, ignored = FIELDS[model]
        name = loc[i]
        if name not in supported:
            return i + 1, (i + 1, name in ignored, model)
        field = next(f for n, f in model.model_fields.items() if (f.alias or n) == name)
        annotation, i = field.annotation, i + 1
        while True:
            args = [a for a in get_args(annotation) if a is not type(None)]
            if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
                annotation = args[0]
            elif get_origin(annotation) in (list, dict) and i < len(loc):
                annotation, i = args[-1], i + 1
            else:
                break
        model = annotation
    return i, None


def _path(loc: Sequence[int | str], manifest: Any) -> str:
    """``loc`` as ``spec.templates[2] (main).dag``: a template is named as well as numbered."""
    text = ""
    for n, part in enumerate(loc):
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
        if n == 2 and tuple(loc[:2]) == ("spec", "templates"):
            try:
                name = manifest["spec"]["templates"][part]["name"]
            except (LookupError, TypeError):
                name = None
            if isinstance(name, str):
                text += f" ({name})"
    return text or "(manifest)"


def _delete(doc: Any, loc: tuple[int | str, ...]) -> bool:
    """Remove the field at ``loc`` from ``doc``; whether it was there."""
    try:
        for part in loc[:-1]:
            doc = doc[part]
        del doc[loc[-1]]
    except (LookupError, TypeError):
        return False
    return True
