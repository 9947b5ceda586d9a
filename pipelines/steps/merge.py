"""``merge``: join the slices, mux the source's other streams, verify, publish atomically."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipelines.probe import MediaInfo, ProbeError, codec_extradata, cover_image, probe
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _ffmpeg_run, _packets
from pipelines.steps._mux import MuxInputs, mux_command
from pipelines.steps._plan import Plan, load_plan, slice_path
from pipelines.steps.audio import audio_path
from pipelines.steps.encode import encode
from pipelines.steps.errors import EnvironmentStepError, StepError
from pipelines.steps.verify import expected_output, problems

logger = logging.getLogger(__name__)

RESULT_NAME = "result.json"


def output_temp_path(output: Path) -> Path:
    """The name an output is written under until it has passed every check.

    A hidden name in the output directory itself, so the final rename is atomic and a library
    scanner that skips dot files never picks up a half-written file.
    """
    return output.with_name(f".{output.name}.clustercode-tmp")


class DamagedSlicesError(StepError):
    """Slices on disk are not what their encode steps wrote (truncated, changed, unreadable)."""

    def __init__(self, reasons: dict[int, str]) -> None:
        """``reasons`` by slice index."""
        shown = "; ".join(f"slice {i}: {r}" for i, r in sorted(reasons.items())[:3])
        super().__init__(f"{len(reasons)} slices are damaged ({shown})")
        self.reasons = reasons


def check_slices(work: Path, plan: Plan) -> str:
    """Check every slice is present with its frame count, its record and the same codec setup.

    Returns:
        The slices' video codec name.

    Raises:
        DamagedSlicesError: slices are unreadable, short or without a record.
        StepError: a slice is missing, or slices were encoded differently.
    """
    missing = [s.index for s in plan.slices if not slice_path(work, s.index).is_file()]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise StepError(
            f"{len(missing)} of {len(plan.slices)} slices are missing (index {shown}) in "
            f"{work / 'slices'}: their encode steps did not finish"
        )
    codec = ""
    reference = b""
    damaged: dict[int, str] = {}
    for piece in plan.slices:
        path = slice_path(work, piece.index)
        try:
            probed = probe(path)
            frames = 0 if probed.timeline is None else probed.timeline.frames
            extradata = codec_extradata(path, 0)
        except ProbeError as exc:
            damaged[piece.index] = f"unreadable: {exc}"
            continue
        record = _packets.read_record(path)
        if frames != piece.frames:
            damaged[piece.index] = f"has {frames} frames, expected {piece.frames}"
            continue
        if record is None or len(record) != piece.frames:
            damaged[piece.index] = "its packet record is missing or short"
            continue
        video = probed.info.main_video()
        name = "" if video is None or video.codec is None else video.codec
        if not codec:
            codec, reference = name, extradata
        elif (name, extradata) != (codec, reference):
            # Different parameter sets cannot share one stream header: the join would not play.
            raise StepError(
                f"slice {piece.index} was encoded with different codec parameters than slice 0 "
                "(settings changed mid-job?); delete the work directory and run the job again"
            )
    if damaged:
        raise DamagedSlicesError(damaged)
    return codec


def concat_list(work: Path, plan: Plan) -> str:
    """The concat demuxer script: slices in numeric order, each with its exact duration."""
    lines = ["ffconcat version 1.0"]
    for piece in sorted(plan.slices, key=lambda s: s.index):
        path = str(slice_path(work, piece.index).resolve()).replace("'", "'\\''")
        lines.append(f"file '{path}'")
        lines.append(f"duration {piece.duration:.6f}")
    return "\n".join(lines) + "\n"


def concat_video(work: Path, plan: Plan) -> Path:
    """Join the slices into ``work/video.mkv`` without re-encoding, proving their bytes.

    The tee muxer hashes every packet as it is joined; the hashes must be the slices' records.

    Raises:
        DamagedSlicesError: a slice's packets differ from its record.
        StepError: the join failed.
    """
    listing = work / "concat.txt"
    _atomic.write_text(listing, concat_list(work, plan))
    final = work / "video.mkv"
    temp = _atomic.temp_path(final)
    hashes = _atomic.temp_path(work / "video.packets")
    tee = f"[f=matroska]{_tee_escape(temp)}|[f=framemd5]{_tee_escape(hashes)}"
    try:
        # auto_convert off: the demuxer would rewrite H.264 packets to start codes (5.1 does),
        # and the hashes would no longer match the records of the stored packets.
        joining = ["-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", str(listing)]
        joining += ["-map", "0:v:0"]
        _ffmpeg_run.run(
            [*joining, "-c", "copy", "-f", "tee", "-y", tee], what="joining the slices failed"
        )
        joined = _packets.parse_framemd5(hashes.read_text(encoding="utf-8"))
        _compare_with_records(work, plan, joined)
        temp.replace(final)
    finally:
        _atomic.remove_quietly(temp)
        _atomic.remove_quietly(hashes)
    return final


def _tee_escape(path: Path) -> str:
    # The tee muxer's own syntax: these characters separate outputs and options.
    text = str(path)
    for char in "\\|[]:=;":
        text = text.replace(char, "\\" + char)
    return text


def _compare_with_records(work: Path, plan: Plan, joined: list[str]) -> None:
    damaged: dict[int, str] = {}
    position = 0
    for piece in sorted(plan.slices, key=lambda s: s.index):
        record = _packets.read_record(slice_path(work, piece.index)) or []
        found = joined[position : position + piece.frames]
        position += piece.frames
        wrong = _packets.first_difference(record, found)
        if wrong is not None:
            damaged[piece.index] = (
                f"packet {wrong} is not the one its encode step wrote (changed on disk since)"
            )
    if not damaged and position != len(joined):
        raise StepError(f"the joined video has {len(joined)} packets, the slices {position}")
    if damaged:
        raise DamagedSlicesError(damaged)


def join_proven(
    *, source: Path, work: Path, settings: EncodeSettings, plan: Plan
) -> tuple[str, Path]:
    """Check and join the slices; each damaged slice is encoded again, once.

    Returns:
        The slices' codec name and the joined video.

    Raises:
        StepError: a slice is missing, or still damaged after encoding it again.
    """
    encoded_again: set[int] = set()
    while True:
        try:
            codec = check_slices(work, plan)
            return codec, concat_video(work, plan)
        except DamagedSlicesError as damage:
            still = sorted(set(damage.reasons) & encoded_again)
            if still:
                raise StepError(
                    f"slice {still[0]} is damaged again after encoding it again "
                    f"({damage.reasons[still[0]]}); check the work volume {work}"
                ) from damage
            for index, reason in sorted(damage.reasons.items()):
                logger.info("slice %d is damaged (%s): encoding it again", index, reason)
                path = slice_path(work, index)
                _atomic.remove_quietly(path)
                _atomic.remove_quietly(_packets.record_path(path))
                encode(source=source, work=work, settings=settings, index=index)
                encoded_again.add(index)


def extract_covers(work: Path, source: Path, info: MediaInfo) -> dict[int, Path]:
    """Write each cover image of the source to ``work/covers`` for re-attaching."""
    covers: dict[int, Path] = {}
    for stream in info.of_kind("attachment"):
        if not stream.cover:
            continue
        suffix = Path(stream.filename or "").suffix or (".png" if stream.codec == "png" else ".jpg")
        path = work / "covers" / f"cover_{stream.index}{suffix}"
        try:
            data = cover_image(source, stream.index)
        except ProbeError as exc:
            raise StepError(str(exc)) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        covers[stream.index] = path
    return covers


def _audio_input(work: Path, plan: Plan, settings: EncodeSettings) -> tuple[Path | None, float]:
    if settings.audio is None or not settings.keep.audio:
        return None, 0.0
    if not plan.source_info.of_kind("audio"):
        return None, 0.0
    path = audio_path(work)
    if not path.is_file():
        raise StepError(f"no encoded audio at {path}: the audio step did not finish")
    try:
        info = probe(path).info
    except ProbeError as exc:
        raise StepError(f"encoded audio is unreadable: {exc}") from exc
    start = _ffmpeg_run.input_start_time(path)
    return path, info.start_time if start is None else start


def _source_start(source: Path, plan: Plan) -> float:
    """The source's start time as the running ffmpeg sees it (it shifts the source by it)."""
    start = _ffmpeg_run.input_start_time(source)
    return plan.start_time if start is None else start


