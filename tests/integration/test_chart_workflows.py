"""The Helm chart's rendered config fed to ``clustercode render``: the Workflows it yields use
the chart's namespace, service account, volumes, images and (for the variant) arm64 node
selectors.

The ``defaults``, ``variant`` and ``clean_env`` fixtures live in the integration conftest."""

from __future__ import annotations

from pathlib import Path

from tests.support.chart import (
    NAMESPACE,
    RELEASE,
    Manifest,
    chart_config,
    render_workflow,
    write_profiles,
)


def _pod_volumes(workflow: Manifest) -> dict[str, Manifest]:
    return {v["name"]: v for v in workflow["spec"]["volumes"]}


def test_default_config_renders_a_workflow_on_the_charts_objects(
    defaults: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    full = f"{RELEASE}-clustercode"
    config, _ = chart_config(defaults, tmp_path, full)
    workflow = render_workflow(config, tmp_path, 0)
    assert workflow["metadata"]["namespace"] == NAMESPACE
    assert workflow["spec"]["serviceAccountName"] == f"{full}-workflow"
    assert {n: v["persistentVolumeClaim"]["claimName"] for n, v in
            _pod_volumes(workflow).items() if "persistentVolumeClaim" in v} == {
        "library-0": f"{full}-library-0", "output": f"{full}-output", "work": f"{full}-work"
    }  # fmt: skip
    assert _pod_volumes(workflow)["scratch-0"] == {"name": "scratch-0", "emptyDir": {}}
    images = {t["container"]["image"] for t in workflow["spec"]["templates"] if "container" in t}
    assert images == {"clustercode:0.1.0"}


def test_variant_config_renders_arm64_workflows(
    variant: list[Manifest], tmp_path: Path, clean_env: None
) -> None:
    config, _ = chart_config(variant, tmp_path, "cc")
    profiles = write_profiles(variant, tmp_path, "cc")
    workflow = render_workflow(config, tmp_path, 1, profiles)  # a file of the hostPath library
    spec = workflow["spec"]
    assert workflow["metadata"]["annotations"]["clustercode.io/profile"] == "pi-h264"
    assert workflow["metadata"]["namespace"] == "workflows"
    assert spec["serviceAccountName"] == "argo-runner"
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64", "clustercode.io/pool": "pi"}
    volumes = _pod_volumes(workflow)
    assert volumes["library-1"]["hostPath"]["path"] == "/mnt/nas/shows"
    assert volumes["output"]["persistentVolumeClaim"]["claimName"] == "transcoded"
    assert volumes["work"]["persistentVolumeClaim"]["claimName"] == "scratch"
    # A template with a selector of its own replaces the workflow's: the arch must be repeated.
    for template in spec["templates"]:
        selector = template.get("nodeSelector")
        if selector is not None:
            assert selector["kubernetes.io/arch"] == "arm64", template["name"]
