"""What only Argo's own controller can answer: retries of deleted pods, failures, which failures
are retried, fan-out, the exit handler and parallelism, run by the workflow-controller in
``tools/argo-harness``.

Every run here is the real controller's: the harness's process kubelet only runs the pods it
creates and reports their exit codes and outputs.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from clustercode.executors import NodeEvent, Phase, RunEvent
from clustercode.executors.argo import ArgoExecutor
from clustercode.jobs.workflows import argo_manifest
from pipelines.contract import EXIT_ENVIRONMENT
from pipelines.ffmpeg import ffmpeg_path
from pipelines.settings import EncodeSettings
from pipelines.workflow import RETRY_EXPRESSION
from tests.support.argo_executor import (
    NAMESPACE,
    TOKEN,
    Media,
    argo_settings,
    by_index,
    frame_count,
    make_job,
    make_media,
    missing,
    run_to_end,
    settings,
)
from tests.support.argo_harness import ArgoHarness, start_argo_harness

pytestmark = pytest.mark.timeout(300)

FRAMES = 100  # 10 s at 10 fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(
        tmp_path_factory.mktemp("argo-controller"), "testsrc2=size=96x54:rate=10:duration=10", 20
    )


@pytest.fixture(scope="module")
def harness(clip: Media) -> Iterator[ArgoHarness]:
    # No node capacity limit: how many pods run at once is Argo's parallelism alone.
    with start_argo_harness(
        token=TOKEN,
        claims={"cc-work": str(clip.work)},
        log_file=clip.work.parent / "argo-harness.log",
    ) as server:
        yield server


@pytest.fixture
async def executor(harness: ArgoHarness, clip: Media) -> AsyncIterator[ArgoExecutor]:
    ex = ArgoExecutor(argo_settings(harness, clip))
    yield ex
    await ex.close()


def framemd5(path: Path) -> list[str]:
    """The video frames' checksums (timestamps and sizes included), as ffmpeg computes them."""
    result = subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if not line.startswith("#")]


def slices(seconds: float) -> dict[str, Any]:
    return {"settings": EncodeSettings(video=("-c:v", "libx264"), slice_seconds=seconds).to_json()}


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["spec"]["templates"] if t["name"] == name)
    return found


def without_retries(doc: dict[str, Any], name: str) -> dict[str, Any]:
    del template(doc, name)["retryStrategy"]
    return doc


def left_for_a_retry(work: Path) -> bool:
    """Whether the exit handler of a failed or stopped run left at most the plan and the slices
    (what the next attempt of the job may reuse) in its work directory."""
    return missing(work) or {p.name for p in work.iterdir()} <= {"plan.json", "slices"}


async def test_deleted_slice_pod_is_retried_by_argo_and_output_is_frame_exact(
    executor: ArgoExecutor, harness: ArgoHarness, clip: Media
) -> None:
    calm = make_job(clip, "d1a000", source=str(clip.source), **slices(2.5))
    hit = make_job(clip, "d1a001", source=str(clip.source), **slices(2.5))
    names = [
        await executor.submit(argo_manifest(job, 1, settings(executor.settings, clip)))
        for job in (calm, hit)
    ]
    harness.delete_pod_when_running(NAMESPACE, names[1], task="encode", parameters={"index": "2"})
    (_, calm_end), (nodes, hit_end) = await asyncio.gather(
        *(run_to_end(executor, name) for name in names)
    )
    assert (calm_end.phase, hit_end.phase) == (Phase.SUCCEEDED, Phase.SUCCEEDED)
    attempts = [(e.attempt, e.phase, e.message) for e in by_index(nodes)[2] if e.phase.done]
    assert attempts == [(0, Phase.ERROR, "pod deleted"), (1, Phase.SUCCEEDED, "")]
    assert frame_count(Path(hit.output)) == FRAMES
    assert framemd5(Path(hit.output)) == framemd5(Path(calm.output))


async def test_without_retry_strategy_a_deleted_pod_fails_the_run(
    executor: ArgoExecutor, harness: ArgoHarness, clip: Media
) -> None:
    """The test above passes because of the template's retryStrategy, and only because of it."""
    job = make_job(clip, "d1a002", **slices(2.5))
    doc = without_retries(argo_manifest(job, 1, settings(executor.settings, clip)), "encode")
    name = await executor.submit(doc)
    harness.delete_pod_when_running(NAMESPACE, name, task="encode", parameters={"index": "2"})
    nodes, final = await run_to_end(executor, name)
    assert final.phase is Phase.ERROR or final.phase is Phase.FAILED
    assert final.message.startswith("encode(2:"), final.message
    assert final.message.endswith("pod deleted"), final.message
    assert [(e.attempt, e.phase) for e in by_index(nodes)[2]][-1] == (0, Phase.ERROR)
    assert missing(Path(job.output))


