"""ArgoExecutor against the Argo harness (Argo's own workflow-controller behind argo-server's REST
API, over loopback HTTP), real steps, real ffmpeg on a small generated clip: a run watched to
success and replayed, a killed slice retried, cancel, stop escalating to terminate, and listing
runs by label across pages.

The ``media``, ``sim`` and ``executor`` fixtures live in the integration conftest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from clustercode.executors import Executor, NodeEvent, Phase, RunEvent
from clustercode.executors import argo as argo_module
from clustercode.executors.argo import ArgoExecutor
from clustercode.jobs.workflows import argo_manifest
from tests.support.argo_executor import (
    NAMESPACE,
    TOKEN,
    Media,
    argo_settings,
    by_index,
    frame_count,
    make_job,
    missing,
    run_to_end,
    settings,
)
from tests.support.argo_harness import ArgoHarness

FRAMES = 100  # 4 s at 25 fps


async def raw(sim: ArgoHarness, name: str) -> dict[str, Any]:
    """The Workflow as argo-server answers it."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = await client.get(f"{sim.url}/api/v1/workflows/{NAMESPACE}/{name}")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


async def kill_when_running(sim: ArgoHarness, name: str, **rule: Any) -> None:
    """Harness hook: delete the matching attempt's pod while its process runs (``hold=True``:
    only freeze the process until the pod is signalled)."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = await client.put(
            f"{sim.url}/harness/v1/workflows/{NAMESPACE}/{name}/delete-pod", json=rule
        )
    response.raise_for_status()


async def test_submit_watch_to_success_then_replay(
    executor: ArgoExecutor, sim: ArgoHarness, media: Media
) -> None:
    assert isinstance(executor, Executor)
    job = make_job(media, "a1b2c3")
    doc = argo_manifest(job, 1, settings(executor.settings, media))
    assert await executor.submit(doc) == "cc-a1b2c3-1"
    assert await executor.submit(doc) == "cc-a1b2c3-1"  # already there: not submitted again
    nodes, final = await run_to_end(executor, "cc-a1b2c3-1")
    assert (final.phase, final.message) == (Phase.SUCCEEDED, "")

    split = [n for n in nodes if n.task == "split" and n.phase is Phase.SUCCEEDED]
    plan = json.loads(split[0].outputs["slices"])
    assert [s["index"] for s in plan] == [0, 1, 2, 3]
    assert sum(s["frames"] for s in plan) == FRAMES
    slices = by_index(nodes)
    assert sorted(slices) == [0, 1, 2, 3]
    for item in plan:
        last = slices[item["index"]][-1]
        assert (last.phase, last.attempt) == (Phase.SUCCEEDED, 0)
        assert last.progress == (item["frames"], item["frames"])
        assert last.template == "encode"
    merge = next(n for n in nodes if n.task == "merge" and n.phase is Phase.SUCCEEDED)
    result = json.loads(merge.outputs["result"])
    assert result["output"] == job.output
    assert frame_count(Path(job.output)) == FRAMES
    assert missing(media.work / job.id)  # the exit handler cleaned up

    # A second submit after the end is still a no-op: one workflow, created once.
    uid = (await raw(sim, "cc-a1b2c3-1"))["metadata"]["uid"]
    await executor.submit(doc)
    assert (await raw(sim, "cc-a1b2c3-1"))["metadata"]["uid"] == uid
    runs = await executor.list_runs({"clustercode.io/job-id": job.id})
    assert [(r.run_id, r.phase) for r in runs] == [("cc-a1b2c3-1", Phase.SUCCEEDED)]

    # A restarted control service follows the finished run: its nodes, then the final event.
    fresh = ArgoExecutor(executor.settings)
    try:
        replay = [event async for event in fresh.watch("cc-a1b2c3-1")]
    finally:
        await fresh.close()
    assert isinstance(replay[-1], RunEvent)
    assert replay[-1].phase is Phase.SUCCEEDED
    replayed = [e for e in replay if isinstance(e, NodeEvent)]
    assert len(replayed) == len(replay) - 1
    assert replayed[0].task == "split"
    assert [e.task for e in replayed][-2:] == ["merge", "onExit"]
    assert replayed[-2].outputs == merge.outputs
    assert {e.node_id: e for e in replayed} == {e.node_id: e for e in nodes}


async def test_killed_slice_is_retried_the_argo_way(
    executor: ArgoExecutor, sim: ArgoHarness, media: Media
) -> None:
    job = make_job(media, "b2c3d4")
    name = await executor.submit(argo_manifest(job, 1, settings(executor.settings, media)))
    # Slice 1's first attempt dies as a deleted pod does.
    await kill_when_running(sim, name, task="encode", attempt=0, parameters={"index": "1"})
    nodes, final = await run_to_end(executor, name)
    assert final.phase is Phase.SUCCEEDED

    attempts = by_index(nodes)[1]
    first = [e for e in attempts if e.attempt == 0][-1]
    second = [e for e in attempts if e.attempt == 1][-1]
    # Argo's own verdict on a pod deleted while it ran, then its retry.
    assert (first.phase, first.message) == (Phase.ERROR, "pod deleted")
    assert second.phase is Phase.SUCCEEDED
    assert first.node_id != second.node_id
    assert all(e.attempt == 0 for i, events in by_index(nodes).items() if i != 1 for e in events)

    status = (await raw(sim, name))["status"]
    retry = [
        n
        for n in status["nodes"].values()
        if n["type"] == "Retry" and n["displayName"].startswith("encode(1:")
    ]
    assert len(retry) == 1
    children = [status["nodes"][c] for c in retry[0]["children"]]
    assert [(c["type"], c["phase"]) for c in children] == [
        ("Pod", "Error"),
        ("Pod", "Succeeded"),
    ]
    assert retry[0]["phase"] == "Succeeded"
    assert frame_count(Path(job.output)) == FRAMES


async def test_cancel_stops_the_run_and_leaves_no_output(
    executor: ArgoExecutor, sim: ArgoHarness, media: Media
) -> None:
    job = make_job(media, "c3d4e5")
    name = await executor.submit(argo_manifest(job, 1, settings(executor.settings, media)))
    # Slice 0 runs on only when signalled, so the run is certainly mid-way when it is cancelled.
    await kill_when_running(sim, name, task="encode", parameters={"index": "0"}, hold=True)
    final: RunEvent | None = None
    cancelled = False
    async for event in executor.watch(name):
        running = isinstance(event, NodeEvent) and event.phase is Phase.RUNNING
        if running and isinstance(event, NodeEvent) and event.task == "encode" and not cancelled:
            cancelled = True
            await executor.cancel(name)
        if isinstance(event, RunEvent) and event.phase.done:
            final = event
    assert final is not None
    assert (final.phase, final.message) == (Phase.FAILED, "Stopped with strategy 'Stop'")
    assert (await raw(sim, name))["spec"]["shutdown"] == "Stop"
    assert missing(Path(job.output))
    # Stop still runs the exit handler: it keeps only the plan and proven slices for a retry.
    left = (
        {p.name for p in (media.work / job.id).iterdir()}
        if (media.work / job.id).exists()
        else set()
    )
    assert left <= {"plan.json", "slices"}
    await executor.cancel(name)  # finished: nothing to do


def slow_exit_workflow(name: str) -> dict[str, Any]:
    """A step that runs for a minute and an exit handler that takes two seconds."""

    def sleeper(template: str, seconds: float) -> dict[str, Any]:
        code = f"import time; time.sleep({seconds})"
        return {
            "name": template,
            "container": {"image": "python", "command": [sys.executable, "-c", code]},
        }

    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "labels": {"clustercode.io/job-id": "0e5c"}},
        "spec": {
            "entrypoint": "main",
            "onExit": "slow-exit",
            "templates": [
                sleeper("long", 60),
                sleeper("slow-exit", 2),
                {"name": "main", "dag": {"tasks": [{"name": "long", "template": "long"}]}},
            ],
        },
    }  # fmt: skip


async def test_stop_escalates_to_terminate_after_the_grace(sim: ArgoHarness, media: Media) -> None:
    ex = ArgoExecutor(argo_settings(sim, media, stop_grace_seconds=0.5))
    try:
        name = await ex.submit(slow_exit_workflow("cc-0e5c-1"))
        async for event in ex.watch(name):
            running = isinstance(event, NodeEvent) and event.phase is Phase.RUNNING
            if running and isinstance(event, NodeEvent) and event.task == "long":
                await ex.cancel(name)
        document = await raw(sim, name)
    finally:
        await ex.close()
    # Stop let the exit handler start; it outlived the grace, so the run was terminated.
    assert document["spec"]["shutdown"] == "Terminate"
    assert document["status"]["phase"] == "Failed"
    assert document["status"]["message"] == "Stopped with strategy 'Terminate'"


async def test_list_runs_by_label_across_pages(
    executor: ArgoExecutor,
    sim: ArgoHarness,
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = ArgoExecutor(argo_settings(sim, media, retry_limit=0))
    try:
        names = []
        for job_id in ("e5f6a7", "f6a7b8"):
            # No such source: split fails at once, and with no retries the run fails.
            job = make_job(media, job_id, source=str(media.library / "show" / "gone.mkv"))
            names.append(
                await failing.submit(argo_manifest(job, 1, settings(failing.settings, media)))
            )
        for name in names:
            _, final = await run_to_end(failing, name)
            assert final.phase is Phase.FAILED
            # Argo's words for the attempt that failed the run.
            assert final.message.startswith("split(0): main: Error (exit code 1)"), final.message
    finally:
        await failing.close()
    only = await executor.list_runs({"clustercode.io/job-id": "e5f6a7"})
    assert [(r.run_id, r.phase, r.labels["clustercode.io/attempt"]) for r in only] == [
        ("cc-e5f6a7-1", Phase.FAILED, "1")
    ]
    everything = {r.run_id for r in await executor.list_runs({})}
    assert set(names) <= everything
    monkeypatch.setattr(argo_module, "_PAGE", 1)
    assert {r.run_id for r in await executor.list_runs({})} == everything
    assert await executor.list_runs({"clustercode.io/job-id": "0000"}) == []
