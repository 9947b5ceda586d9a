"""ArgoExecutor against the Argo harness (Argo's own workflow-controller behind argo-server's REST
API, over loopback HTTP), real steps, real ffmpeg on a small generated clip."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from clustercode.config.argo import ArgoSettings
from clustercode.config.settings import Settings
from clustercode.errors import ExecutorError, NotFoundError, UnavailableError
from clustercode.executors import Executor, NodeEvent, Phase, RunEvent
from clustercode.executors import argo as argo_module
from clustercode.executors.argo import ArgoExecutor
from clustercode.jobs.workflows import argo_manifest
from clustercode.models import Job
from pipelines.ffmpeg import ffmpeg_path
from pipelines.settings import EncodeSettings
from tests.integration.conftest import free_port
from tests.support.argo_harness import ArgoHarness, start_argo_harness

TOKEN = "simulated-token-1"
FRAMES = 100  # 4 s at 25 fps
NAMESPACE = "media"


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    library: Path
    output: Path
    work: Path
    source: Path
    token_file: Path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("argo")
    library, output, work = root / "library", root / "output", root / "work"
    for directory in (library, output, work):
        directory.mkdir()
    source = library / "show" / "clip.mkv"
    source.parent.mkdir()
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=160x90:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
         "-g", "30", str(source)],
        check=True,
        timeout=60,
    )  # fmt: skip
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    return Media(library=library, output=output, work=work, source=source, token_file=token_file)


@pytest.fixture(scope="module")
def sim(media: Media) -> Iterator[ArgoHarness]:
    # The work directory comes through a PersistentVolumeClaim, the others as host paths.
    with start_argo_harness(
        token=TOKEN,
        claims={"cc-work": str(media.work)},
        max_parallel=2,
        log_file=media.work.parent / "argo-harness.log",
    ) as server:
        yield server


def argo_settings(sim: ArgoHarness, media: Media, **changes: Any) -> ArgoSettings:
    fields: dict[str, Any] = {
        "url": sim.url,
        "namespace": NAMESPACE,
        "token_file": media.token_file,
        "step_command": [sys.executable, "-m", "pipelines.steps"],
        "work_volume": {"claim": "cc-work"},
        "retry_backoff": "1s",
        "poll_interval": 0.2,
        "request_timeout": 5,
    }
    fields.update(changes)
    return ArgoSettings(**fields)


def settings(argo: ArgoSettings, media: Media) -> Settings:
    return Settings(libraries=[media.library], output=media.output, work_dir=media.work, argo=argo)


def make_job(media: Media, job_id: str, **changes: Any) -> Job:
    fields: dict[str, Any] = {
        "id": job_id,
        "source": str(media.source),
        "fingerprint": "f",
        "profile": "h264",
        "profile_hash": "h",
        "output": str(media.output / "show" / f"{job_id}.mkv"),
        "root": str(media.library),
        "settings": EncodeSettings(
            video=("-c:v", "libx264", "-preset", "ultrafast"), slice_seconds=1.0
        ).to_json(),
    }
    fields.update(changes)
    return Job(**fields)


@pytest.fixture
async def executor(sim: ArgoHarness, media: Media) -> AsyncIterator[ArgoExecutor]:
    ex = ArgoExecutor(argo_settings(sim, media))
    yield ex
    await ex.close()


async def run_to_end(ex: Executor, run_id: str) -> tuple[list[NodeEvent], RunEvent]:
    nodes: list[NodeEvent] = []
    async for event in ex.watch(run_id):
        if isinstance(event, RunEvent):
            if event.phase.done:
                return nodes, event
        else:
            nodes.append(event)
    raise AssertionError("watch ended without a final RunEvent")


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


def missing(path: Path) -> bool:
    return not path.exists()


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def by_index(nodes: list[NodeEvent]) -> dict[int, list[NodeEvent]]:
    slices: dict[int, list[NodeEvent]] = {}
    for event in nodes:
        if event.task == "encode":
            slices.setdefault(int(event.parameters["index"]), []).append(event)
    return slices


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


async def test_a_rejected_workflow_says_why(sim: ArgoHarness, media: Media) -> None:
    ex = ArgoExecutor(argo_settings(sim, media))
    try:
        doc = argo_manifest(make_job(media, "0aaa"), 1, settings(ex.settings, media))
        doc["spec"]["entrypoint"] = "no-such-template"
        with pytest.raises(ExecutorError) as rejected:
            await ex.submit(doc)
    finally:
        await ex.close()
    # Argo's validator, as argo-server runs it on create.
    assert str(rejected.value).startswith("argo-server rejected creating workflow cc-0aaa-1: ")
    assert "no-such-template" in str(rejected.value)


async def test_unknown_run_is_not_found(executor: ArgoExecutor) -> None:
    with pytest.raises(NotFoundError, match="cc-0000-1"):
        async for _ in executor.watch("cc-0000-1"):
            pass
    with pytest.raises(NotFoundError):
        await executor.cancel("cc-0000-1")


async def test_token_is_read_from_its_file_for_every_request(
    sim: ArgoHarness, media: Media, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    ex = ArgoExecutor(argo_settings(sim, media, token_file=token_file))
    try:
        assert await ex.check() == ""
        token_file.write_text("rotated-but-wrong\n")
        message = await ex.check()
        assert message.startswith(f"argo-server refused the token from {token_file}: ")
        assert "token not valid" in message
        with pytest.raises(UnavailableError, match="refused the token"):
            await ex.submit(argo_manifest(make_job(media, "0bad"), 1, settings(ex.settings, media)))
        token_file.write_text(TOKEN + "\n")
        assert await ex.check() == ""
        token_file.unlink()
        assert await ex.check() == (
            f"cannot read the argo-server token file {token_file}: No such file or directory"
        )
    finally:
        await ex.close()
    anonymous = ArgoExecutor(argo_settings(sim, media, token_file=None))
    try:
        assert "refused the request without a token" in await anonymous.check()
    finally:
        await anonymous.close()


async def test_unreachable_argo_server_says_what_to_fix(sim: ArgoHarness, media: Media) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ex = ArgoExecutor(argo_settings(sim, media, url=url, watch_retry_seconds=0.3))
    try:
        assert await ex.check() == (
            f"argo-server {url}/ is unreachable: connection refused; check argo.url and that "
            "argo-server runs"
        )
        with pytest.raises(UnavailableError, match="connection refused"):
            await ex.submit(argo_manifest(make_job(media, "0abc"), 1, settings(ex.settings, media)))
        with pytest.raises(UnavailableError, match="connection refused"):
            async for _ in ex.watch("cc-0abc-1"):
                pass
    finally:
        await ex.close()
    nowhere = ArgoExecutor(argo_settings(sim, media, url="http://argo.invalid:2746"))
    try:
        assert "cannot resolve argo.invalid" in await nowhere.check()
    finally:
        await nowhere.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.conftest import require_tool

    openssl = require_tool("openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_tls_verification(media: Media, tls_files: tuple[Path, Path]) -> None:
    cert, _ = tls_files
    with start_argo_harness(token=TOKEN, tls=tls_files) as tls_sim:
        assert tls_sim.url.startswith("https://")
        checks = []
        for changes in ({}, {"ca_file": cert}, {"verify_tls": False}):
            ex = ArgoExecutor(argo_settings(tls_sim, media, **changes))
            try:
                checks.append(await ex.check())
            finally:
                await ex.close()
    refused, with_ca, unverified = checks
    assert refused.startswith(f"TLS verification of argo-server {tls_sim.url}/ failed: ")
    assert "self-signed certificate" in refused
    assert "set argo.ca_file" in refused
    assert (with_ca, unverified) == ("", "")