async def test_slice_failing_every_attempt_fails_the_run_with_argos_message_then_cleans_up(
    harness: ArgoHarness, clip: Media
) -> None:
    ex = ArgoExecutor(argo_settings(harness, clip, retry_limit=1))
    try:
        # An encoder that exists, with a profile it refuses: only the encode step finds out.
        video = ("-c:v", "libx264", "-profile:v", "no-such-profile")
        bad = EncodeSettings(video=video, slice_seconds=5.0).to_json()
        job = make_job(clip, "d1a003", settings=bad)
        doc = argo_manifest(job, 1, settings(ex.settings, clip))
        # Exit 1 is retried although the expression that spares exit 3 is there.
        assert template(doc, "encode")["retryStrategy"]["expression"] == RETRY_EXPRESSION
        name = await ex.submit(doc)
        nodes, final = await run_to_end(ex, name)
    finally:
        await ex.close()
    assert final.phase is Phase.FAILED
    # Argo's words: the attempt that failed last, its main container's exit.
    assert final.message.startswith("encode("), final.message
    assert final.message.endswith("main: Error (exit code 1)"), final.message
    encodes = [e for e in nodes if e.task == "encode" and e.phase.done]
    assert {(e.attempt, e.phase) for e in encodes} == {
        (0, Phase.FAILED),
        (1, Phase.FAILED),
    }
    assert not any(e.task == "merge" and e.phase in (Phase.RUNNING, Phase.SUCCEEDED) for e in nodes)
    # The exit handler ran after the failure: the job's work directory keeps only what a retry
    # may reuse (the plan and proven slices), no scratch files.
    assert [(e.task, e.phase) for e in nodes if e.task == "onExit"][-1] == (
        "onExit",
        Phase.SUCCEEDED,
    )
    assert left_for_a_retry(clip.work / job.id)
    assert missing(Path(job.output))


@pytest.mark.parametrize("expression", [True, False], ids=["expression", "no-expression"])
async def test_argo_does_not_retry_a_step_that_exits_3(
    harness: ArgoHarness, clip: Media, expression: bool
) -> None:
    """``split`` finds the encoder missing from ffmpeg and exits 3 (EXIT_ENVIRONMENT): Argo's
    controller evaluates the retryStrategy's expression and tries it once. Without the expression
    the same step is retried to the limit."""
    ex = ArgoExecutor(argo_settings(harness, clip, retry_limit=2))
    try:
        missing_encoder = EncodeSettings(video=("-c:v", "libnosuchcodec"), slice_seconds=5.0)
        job_id = "d1a006" if expression else "d1a007"
        job = make_job(clip, job_id, settings=missing_encoder.to_json())
        doc = argo_manifest(job, 1, settings(ex.settings, clip))
        if not expression:
            del template(doc, "split")["retryStrategy"]["expression"]
        name = await ex.submit(doc)
        nodes, final = await run_to_end(ex, name)
    finally:
        await ex.close()
    assert final.phase is Phase.FAILED
    assert final.message.endswith("main: Error (exit code 3)"), final.message
    splits = {
        (e.attempt, e.phase, e.exit_code) for e in nodes if e.task == "split" and e.phase.done
    }
    attempts = 1 if expression else 3
    assert splits == {(i, Phase.FAILED, EXIT_ENVIRONMENT) for i in range(attempts)}
    assert [(e.task, e.phase) for e in nodes if e.task == "onExit"][-1] == (
        "onExit",
        Phase.SUCCEEDED,
    )


async def test_exit_handler_runs_after_stop(
    executor: ArgoExecutor, harness: ArgoHarness, clip: Media
) -> None:
    job = make_job(clip, "d1a004", **slices(1.0))
    name = await executor.submit(argo_manifest(job, 1, settings(executor.settings, clip)))
    # Slice 3 runs on only when signalled: the run is certainly mid-way when it is stopped.
    harness.delete_pod_when_running(
        NAMESPACE, name, task="encode", parameters={"index": "3"}, hold=True
    )
    seen: list[NodeEvent] = []
    final: RunEvent | None = None
    cancelled = False
    async for event in executor.watch(name):
        if isinstance(event, NodeEvent):
            seen.append(event)
            if not cancelled and event.task == "encode" and event.phase is Phase.RUNNING:
                cancelled = True
                await executor.cancel(name)
        elif event.phase.done:
            final = event
            break
    assert final is not None
    assert (final.phase, final.message) == (Phase.FAILED, "Stopped with strategy 'Stop'")
    assert [e.phase for e in seen if e.task == "onExit"][-1] is Phase.SUCCEEDED
    assert left_for_a_retry(clip.work / job.id)
    assert missing(Path(job.output))


async def test_hundred_slices_fan_out_within_parallelism(harness: ArgoHarness, clip: Media) -> None:
    ex = ArgoExecutor(argo_settings(harness, clip, parallelism=3))
    try:
        job = make_job(clip, "d1a005", **slices(0.1))
        name = await ex.submit(argo_manifest(job, 1, settings(ex.settings, clip)))
        nodes, final = await run_to_end(ex, name)
    finally:
        await ex.close()
    assert final.phase is Phase.SUCCEEDED
    assert sorted(by_index(nodes)) == list(range(100))
    assert frame_count(Path(job.output)) == FRAMES
    # Measured by the kubelet: processes of the encode template running at once.
    encode = harness.stats(NAMESPACE, name)["encode"]
    assert encode["started"] == 100
    assert encode["max_running"] == 3
