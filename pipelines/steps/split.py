"""``split``: plan the slices of one source. Reads packets, copies no bytes."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from pipelines.identity import source_identity
from pipelines.probe import ProbeError, probe
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _starts
from pipelines.steps._ffmpeg_run import StartTimeProbe
from pipelines.steps._plan import Plan, build_plan, read_plan, write_plan
from pipelines.steps._proof import clear_work
from pipelines.steps.errors import StepError

logger = logging.getLogger(__name__)


def split(*, source: Path, work: Path, settings: EncodeSettings, slices_out: Path) -> Plan:
    """Probe ``source``, write ``work/plan.json`` and the fan-out list to ``slices_out``.

    The plan carries the source's identity (read before the probe) and the encoder settings.
    When ``work`` already holds the same plan (an earlier attempt of the job, the same version of
    the source, the same settings), its proven slices are kept for reuse; any other plan's work
    is removed first.

    Raises:
        StepError: the source cannot be read, is damaged or has no video.
    """
    try:
        identity = source_identity(source)
    except OSError as exc:
        raise StepError(f"cannot read {source}: {exc.strerror or exc}") from exc
    # The final mux needs the start time the running ffmpeg reads; asked now, it costs nothing.
    start = StartTimeProbe(source)
    try:
        probed = probe(source)
    except ProbeError as exc:
        raise StepError(str(exc)) from exc
    if probed.timeline is None or not probed.timeline.pts:
        raise StepError(f"{source} has no video stream to transcode")
    plan = build_plan(
        source=source,
        info=probed.info,
        timeline=probed.timeline,
        slice_seconds=settings.slice_seconds,
        min_slices=settings.min_slices,
        identity=identity,
        encoder=encoder_digest(settings),
    )
    work.mkdir(parents=True, exist_ok=True)
    earlier = read_plan(work)
    if earlier is None or earlier.digest != plan.digest:
        if earlier is not None:
            logger.info("%s: the plan changed; earlier slices are discarded", source)
        clear_work(work)
    write_plan(work, plan)
    _starts.remember(work, "source", source, start)
    _atomic.write_text(slices_out, json.dumps(plan.fanout_items()) + "\n")
    logger.info(
        "%s: %d frames, %.3f s, %d slices",
        source,
        plan.frames,
        plan.video_duration,
        len(plan.slices),
    )
    return plan


def encoder_digest(settings: EncodeSettings) -> str:
    """A digest of the settings that decide a slice's bytes: video arguments and threads."""
    key = json.dumps({"video": list(settings.video), "threads": settings.threads})
    return hashlib.sha256(key.encode()).hexdigest()[:16]
