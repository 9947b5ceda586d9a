"""``split``: plan the slices of one source. Reads packets, copies no bytes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipelines.probe import ProbeError, probe
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic
from pipelines.steps._plan import Plan, build_plan, write_plan
from pipelines.steps.errors import StepError

logger = logging.getLogger(__name__)


def split(*, source: Path, work: Path, settings: EncodeSettings, slices_out: Path) -> Plan:
    """Probe ``source``, write ``work/plan.json`` and the fan-out list to ``slices_out``.

    Raises:
        StepError: the source cannot be read, is damaged or has no video.
    """
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
    )
    work.mkdir(parents=True, exist_ok=True)
    write_plan(work, plan)
    _atomic.write_text(slices_out, json.dumps(plan.fanout_items()) + "\n")
    logger.info(
        "%s: %d frames, %.3f s, %d slices",
        source,
        plan.frames,
        plan.video_duration,
        len(plan.slices),
    )
    return plan
