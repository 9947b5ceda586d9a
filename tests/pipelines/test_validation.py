"""Every generated Workflow variant passes the Argo JSON schema and Argo's own validator.

The validator is ``tools/argo-validate`` (``make validator``); without it these tests skip, or
fail under ``CLUSTERCODE_REQUIRE_TOOLS=1`` as in CI.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipelines.workflow import manifest, render_yaml
from tests.conftest import REQUIRE_TOOLS
from tests.pipelines.variants import base, variants

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tools" / "argo-schema" / "workflow-schema-v4.1.2.json"
VALIDATOR = ROOT / "tools" / "argo-validate" / "argo-validate"


@cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    definitions = schema["definitions"]
    # The schema calls IntOrString a string; Argo accepts both (retryStrategy.limit is an int).
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return jsonschema.Draft202012Validator(
        {"definitions": definitions, "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow"}
    )


def _schema_errors(doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in _schema_validator().iter_errors(doc)
    ]


@pytest.fixture(scope="module")
def validator() -> Path:
    if VALIDATOR.is_file():
        return VALIDATOR
    message = f"{VALIDATOR} is not built (make validator)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def _argo_validate(validator: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(validator), *map(str, files)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("name", sorted(variants()))
def test_variant_matches_the_json_schema(name: str) -> None:
    assert _schema_errors(manifest(variants()[name])) == []


def test_schema_catches_a_type_error() -> None:
    doc = copy.deepcopy(manifest(base()))
    doc["spec"]["templates"][0]["retryStrategy"]["limit"] = {"times": 3}
    doc["spec"]["parallelism"] = "eight"
    errors = _schema_errors(doc)
    assert any(e.startswith("spec/templates/0/retryStrategy/limit") for e in errors), errors
    assert any(e.startswith("spec/parallelism") for e in errors), errors


def test_every_variant_passes_argos_validator(validator: Path, tmp_path: Path) -> None:
    files = []
    for name, spec in sorted(variants().items()):
        # Both encodings argo-server accepts: YAML as rendered, JSON as submitted.
        yaml_file = tmp_path / f"{name}.yaml"
        yaml_file.write_text(render_yaml(spec))
        json_file = tmp_path / f"{name}.json"
        json_file.write_text(json.dumps(manifest(spec)))
        files += [yaml_file, json_file]
    result = _argo_validate(validator, *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{f}: ok" for f in files]


def _bad_dependency(doc: dict[str, Any]) -> None:
    doc["spec"]["templates"][-1]["dag"]["tasks"][1]["depends"] = "splitt"


def _misspelled_key(doc: dict[str, Any]) -> None:
    doc["spec"]["templates"][0]["retryStrategy"]["retryPolicyy"] = "Always"


def _missing_exit_handler(doc: dict[str, Any]) -> None:
    doc["spec"]["onExit"] = "cleanupp"


def _unresolved_parameter(doc: dict[str, Any]) -> None:
    doc["spec"]["templates"][1]["container"]["args"].append("{{inputs.parameters.nope}}")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_bad_dependency, "invalid dependency splitt"),
        (_misspelled_key, 'unknown field "spec.templates[0].retryStrategy.retryPolicyy"'),
        (_missing_exit_handler, "cleanupp"),
        (_unresolved_parameter, "inputs.parameters.nope"),
    ],
)
def test_argos_validator_rejects_broken_manifests(
    validator: Path, tmp_path: Path, breakage: Callable[[dict[str, Any]], None], message: str
) -> None:
    doc = copy.deepcopy(manifest(base()))
    breakage(doc)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = _argo_validate(validator, path)
    assert result.returncode == 1
    assert message in result.stderr
