"""``audio``: encode the kept audio tracks of the whole source once (never per slice).

Per-slice audio encodes add encoder priming at every join (gaps and drift), so audio that is
re-encoded at all is encoded here, in one pass, into ``audio.mka`` in the work directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _ffmpeg_run, _starts
from pipelines.steps._plan import load_plan

logger = logging.getLogger(__name__)

AUDIO_NAME = "audio.mka"


def audio_path(work: Path) -> Path:
    """Where the encoded audio lives in a work directory."""
    return work / AUDIO_NAME


def encode_audio(*, source: Path, work: Path, settings: EncodeSettings) -> Path | None:
    """Encode every audio track of ``source`` with ``settings.audio`` into ``work/audio.mka``.

    Tags (language, title) and dispositions travel with each track. Returns ``None`` when there
    is nothing to do: audio is copied, not kept, or the source has none.

    Raises:
        StepError: no plan, or ffmpeg failed.
    """
    plan = load_plan(work, source)
    tracks = plan.source_info.of_kind("audio")
    if settings.audio is None or not settings.keep.audio or not tracks:
        logger.info("no audio to encode")
        return None
    final = audio_path(work)
    temp = _atomic.temp_path(final)
    args = ["-xerror", "-i", str(source)]
    for stream in tracks:
        args += ["-map", f"0:{stream.index}"]
    args += [*settings.audio, "-map_chapters", "-1"]
    args += ["-f", "matroska", "-y", str(temp)]
    try:
        # -xerror and the exit status decide, as for slices: split has already checked the
        # container, and decoders report recoverable glitches (e.g. a cut-off first frame of
        # an MPEG-TS capture) at error level too.
        _ffmpeg_run.run(args, what=f"encoding the audio of {source} failed", quiet_required=False)
        temp.replace(final)
    finally:
        _atomic.remove_quietly(temp)
    _starts.remember(work, "audio", final, _ffmpeg_run.StartTimeProbe(final))
    logger.info("encoded %d audio tracks", len(tracks))
    return final
