"""Every pod Argo's controller creates for a Workflow of the chart's default configuration passes
Pod Security "restricted", checked by the upstream pod-security-admission code in
``tools/argo-harness`` (see docs/argo.md)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.ffmpeg import ffmpeg_path
from tests.support.argo_harness import start_argo_harness
from tests.support.chart import NAMESPACE, RELEASE, chart_config, render_chart, render_workflow


def _wait_done(url: str, name: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workflow: dict[str, Any] = httpx.get(
            f"{url}/api/v1/workflows/{NAMESPACE}/{name}", timeout=10
        ).json()
        if workflow.get("status", {}).get("phase") in ("Succeeded", "Failed", "Error"):
            return workflow
        time.sleep(0.5)
    raise AssertionError(f"workflow {name} did not finish within {timeout:g} s")


def test_every_pod_of_a_default_chart_workflow_is_restricted(
    helm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("CLUSTERCODE_")]:
        if name != "CLUSTERCODE_FFMPEG":  # which ffmpeg the steps run is the caller's choice
            monkeypatch.delenv(name)
    full = f"{RELEASE}-clustercode"
    config, _ = chart_config(render_chart(helm, tmp_path), tmp_path, full)
    workflow = render_workflow(config, tmp_path, 0)
    # render only fingerprints the source; the pods need a real video there.
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=96x54:rate=10:duration=3", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", str(tmp_path / "lib0" / "film.mkv")],
        check=True, timeout=60,
    )  # fmt: skip
    for directory in ("out", "work"):
        (tmp_path / directory).mkdir(exist_ok=True)
    claims = {
        f"{full}-library-0": str(tmp_path / "lib0"),
        f"{full}-output": str(tmp_path / "out"),
        f"{full}-work": str(tmp_path / "work"),
    }
    name = workflow["metadata"]["name"]
    with start_argo_harness(claims=claims, log_file=tmp_path / "argo-harness.log") as harness:
        created = httpx.post(
            f"{harness.url}/api/v1/workflows/{NAMESPACE}", json={"workflow": workflow}, timeout=10
        )
        assert created.status_code == 200, created.text
        done = _wait_done(harness.url, name)
        pods = harness.pods(NAMESPACE, name)
    assert done["status"]["phase"] == "Succeeded", done["status"].get("message")
    assert {p["template"] for p in pods} >= {"split", "encode", "merge", "cleanup"}
    assert [(p["name"], p["violations"]) for p in pods if not p["allowed"]] == []
    assert all(p["allowed"] for p in pods) and len(pods) >= 4
