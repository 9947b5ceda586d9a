"""Choose the ffmpeg binary and prove it cuts frame-exact before anything runs it.

Which binary: ``$CLUSTERCODE_FFMPEG`` pins one. Otherwise the static ffmpeg of the
``imageio-ffmpeg`` wheel is the default and ffmpeg on ``PATH`` the fallback. The bundled binary
comes first because it is the one release that the dependency pins and CI tests, the same on
every machine, with every encoder the built-in profiles need (libx264, libx265, libsvtav1, and
nvenc/qsv/vaapi in the build); a distribution's ffmpeg is whatever release the system carries.
``PATH`` is used when the wheel has no binary for this platform or its binary fails the check.

Every candidate is checked once per binary (path, size, modification time; the result is
cached, see :mod:`pipelines._ffmpeg_cache`): its version must be at least
:data:`SUPPORTED_FLOOR`, and a self-test (:mod:`pipelines.ffmpeg_selftest`) must cut open-GOP
test clips at non-keyframes with the step's own slice arguments and get exactly the source's
frames back. The check also picks the argument spellings the binary understands
(:class:`Dialect`) and any environment that works around a known crash.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FFMPEG_ENV = "CLUSTERCODE_FFMPEG"
SUPPORTED_FLOOR = (5, 1)
"""The oldest ffmpeg release clustercode runs (Debian 12's). Older ones are refused unchecked:
the slice and mux arguments are only proven from here on."""

ORIGIN_PINNED = FFMPEG_ENV
ORIGIN_BUNDLED = "imageio-ffmpeg"
ORIGIN_PATH = "PATH"

_VERSION = re.compile(r"ffmpeg version n?(\d+)\.(\d+)(?:\.(\d+))?")
_ENCODER = re.compile(r"^\s*[VAS][A-Z.]{5}\s+(\S+)")
_QUERY_TIMEOUT = 30


class FFmpegError(RuntimeError):
    """No usable ffmpeg binary; the message is one line that says what to do."""


class FFmpegNotFoundError(FFmpegError):
    """No ffmpeg binary at all."""


class FFmpegUnusableError(FFmpegError):
    """ffmpeg binaries exist but none passes the check."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """How a release spells "keep every frame with its source timestamp".

    Attributes:
        fps_mode: ``-fps_mode`` (5.1 and later) or ``-vsync`` (older).
        enc_time_base: value of ``-enc_time_base:v`` that means "the demuxer's time base":
            ``demux`` (7.0 and later; 9 rejects ``-1``), ``-1`` (5.1 and 6.x reject ``demux``),
            or ``None`` to leave the option out.
    """

    fps_mode: str = "-fps_mode"
    enc_time_base: str | None = "demux"

    def passthrough(self) -> list[str]:
        """Output arguments: no frame dropped or duplicated, timestamps kept."""
        args = [self.fps_mode, "passthrough"]
        if self.enc_time_base is not None:
            args += ["-enc_time_base:v", self.enc_time_base]
        return args

    def decode_passthrough(self) -> list[str]:
        """Output arguments for decoding to a hash or null output, frames as they come."""
        return [self.fps_mode, "passthrough"]


DIALECTS = (
    Dialect(fps_mode="-fps_mode", enc_time_base="demux"),
    Dialect(fps_mode="-fps_mode", enc_time_base="-1"),
    Dialect(fps_mode="-vsync", enc_time_base="-1"),
    Dialect(fps_mode="-fps_mode", enc_time_base=None),
)

# Static builds linked against an old glibc load the host's iconv modules when the MPEG-TS
# demuxer decodes DVB service names, and crash (SIGSEGV) where those modules are newer (the
# 7.0.2 and 4.2.2 static builds on Debian 12). With GCONV_PATH set, glibc skips the module
# cache and finds no converter: the name stays undecoded and nothing crashes.
GCONV_WORKAROUND: Mapping[str, str] = {"GCONV_PATH": ""}


@dataclass(frozen=True, slots=True, kw_only=True)
class FFmpeg:
    """A checked ffmpeg binary and how to run it.

    Attributes:
        path: the executable.
        origin: where it came from: ``CLUSTERCODE_FFMPEG``, ``imageio-ffmpeg``, ``PATH``.
        version: the version string (``5.1.9-0+deb12u1``).
        dialect: argument spellings this binary understands.
        env: extra environment variables every run of it needs.
        encoders: names of the encoders in the build.
    """

    path: str
    origin: str
    version: str
    dialect: Dialect = field(default_factory=Dialect)
    env: Mapping[str, str] = field(default_factory=dict)
    encoders: frozenset[str] = frozenset()

    def environ(self) -> dict[str, str]:
        """The environment for a child process running this binary."""
        return {**os.environ, **self.env}

    def describe(self) -> str:
        """``/usr/bin/ffmpeg (5.1.9-0+deb12u1, PATH)``."""
        return f"{self.path} ({self.version}, {self.origin})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """An ffmpeg binary that may be used, and where it was found."""

    path: str
    origin: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What the check found out about one binary.

    Attributes:
        path: the executable.
        version: its version string, ``"unknown"`` if it did not say.
        release: (major, minor), ``None`` for builds without a release number (git snapshots).
        usable: whether it passed.
        problem: why not, one line (``None`` when usable).
        dialect: the spellings that passed the self-test.
        env: environment the self-test needed.
        encoders: encoder names in the build.
        seconds: how long the self-test took.
        definite: the result holds until the binary changes (only such results are cached).
    """

    path: str
    version: str
    release: tuple[int, int] | None
    usable: bool
    problem: str | None = None
    dialect: Dialect = field(default_factory=Dialect)
    env: Mapping[str, str] = field(default_factory=dict)
    encoders: frozenset[str] = frozenset()
    seconds: float = 0.0
    definite: bool = True

    def to_ffmpeg(self, origin: str) -> FFmpeg:
        """The usable binary as the steps run it."""
        return FFmpeg(
            path=self.path,
            origin=origin,
            version=self.version,
            dialect=self.dialect,
            env=dict(self.env),
            encoders=self.encoders,
        )


def bundled_ffmpeg() -> str | None:
    """The static binary inside the installed ``imageio-ffmpeg`` wheel, if there is one.

    Found without importing the package (that costs a step's start-up time); its
    ``get_ffmpeg_exe`` would also fall back to ``PATH``, which is not the bundled binary.
    """
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        binaries = sorted((Path(location) / "binaries").glob("ffmpeg-*"))
        for binary in binaries:
            if binary.suffix not in {".md", ".py"} and os.access(binary, os.X_OK):
                return str(binary)
    return None


def candidates() -> list[Candidate]:
    """The binaries to try, in order of preference.

    Raises:
        FFmpegNotFoundError: ``$CLUSTERCODE_FFMPEG`` is not executable, or there is no ffmpeg.
    """
    pinned = os.environ.get(FFMPEG_ENV)
    if pinned:
        if os.sep not in pinned:
            pinned = shutil.which(pinned) or pinned  # a command name: look it up on PATH
        if not (Path(pinned).is_file() and os.access(pinned, os.X_OK)):
            raise FFmpegNotFoundError(f"{FFMPEG_ENV}={pinned} is not an executable file")
        return [Candidate(path=pinned, origin=ORIGIN_PINNED)]
    found: list[Candidate] = []
    bundled = bundled_ffmpeg()
    if bundled:
        found.append(Candidate(path=bundled, origin=ORIGIN_BUNDLED))
    on_path = shutil.which("ffmpeg")
    if on_path and not (bundled and _same_file(on_path, bundled)):
        found.append(Candidate(path=on_path, origin=ORIGIN_PATH))
    if not found:
        raise FFmpegNotFoundError(
            f"no ffmpeg: pip install 'clustercode[ffmpeg]' for the bundled one, put ffmpeg "
            f"{_floor()} or newer on PATH, or set {FFMPEG_ENV}=/path/to/ffmpeg"
        )
    return found


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def _floor() -> str:
    return ".".join(str(n) for n in SUPPORTED_FLOOR)


def read_version(path: str) -> tuple[str, tuple[int, int] | None]:
    """The version string and (major, minor) release of a binary (``ffmpeg -version``).

    Raises:
        OSError: the binary cannot be run.
    """
    out = _query(path, "-version")
    first = out.splitlines()[0] if out else ""
    words = first.split()
    version = words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else "unknown"
    return version, named_release(first)


def _query(path: str, option: str, env: Mapping[str, str] | None = None) -> str:
    """What ``ffmpeg -hide_banner OPTION`` prints on standard output."""
    done = subprocess.run(
        [path, "-hide_banner", option],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=_QUERY_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return done.stdout


def named_release(banner: str) -> tuple[int, int] | None:
    """(major, minor) from the first line of ``ffmpeg -version``; ``None`` for git snapshots
    (``N-118000-g...``), which the self-test alone judges."""
    match = _VERSION.match(banner)
    return (int(match.group(1)), int(match.group(2))) if match else None


def read_encoders(path: str, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Names of the encoders built into a binary (``ffmpeg -encoders``)."""
    names = set()
    listing = _query(path, "-encoders", env=env).partition("------")[2]
    for line in listing.splitlines():
        match = _ENCODER.match(line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def check_binary(path: str, *, use_cache: bool = True) -> CheckResult:
    """Check one binary: version floor, then the self-test; cached per binary.

    Never raises for a bad binary: the result says what is wrong with it.
    """
    from pipelines import _ffmpeg_cache

    if use_cache:
        cached = _ffmpeg_cache.load(path)
        if cached is not None:
            return cached
    result = _check_uncached(path)
    if result.definite:
        _ffmpeg_cache.store(path, result)
    return result


def _check_uncached(path: str) -> CheckResult:
    try:
        version, release = read_version(path)
    except (OSError, subprocess.SubprocessError) as exc:
        return CheckResult(
            path=path,
            version="unknown",
            release=None,
            usable=False,
            problem=f"cannot be run: {exc}",
            definite=False,
        )
    if release is not None and release < SUPPORTED_FLOOR:
        return CheckResult(
            path=path,
            version=version,
            release=release,
            usable=False,
            problem=f"is older than {_floor()}, the oldest supported release",
        )
    from pipelines.ffmpeg_selftest import self_test

    outcome = self_test(path, release=release)
    return CheckResult(
        path=path,
        version=version,
        release=release,
        usable=outcome.passed,
        problem=None if outcome.passed else outcome.problem,
        dialect=outcome.dialect,
        env=outcome.env,
        encoders=read_encoders(path, outcome.env),
        seconds=outcome.seconds,
        definite=outcome.definite,
    )


def refusal(problems: Sequence[tuple[Candidate, CheckResult]]) -> str:
    """The one line that refuses every candidate and says how to fix it."""
    parts = [
        f"ffmpeg {result.path} ({result.version}, {candidate.origin}) {result.problem}"
        for candidate, result in problems
    ]
    pinned = any(c.origin == ORIGIN_PINNED for c, _ in problems)
    fix = (
        f"unset {FFMPEG_ENV} to use the bundled ffmpeg (imageio-ffmpeg) or point it"
        if pinned
        else f"run pip install -U imageio-ffmpeg for the bundled ffmpeg or set {FFMPEG_ENV}"
    )
    return (
        "no usable ffmpeg: "
        + "; ".join(parts)
        + f"; {fix} to an ffmpeg {_floor()} or newer (clustercode doctor checks it)"
    )


def select(*, use_cache: bool = True) -> FFmpeg:
    """The first candidate that passes the check.

    Raises:
        FFmpegError: no binary, or none passes (the message is the one line to show).
    """
    tried: list[tuple[Candidate, CheckResult]] = []
    for candidate in candidates():
        result = check_binary(candidate.path, use_cache=use_cache)
        if result.usable:
            return result.to_ffmpeg(candidate.origin)
        tried.append((candidate, result))
    raise FFmpegUnusableError(refusal(tried))


@functools.cache
def checked_ffmpeg() -> FFmpeg:
    """The ffmpeg this process runs, checked (once per process, cached across processes).

    Raises:
        FFmpegError: no usable binary.
    """
    return select()


def ffmpeg_path() -> str:
    """The path of :func:`checked_ffmpeg`.

    Raises:
        FFmpegError: no usable binary.
    """
    return checked_ffmpeg().path
