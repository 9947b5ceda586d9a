"""``merge``: join the slices, mux the source's other streams, verify, publish atomically.

One ffmpeg run does the join and the mux: its input 0 is the concat list of the slices, and a
second output hashes every video packet it joined, so the slices are proven without a read of
their own."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipelines.identity import fit_name
from pipelines.probe import MediaInfo, ProbeError, cover_image, probe
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _ffmpeg_run, _packets, _starts
from pipelines.steps._mux import MuxInputs, mux_command
from pipelines.steps._plan import Plan, check_source_content, load_plan, slice_path
from pipelines.steps._proof import recorded_proof
from pipelines.steps.audio import audio_path
from pipelines.steps.encode import encode
from pipelines.steps.errors import EnvironmentStepError, StepError
from pipelines.steps.verify import expected_output, problems

logger = logging.getLogger(__name__)

RESULT_NAME = "result.json"


def output_temp_path(output: Path) -> Path:
    """The name an output is written under until it has passed every check.

    A hidden name in the output directory itself, so the final rename is atomic and a library
    scanner that skips dot files never picks up a half-written file. A name too long for the
    file system is shortened to a hash of itself.
    """
    return output.with_name(fit_name(f".{output.name}.clustercode-tmp", keep_suffix=".cc-tmp"))


class DamagedSlicesError(StepError):
    """Slices on disk are not what their encode steps wrote (truncated, changed, unreadable)."""

    def __init__(self, reasons: dict[int, str]) -> None:
        """``reasons`` by slice index."""
        shown = "; ".join(f"slice {i}: {r}" for i, r in sorted(reasons.items())[:3])
        super().__init__(f"{len(reasons)} slices are damaged ({shown})")
        self.reasons = reasons


def check_slices(work: Path, plan: Plan) -> str:
    """Check every slice is present, recorded under this plan, and of one codec setup.

    Reads no slice: their bytes are proven packet by packet as the final mux joins them
    (:func:`compare_with_records`).

    Returns:
        The slices' video codec name.

    Raises:
        DamagedSlicesError: slices without a sidecar of this plan, of another size, or without
            a full packet record.
        StepError: a slice is missing, or slices were encoded differently.
    """
    missing = [s.index for s in plan.slices if not slice_path(work, s.index).is_file()]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise StepError(
            f"{len(missing)} of {len(plan.slices)} slices are missing (index {shown}) in "
            f"{work / 'slices'}: their encode steps did not finish"
        )
    setup: tuple[str, str] | None = None
    damaged: dict[int, str] = {}
    for piece in plan.slices:
        proof = recorded_proof(work, plan, piece)
        if proof is None:
            # Made from another version of the source or another plan, or changed since.
            damaged[piece.index] = "not made under this plan, or changed since it was checked"
            continue
        record = _packets.read_record(slice_path(work, piece.index))
        if record is None or len(record) != piece.frames:
            damaged[piece.index] = "its packet record is missing or short"
            continue
        if setup is None:
            setup = (proof.codec, proof.extradata)
        elif (proof.codec, proof.extradata) != setup:
            # Different parameter sets cannot share one stream header: the join would not play.
            raise StepError(
                f"slice {piece.index} was encoded with different codec parameters than slice 0 "
                "(settings changed mid-job?); delete the work directory and run the job again"
            )
    if damaged:
        raise DamagedSlicesError(damaged)
    return "" if setup is None else setup[0]


def concat_list(work: Path, plan: Plan) -> str:
    """The concat demuxer script: slices in numeric order, each with its exact duration."""
    lines = ["ffconcat version 1.0"]
    for piece in sorted(plan.slices, key=lambda s: s.index):
        path = str(slice_path(work, piece.index).resolve()).replace("'", "'\\''")
        lines.append(f"file '{path}'")
        lines.append(f"duration {piece.duration:.6f}")
    return "\n".join(lines) + "\n"


def compare_with_records(work: Path, plan: Plan, joined: list[str]) -> None:
    """Demand that the joined video's packets are, slice by slice, the recorded ones.

    Raises:
        DamagedSlicesError: a slice's packets differ from its record.
        StepError: the joined video has more or fewer packets than the slices.
    """
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


def mux_proven(inputs: MuxInputs, *, command: list[str], work: Path, plan: Plan) -> None:
    """Run the final mux, joining the slices of ``inputs.video`` (the concat list) as it goes,
    and prove the joined packets.

    The mux has a second output, a hash of every video packet it read from the slices: the
    bytes in the output are the bytes the encode steps recorded, or the output is not kept.

    Raises:
        DamagedSlicesError: a slice's packets differ from its record.
        StepError: the mux failed.
    """
    assert inputs.hashes is not None
    try:
        _ffmpeg_run.run(command, what="muxing the output failed")
        joined = _packets.parse_framemd5(inputs.hashes.read_text(encoding="utf-8"))
        compare_with_records(work, plan, joined.packets)
    finally:
        _atomic.remove_quietly(inputs.hashes)


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
    start = _starts.start_time(work, "audio", path)
    if start is None:
        try:
            start = probe(path).info.start_time
        except ProbeError as exc:
            raise StepError(f"encoded audio is unreadable: {exc}") from exc
    return path, start


def _source_start(work: Path, source: Path, plan: Plan) -> float:
    """The source's start time as the running ffmpeg sees it (it shifts the source by it)."""
    start = _starts.start_time(work, "source", source)
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

    The slices are joined by the final mux itself, which proves their packets as it reads them;
    a damaged slice is encoded again, once. Nothing replaces ``output`` unless every check
    passes; a failure leaves no temp file.

    Raises:
        StepError: a missing or bad slice, a failed mux or a failed check (with the reasons).
    """
    plan = load_plan(work, source)
    audio, audio_offset = _audio_input(work, plan, settings)
    info = plan.source_info
    covers = extract_covers(work, source, info) if settings.container == "mkv" else {}
    inputs = MuxInputs(
        video=work / "concat.txt",
        video_offset=plan.video_first_pts - _source_start(work, source, plan),
        source=source,
        audio=audio,
        audio_offset=audio_offset,
        covers=covers,
        hashes=_atomic.temp_path(work / "joined.framemd5"),
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
        codec = _mux_joined(
            inputs, source=source, work=work, settings=settings, plan=plan, temp=temp
        )
        verify_output(temp, plan, settings, codec)
        # Last look before publishing: the output must belong to the version of the source
        # that every slice was made from.
        check_source_content(plan, source)
        result = publish(temp, output, plan, codec, result_out or work / RESULT_NAME)
    finally:
        _atomic.remove_quietly(temp)
    logger.info("published %s", output)
    return result


def _mux_joined(
    inputs: MuxInputs,
    *,
    source: Path,
    work: Path,
    settings: EncodeSettings,
    plan: Plan,
    temp: Path,
) -> str:
    """Check the slices and mux them into ``temp``; each damaged slice is encoded again, once.

    Returns:
        The slices' codec name.

    Raises:
        StepError: a slice is missing, or still damaged after encoding it again.
    """
    command = mux_command(
        inputs=inputs,
        source=plan.source_info,
        video_index=plan.video_index,
        settings=settings,
        output=temp,
    )
    # The same list for every try: a slice encoded again keeps its name.
    _atomic.write_text(inputs.video, concat_list(work, plan))
    encoded_again: set[int] = set()
    while True:
        try:
            codec = check_slices(work, plan)
            mux_proven(inputs, command=command, work=work, plan=plan)
            return codec
        except DamagedSlicesError as damage:
            _atomic.remove_quietly(temp)
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


def publish(
    temp: Path, output: Path, plan: Plan, codec: str, result_path: Path
) -> dict[str, object]:
    """Write the result, then rename the verified ``temp`` to ``output``.

    The result comes first and names the output file's inode, size and modification time
    (a rename keeps all three): after a crash, an output whose stat matches its result is
    proven published and verified; one that does not is not.
    """
    stat = temp.stat()
    result: dict[str, object] = {
        "output": str(output),
        "frames": plan.frames,
        "duration": round(plan.video_duration, 6),
        "size_before": plan.source_size,
        "size_after": stat.st_size,
        "video_codec": codec,
        "output_ino": stat.st_ino,
        "output_mtime_ns": stat.st_mtime_ns,
        "source": plan.identity.to_dict(),
        "plan": plan.digest,
    }
    _atomic.write_text(result_path, json.dumps(result) + "\n")
    try:
        temp.replace(output)
    except OSError:
        _atomic.remove_quietly(result_path)
        raise
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
