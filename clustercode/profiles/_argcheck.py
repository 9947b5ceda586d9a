"""The check of ffmpeg arguments that come from files clustercode does not trust.

A profile's ``video`` and ``audio`` lists are passed to ffmpeg as output options. ffmpeg's
command line can do far more than encode: name another output file (``-f rawvideo
/path/victim``), overwrite it (``-y``), read a file into an option (``-/vf /path/secret``),
write a report (``-report``), burn a file's text into the picture (``drawtext=textfile=...``) or
open another input (``movie=...``). Anyone who can drop a ``.clustercode.yaml`` into the library
could use that to read or overwrite what the service can. So arguments must be, one option and
its value at a time:

- an encoder option: ffmpeg's codec, quality, rate-control, pixel-format and metadata options,
  or any other option name, which ffmpeg hands to the encoder (and the muxer) as an AVOption,
  except the ffmpeg command-line options that are not about encoding and the AVOptions that name
  files (``passlogfile``, ``stats``, ...);
- codec-private parameters (``-x264-params``, ``-x265-params``, ``-svtav1-params``, ...) whose
  keys name no file and whose values hold no path;
- a filter chain (``-vf``, ``-af``, ``-filter:v``) of filters from :data:`VIDEO_FILTERS` and
  :data:`AUDIO_FILTERS`, none given an option that reads or writes a file.

A refusal names the argument's line and the option. Operators who need more set
``trust_ffmpeg_args`` (see :class:`clustercode.config.Settings`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clustercode.config.yamlnodes import YamlProblem

__all__ = ["AUDIO_FILTERS", "VIDEO_FILTERS", "check_args"]


def _words(text: str) -> list[str]:
    return text.split()


# ffmpeg's own (fftools) options that a profile may give; every other fftools option is refused.
_ALLOWED_TOOL_OPTIONS = frozenset(
    {
        "c",
        "codec",
        "vcodec",
        "acodec",
        "q",
        "qscale",
        "profile",
        "tag",
        "vtag",
        "atag",
        "pix_fmt",
        "s",
        "aspect",
        "r",
        "ar",
        "ac",
        "ab",
        "ch_layout",
        "channel_layout",
        "sample_fmt",
        "force_key_frames",
        "intra_matrix",
        "inter_matrix",
        "chroma_intra_matrix",
        "bits_per_raw_sample",
        "top",
        "disposition",
        "metadata",
        "max_muxing_queue_size",
        "muxing_queue_data_threshold",
        "vf",
        "af",
        "filter",
    }
)

# The rest of ffmpeg's command-line options (ffmpeg 4.x to 8.x): outputs, inputs, formats, files,
# logging, timing, stream selection. Any of these is refused, with its "no" form.
_TOOL_OPTIONS = frozenset(
    {
        *_words("L h ? help version buildconf formats muxers demuxers devices codecs decoders"),
        *_words("encoders bsfs protocols filters pix_fmts layouts sample_fmts dispositions colors"),
        *_words("loglevel v report max_alloc cpuflags cpucount hide_banner sources sinks f y n"),
        *_words("ignore_unknown copy_unknown recast_media pre map map_channel map_metadata"),
        *_words("map_chapters t to fs ss sseof seek_timestamp accurate_seek isync itsoffset"),
        *_words("itsscale timestamp program stream_group dframes timelimit dump hex re"),
        *_words("readrate readrate_initial_burst readrate_catchup target vsync"),
        *_words("frame_drop_threshold adrift_threshold copyts start_at_zero copytb shortest"),
        *_words("shortest_buf_duration bitexact dts_delta_threshold dts_error_threshold xerror"),
        *_words("abort_on copyinkf copypriorss frames filter_threads filter_script"),
        *_words("reinit_filter drop_changed filter_complex filter_complex_threads lavfi"),
        *_words("filter_complex_script auto_conversion_filters stats stats_period progress"),
        *_words("debug_ts max_error_rate discard thread_queue_size find_stream_info"),
        *_words("stats_enc_pre stats_enc_post stats_mux_pre stats_enc_pre_fmt"),
        *_words("stats_enc_post_fmt stats_mux_pre_fmt sdp_file vstats vstats_file"),
        *_words("vstats_version attach dump_attachment stream_loop benchmark benchmark_all"),
        *_words("enc_time_base bsf absf vbsf fpsmax autoscale autorotate apply_cropping"),
        *_words("display_rotation display_hflip display_vflip vframes aframes vn an sn dn"),
        *_words("rc_override timecode pass passlogfile fps_mode force_fps streamid hwaccel"),
        *_words("hwaccel_device hwaccel_output_format hwaccels vc tvstd vpre apre spre fpre"),
        *_words("init_hw_device filter_hw_device psnr qphist vol guess_layout_max scodec"),
        *_words("dcodec stag canvas_size fix_sub_duration fix_sub_duration_heartbeat"),
        *_words("muxdelay muxpreload time_base i stdin nostdin threads ignore_chapters"),
        *_words("print_graphs print_graphs_file print_graphs_format sdp copy_prior_start"),
        *_words("data frame_pix_fmt reinit_filters"),
    }
)

# AVOptions of encoders and muxers that take a file name.
_FILE_AVOPTIONS = frozenset(
    {"passlogfile", "stats", "twopass", "fpre", "cqmfile", "qpfile", "dump_extra", "preset_file"}
)

_FILTER_OPTIONS = frozenset({"vf", "af", "filter"})
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_SPECIFIER = re.compile(r"[A-Za-z0-9:]*")
_CODEC_NAME = re.compile(r"[A-Za-z0-9_.-]+")

VIDEO_FILTERS = frozenset(
    {
        *_words("scale crop pad format setsar setdar setfield setparams fieldorder null copy"),
        *_words("yadif bwdif w3fdif kerndeint idet hqdn3d nlmeans atadenoise removegrain"),
        *_words("owdenoise dctdnoiz deblock deband gradfun unsharp cas smartblur gblur boxblur"),
        *_words("transpose hflip vflip rotate colorspace colormatrix zscale tonemap eq hue"),
        *_words("colorlevels colorbalance colorchannelmixer vibrance"),
        *_words("chromashift lut lutyuv lutrgb negate drawbox drawgrid tinterlace interlace"),
        *_words("fieldmatch decimate pullup fps framerate setpts noise grain tblend"),
    }
)
"""Video filters a library file may use: pure pixel work, no other input, no file access."""

AUDIO_FILTERS = frozenset(
    {
        *_words("anull aresample aformat volume loudnorm dynaudnorm acompressor alimiter"),
        *_words("highpass lowpass bandpass bandreject equalizer bass treble afftdn anlmdn"),
        *_words("pan channelmap channelsplit asetrate atempo stereotools extrastereo"),
        *_words("adelay apad afade acrossover compand speechnorm"),
    }
)
"""Audio filters a library file may use."""

# Words in option and parameter names that read or write files. (curves and selectivecolor
# are left off the allow-list: their psfile option can be given by position.)
_FILE_WORDS = ("file", "path", "csv", "dump", "stat", "recon", "analysis", "rpu", "model")


def _names_file(key: str) -> bool:
    lowered = key.lower().replace("_", "-")
    return any(word in lowered for word in _FILE_WORDS)


def check_args(args: Sequence[tuple[str, int]], key: str) -> None:
    """Refuse ffmpeg arguments that could reach beyond encoding.

    Args:
        args: each argument with its 1-based line in the file.
        key: ``video`` or ``audio``, for messages.

    Raises:
        YamlProblem: the first argument refused, at its line.
    """
    index = 0
    while index < len(args):
        option, line = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        name, specifier = _option_name(option, line, key)
        if value is None:
            raise YamlProblem(line, f"{key}: option {_quote(option)} needs a value")
        _check_option(name, specifier, option, value[0], value[1], key)
        index += 2


def _option_name(option: str, line: int, key: str) -> tuple[str, str]:
    if not option.startswith("-") or len(option) < 2:
        raise YamlProblem(
            line,
            f"{key}: {_quote(option)} is not an option; output files and other positional "
            "arguments are set by clustercode",
        )
    if option.startswith("-/"):
        raise YamlProblem(
            line, f"{key}: {_quote(option)} loads an option's value from a file; not allowed"
        )
    name, _, specifier = option[1:].partition(":")
    if not _NAME.fullmatch(name) or not _SPECIFIER.fullmatch(specifier):
        raise YamlProblem(line, f"{key}: {_quote(option)} is not an ffmpeg option name")
    return name, specifier


def _check_option(name: str, spec: str, option: str, value: str, line: int, key: str) -> None:
    if name in _FILTER_OPTIONS:
        audio = name == "af" or spec.startswith("a") or (not spec and key == "audio")
        _check_filters(value, line, key, audio=audio)
        return
    if name in _ALLOWED_TOOL_OPTIONS:
        if name in ("c", "codec", "vcodec", "acodec") and not _CODEC_NAME.fullmatch(value):
            raise YamlProblem(line, f"{key}: {_quote(value)} is not an encoder name")
        return
    base = name[2:] if name.startswith("no") and name[2:] in _TOOL_OPTIONS else name
    if base in _TOOL_OPTIONS:
        raise YamlProblem(
            line,
            f"{key}: {_quote(option)} is an ffmpeg command-line option, not an encoder option; "
            "it is not allowed in profiles (see trust_ffmpeg_args)",
        )
    if name in _FILE_AVOPTIONS or _names_file(name):
        raise YamlProblem(line, f"{key}: {_quote(option)} names a file; not allowed")
    if name.endswith("-params") or name.endswith("opts"):
        _check_params(value, line, key, option)


def _check_params(value: str, line: int, key: str, option: str) -> None:
    """``key=value:key=value`` codec-private parameters: no file keys, no paths."""
    for item in re.split(r"[:,]", value):
        param = item.partition("=")[0]
        if _names_file(param) or param.strip().lower() in _FILE_AVOPTIONS:
            raise YamlProblem(
                line, f"{key}: {option} parameter {_quote(param)} names a file; not allowed"
            )
        if "/" in item or "\\" in item:
            raise YamlProblem(
                line, f"{key}: {option} value {_quote(item)} looks like a path; not allowed"
            )


def _check_filters(graph: str, line: int, key: str, *, audio: bool) -> None:
    allowed = AUDIO_FILTERS if audio else VIDEO_FILTERS
    for spec in _split(graph, ","):
        text = spec.strip()
        if not text:
            continue
        if text.startswith("[") or text.endswith("]") or ";" in text:
            raise YamlProblem(
                line, f"{key}: filter {_quote(text)}: only a simple chain, no labels or graphs"
            )
        head, _, options = text.partition("=")
        name = head.partition("@")[0].strip()
        if name not in allowed:
            kinds = "audio" if audio else "video"
            raise YamlProblem(
                line,
                f"{key}: filter {_quote(name)} is not on the {kinds} filter allow-list "
                "(filters without file access or other inputs; see trust_ffmpeg_args)",
            )
        for option in _split(options, ":"):
            option_key = option.partition("=")[0].strip() if "=" in option else ""
            if option_key and (_names_file(option_key) or option_key in ("f", "filename")):
                raise YamlProblem(
                    line, f"{key}: filter {name} option {_quote(option_key)} names a file"
                )


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside ffmpeg's quotes ('...') and backslash escapes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == "'":
            quoted = not quoted
            current.append(char)
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _quote(text: str, limit: int = 60) -> str:
    """A short quoted excerpt: messages never carry more than ``limit`` characters of input."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(shown)
