"""Pieces of the simulated argo-server: volume paths to host paths, label selectors, node names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clustercode.config.argo import ArgoSettings
from clustercode.config.settings import Settings
from clustercode.jobs.workflows import argo_manifest
from clustercode.models import Job
from pipelines.settings import EncodeSettings
from tests.support.argosim._rewrite import VolumeError, host_manifest
from tests.support.argosim._status import item_label, node_id
from tests.support.argosim._store import ApiError, parse_selector


def manifest(**argo: Any) -> dict[str, Any]:
    settings = Settings(
        libraries=[Path("/srv/lib")],
        output=Path("/srv/out"),
        work_dir=Path("/srv/work"),
        argo=ArgoSettings(**argo),
    )
    job = Job(
        id="0c0ffee",
        source="/srv/lib/dir/a.mkv",
        fingerprint="f",
        profile="h264",
        profile_hash="h",
        output="/srv/out/dir/a.mkv",
        root="/srv/lib",
        settings=EncodeSettings(video=("-c:v", "libx264")).to_json(),
    )
    return argo_manifest(job, 1, settings)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def test_mounted_paths_become_the_directories_behind_the_volumes() -> None:
    doc = host_manifest(
        manifest(work_volume={"claim": "work"}, output_volume={"host_path": "/mnt/out"}),
        {"work": "/tmp/sim/work"},
    )
    templates = by_name(doc)
    merge = templates["merge"]["container"]
    args = merge["args"]
    assert args[args.index("--source") + 1] == "/srv/lib/dir/a.mkv"
    assert args[args.index("--output") + 1] == "/mnt/out/dir/a.mkv"
    assert args[args.index("--work") + 1] == "/tmp/sim/work/0c0ffee"
    assert args[args.index("--result-out") + 1] == "/tmp/sim/work/0c0ffee/result.json"
    split = templates["split"]
    assert split["outputs"]["parameters"][0]["valueFrom"]["path"] == (
        "/tmp/sim/work/0c0ffee/slices.json"
    )
    assert "volumes" not in doc["spec"]
    assert all("volumeMounts" not in t.get("container", {}) for t in templates.values())
    # The submitted document is left as it was.
    assert "volumes" in manifest(work_volume={"claim": "work"})["spec"]


def test_a_claim_without_a_directory_is_refused() -> None:
    with pytest.raises(VolumeError, match="start it with --volume media=DIR"):
        host_manifest(manifest(library_volumes=[{"claim": "media"}]), {})


def test_label_selectors() -> None:
    labels = {"app.kubernetes.io/managed-by": "clustercode", "clustercode.io/job-id": "ab"}
    matches = {
        selector: all(t.matches(labels) for t in parse_selector(selector))
        for selector in (
            "app.kubernetes.io/managed-by=clustercode,clustercode.io/job-id=ab",
            "clustercode.io/job-id==ab",
            "clustercode.io/job-id!=ab",
            "clustercode.io/job-id",
            "!clustercode.io/job-id",
            "clustercode.io/attempt",
            "",
        )
    }
    assert [selector for selector, matched in matches.items() if matched] == [
        "app.kubernetes.io/managed-by=clustercode,clustercode.io/job-id=ab",
        "clustercode.io/job-id==ab",
        "clustercode.io/job-id",
        "",
    ]
    with pytest.raises(ApiError) as refused:
        parse_selector("env in (a, b)")
    assert refused.value.status == 400


def test_node_names_as_argo_writes_them() -> None:
    assert item_label({"index": 3, "frames": 48, "seek": 1.5}) == "frames:48,index:3,seek:1.5"
    assert (item_label(True), item_label("x"), item_label(7)) == ("true", "x", "7")
    assert node_id("cc-a-1", "cc-a-1") == "cc-a-1"
    first = node_id("cc-a-1", "cc-a-1.encode(0:index:0)(0)")
    assert first == node_id("cc-a-1", "cc-a-1.encode(0:index:0)(0)")
    assert first != node_id("cc-a-1", "cc-a-1.encode(0:index:0)(1)")
    assert first.startswith("cc-a-1-") and first.removeprefix("cc-a-1-").isdigit()