def merge(
    *,
    source: Path,
    work: Path,
    settings: EncodeSettings,
    output: Path,
    result_out: Path | None = None,
) -> dict[str, object]:
    """Join, mux, verify and publish; returns the result written to ``result_out``.

    Nothing replaces ``output`` unless every check passes; a failure leaves no temp file.

    Raises:
        StepError: a missing or bad slice, a failed mux or a failed check (with the reasons).
    """
    plan = load_plan(work, source)
    codec, video = join_proven(source=source, work=work, settings=settings, plan=plan)
    audio, audio_offset = _audio_input(work, plan, settings)
    info = plan.source_info
    covers = extract_covers(work, source, info) if settings.container == "mkv" else {}
    inputs = MuxInputs(
        video=video,
        video_offset=plan.video_first_pts - _source_start(source, plan),
        source=source,
        audio=audio,
        audio_offset=audio_offset,
        covers=covers,
    )
    # The output tree mirrors the library: its folders appear as their first file is published.
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentStepError(
            f"cannot create output directory {output.parent}: {exc.strerror}"
        ) from exc
    temp = output_temp_path(output)
    try:
        command = mux_command(
            inputs=inputs,
            source=info,
            video_index=plan.video_index,
            settings=settings,
            output=temp,
        )
        _ffmpeg_run.run(command, what="muxing the output failed")
        verify_output(temp, plan, settings, codec)
        temp.replace(output)
    finally:
        _atomic.remove_quietly(temp)
    result: dict[str, object] = {
        "output": str(output),
        "frames": plan.frames,
        "duration": round(plan.video_duration, 6),
        "size_before": plan.source_size,
        "size_after": output.stat().st_size,
        "video_codec": codec,
    }
    _atomic.write_text(result_out or work / RESULT_NAME, json.dumps(result) + "\n")
    logger.info("published %s", output)
    return result


def verify_output(path: Path, plan: Plan, settings: EncodeSettings, codec: str) -> None:
    """Probe the written output and fail with every reason it is not publishable."""
    try:
        probed = probe(path)
    except ProbeError as exc:
        raise StepError(f"output failed verification: {exc}") from exc
    expected = expected_output(
        source=plan.source_info,
        frames=plan.frames,
        video_duration=plan.video_duration,
        keep=settings.keep,
        container=settings.container,
        video_codec=codec,
    )
    found = problems(probed.info, probed.timeline, expected)
    if found:
        raise StepError("output failed verification: " + "; ".join(found))
