"""The real transcode Workflow, as the builder makes it, run end to end by the LocalExecutor.

The steps are the real step programs on a small generated H.264 clip; video is encoded
losslessly so the output must decode to exactly the source's frames.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clustercode.executors import NodeEvent, Phase, RunEvent
from clustercode.executors.local import LocalExecutor
from pipelines.contract import EXIT_ENVIRONMENT
from pipelines.ffmpeg import FFmpegNotFoundError, ffmpeg_path
from pipelines.settings import EncodeSettings
from pipelines.workflow import WorkflowSpec, manifest
from tests.conftest import REQUIRE_TOOLS

pytestmark = pytest.mark.timeout(300)

SOURCE_FRAMES = 100  # 4 s at 25 fps
FFV1 = ("-c:v", "ffv1")
# Lossless too, and slow enough (about 60 fps on one core) that a slice is seen mid-way.
X264_LOSSLESS_SLOW = ("-c:v", "libx264", "-preset", "placebo", "-qp", "0")


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    try:
        return ffmpeg_path()
    except FFmpegNotFoundError as exc:
        if REQUIRE_TOOLS:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def clip(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 320x180 H.264 (B-frames, a keyframe a second) with a sine tone in AAC."""
    path = tmp_path_factory.mktemp("clip") / "source.mkv"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25:duration=4", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
         "-x264-params", "bframes=3:keyint=25", "-c:a", "aac", str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


def frame_hashes(ffmpeg: str, path: Path) -> list[str]:
    """MD5 of every decoded frame of the first video stream."""
    done = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-fps_mode", "passthrough", "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in done.stdout.splitlines() if line[:1] != "#"]


def spec_for(
    name: str, clip: Path, tmp: Path, ffmpeg: str, settings: EncodeSettings
) -> WorkflowSpec:
    (tmp / "out").mkdir()
    return WorkflowSpec(
        job_id=name,
        name=name,
        source=str(clip),
        output=str(tmp / "out" / "source.mkv"),
        work_dir=str(tmp / "work"),
        settings=settings,
        step_command=(sys.executable, "-m", "pipelines.steps"),
        parallelism=2,
        retry_backoff="100ms",
        pod_gc=None,
        env={"CLUSTERCODE_FFMPEG": ffmpeg},
    )


@pytest.fixture
async def executor() -> AsyncIterator[LocalExecutor]:
    ex = LocalExecutor(max_parallel=2, poll_interval=0.05, kill_grace=2.0)
    yield ex
    await ex.close()


async def run_to_end(
    executor: LocalExecutor, spec: WorkflowSpec
) -> tuple[list[NodeEvent], RunEvent]:
    """Run the Workflow of ``spec``: every node event, and the run's last event."""
    run_id = await executor.submit(manifest(spec))
    nodes: list[NodeEvent] = []
    async for event in executor.watch(run_id):
        if isinstance(event, NodeEvent):
            nodes.append(event)
        else:
            end = event
    return nodes, end


def last_events(events: list[NodeEvent]) -> dict[str, NodeEvent]:
    return {e.node_id: e for e in events}


@pytest.mark.parametrize("audio", [None, ("-c:a", "libopus", "-b:a", "64k")], ids=["copy", "opus"])
async def test_real_workflow_runs_end_to_end(
    executor: LocalExecutor, clip: Path, ffmpeg: str, tmp_path: Path, audio: tuple[str, ...] | None
) -> None:
    settings = EncodeSettings(video=FFV1, audio=audio, slice_seconds=1.0)
    spec = spec_for("e2e", clip, tmp_path, ffmpeg, settings)
    nodes, end = await run_to_end(executor, spec)
    assert end == RunEvent(run_id="e2e", phase=Phase.SUCCEEDED), end
    last = last_events(nodes)
    slices = json.loads(last["split(0)"].outputs["slices"])
    assert len(slices) == 4
    assert sum(int(s["frames"]) for s in slices) == SOURCE_FRAMES
    encodes = [e for e in last.values() if e.task == "encode"]
    assert all(e.phase is Phase.SUCCEEDED for e in encodes)
    assert sorted(int(e.parameters["index"]) for e in encodes) == list(range(4))
    assert sum(e.progress[1] for e in encodes if e.progress) == SOURCE_FRAMES
    assert ("audio(0)" in last) == (audio is not None)
    assert json.loads(last["merge(0)"].outputs["result"])
    assert last["onExit(0)"].phase is Phase.SUCCEEDED
    assert not (tmp_path / "work").exists()  # the exit handler removed it
    output = Path(spec.output)
    assert frame_hashes(ffmpeg, output) == frame_hashes(ffmpeg, clip)
    assert len(frame_hashes(ffmpeg, output)) == SOURCE_FRAMES
    assert os.listdir(output.parent) == ["source.mkv"]


async def test_slice_encoder_killed_mid_slice_is_retried_and_output_is_exact(
    executor: LocalExecutor, clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    settings = EncodeSettings(video=X264_LOSSLESS_SLOW, slice_seconds=2.0)
    run_id = await executor.submit(manifest(spec_for("kill", clip, tmp_path, ffmpeg, settings)))
    killed: NodeEvent | None = None
    nodes: list[NodeEvent] = []
    async for event in executor.watch(run_id):
        if isinstance(event, RunEvent):
            end = event
            continue
        nodes.append(event)
        mid_slice = event.progress is not None and 0 < event.progress[0] < event.progress[1]
        if killed is None and event.task == "encode" and event.phase is Phase.RUNNING and mid_slice:
            pid = executor.running_pids(run_id)[event.node_id]
            # The step and its ffmpeg share the process group, as in a pod.
            os.killpg(pid, signal.SIGKILL)
            killed = event
    assert killed is not None, "no encode was seen mid-slice"
    assert end.phase is Phase.SUCCEEDED, end.message
    last = last_events(nodes)
    assert last[killed.node_id].phase is Phase.FAILED
    assert last[killed.node_id].message == "killed by SIGKILL"
    retry_id = killed.node_id.removesuffix("(0)") + "(1)"
    assert last[retry_id].phase is Phase.SUCCEEDED
    assert last[retry_id].attempt == 1
    assert last[retry_id].parameters == killed.parameters
    output = Path(tmp_path / "out" / "source.mkv")
    assert frame_hashes(ffmpeg, output) == frame_hashes(ffmpeg, clip)


async def test_a_step_that_blames_the_environment_is_not_retried(
    executor: LocalExecutor, clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    """``split`` finds the encoder missing from ffmpeg and exits 3: the Workflow's retryStrategy
    (three retries of anything else) does not try it again."""
    settings = EncodeSettings(video=("-c:v", "libnosuchcodec"), slice_seconds=1.0)
    spec = spec_for("env", clip, tmp_path, ffmpeg, settings)
    assert spec.retry_limit == 3
    nodes, end = await run_to_end(executor, spec)
    assert end.phase is Phase.FAILED
    assert "encoder libnosuchcodec is not in ffmpeg" in end.message
    assert end.message.endswith("(no retry: retryStrategy.expression evaluated to false)")
    last = last_events(nodes)
    assert sorted(last) == ["onExit(0)", "split(0)"]
    assert (last["split(0)"].phase, last["split(0)"].exit_code) == (Phase.FAILED, EXIT_ENVIRONMENT)
