"""What the ArgoExecutor tests share: the library, output and work directories with a generated
clip (``Media``), the executor's settings for the Argo harness, and jobs on the clip."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustercode.config.argo import ArgoSettings
from clustercode.config.settings import Settings
from clustercode.models import Job
from pipelines.settings import EncodeSettings
from tests.support.argo_harness import ArgoHarness

TOKEN = "simulated-token-1"
NAMESPACE = "media"


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    library: Path
    output: Path
    work: Path
    source: Path
    token_file: Path


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
