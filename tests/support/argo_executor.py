"""What the ArgoExecutor tests share: the library, output and work directories with a generated
clip (``Media``), the executor's settings for the Argo harness, jobs on the clip, and readers of
what a run did."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from clustercode.config.argo import ArgoSettings
from clustercode.config.settings import Settings
from clustercode.executors import Executor, NodeEvent, RunEvent
from clustercode.models import Job
from pipelines.ffmpeg import ffmpeg_path
from pipelines.settings import EncodeSettings
from tests.support.argo_harness import ArgoHarness

TOKEN = "simulated-token-1"
NAMESPACE = "media"


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """A library root, the output and work directories, the clip in the library, the token file."""

    library: Path
    output: Path
    work: Path
    source: Path
    token_file: Path


def make_media(root: Path, lavfi: str, gop: int) -> Media:
    """Library, output and work directories under ``root``, a token file, and one H.264 clip
    ``library/show/clip.mkv`` generated from the lavfi source ``lavfi`` with GOP ``gop``."""
    library, output, work = root / "library", root / "output", root / "work"
    for directory in (library, output, work):
        directory.mkdir()
    source = library / "show" / "clip.mkv"
    source.parent.mkdir()
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", lavfi,
         "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), str(source)],
        check=True,
        timeout=60,
    )  # fmt: skip
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    return Media(library=library, output=output, work=work, source=source, token_file=token_file)


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


async def run_to_end(ex: Executor, run_id: str) -> tuple[list[NodeEvent], RunEvent]:
    nodes: list[NodeEvent] = []
    async for event in ex.watch(run_id):
        if isinstance(event, RunEvent):
            if event.phase.done:
                return nodes, event
        else:
            nodes.append(event)
    raise AssertionError("watch ended without a final RunEvent")


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
