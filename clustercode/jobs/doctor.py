"""``clustercode doctor``: is this machine able to do the work, and if not, what is missing.

Checks the ffmpeg the jobs would run (path, version, where it came from, the frame-exact
self-test), the encoders the profiles name, the hardware encoder families in the build, and
whether Redis and the executor answer. Needed: a usable ffmpeg, the encoders of the default
profile and of every profile in the profiles directory, Redis, the executor. The built-in
profiles' other encoders are reported; a missing one only means that profile cannot run here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from clustercode.config.settings import Settings
from clustercode.errors import ClustercodeError
from clustercode.executors import make_executor
from clustercode.profiles.profileset import ProfileSet
from clustercode.store.connection import connect
from pipelines.encoders import hardware_encoders, named_encoders
from pipelines.ffmpeg import (
    Candidate,
    CheckResult,
    FFmpegError,
    candidates,
    check_binary,
)

DEFAULT_PROFILE = "h264"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One line of the report.

    Attributes:
        topic: what was checked (``ffmpeg``, ``self-test``, ``encoder``, ``hardware``, ...).
        status: ``ok``, ``missing``, ``failed``, ``unused``, ``present``, ``absent``.
        detail: the specifics, for the user.
        needed: whether a bad status makes the machine unable to do its work.
    """

    topic: str
    status: str
    detail: str
    needed: bool = True

    @property
    def bad(self) -> bool:
        """A needed check that did not pass."""
        return self.needed and self.status in {"missing", "failed"}


def _ffmpeg_findings(
    tried: Iterable[tuple[Candidate, CheckResult]], executor: str
) -> tuple[list[Finding], CheckResult | None]:
    findings: list[Finding] = []
    chosen: CheckResult | None = None
    for candidate, result in tried:
        where = f"{result.path} ({result.version}, {candidate.origin})"
        if chosen is not None:
            verdict = "passes the self-test" if result.usable else str(result.problem)
            findings.append(
                Finding(topic="ffmpeg", status="unused", detail=f"{where}: {verdict}", needed=False)
            )
            continue
        if result.usable:
            chosen = result
            findings.append(Finding(topic="ffmpeg", status="ok", detail=f"{where} in use"))
            spelled = " ".join(result.dialect.passthrough())
            env = " ".join(f"{k}={v!r}" for k, v in result.env.items())
            findings.append(
                Finding(
                    topic="self-test",
                    status="ok",
                    detail=f"frame-exact slices of open-GOP MPEG-TS and Matroska clips "
                    f"({spelled}{'; with ' + env if env else ''})",
                )
            )
        else:
            findings.append(Finding(topic="ffmpeg", status="failed", detail=where))
            findings.append(Finding(topic="self-test", status="failed", detail=str(result.problem)))
    if executor == "argo":
        findings.append(
            Finding(
                topic="ffmpeg",
                status="note",
                detail="executor argo: the pods run their image's ffmpeg and check it themselves",
                needed=False,
            )
        )
    return findings, chosen


def _encoder_findings(
    settings: Settings, profiles: ProfileSet, available: frozenset[str]
) -> list[Finding]:
    default = settings.profile or DEFAULT_PROFILE
    user = set(profiles.names()) - {
        n for n in profiles.names() if profiles.source(n).startswith("built-in ")
    }
    needed_by: dict[str, list[str]] = {}
    required: set[str] = set()
    for name in profiles.names():
        profile = profiles.get(name)
        for encoder in named_encoders([*profile.video, *(profile.audio or ())]):
            needed_by.setdefault(encoder, []).append(name)
            if name == default or name in user:
                required.add(encoder)
    findings = []
    for encoder, names in sorted(needed_by.items()):
        present = encoder in available
        used = f"profile{'s' if len(names) > 1 else ''} {', '.join(names)}"
        detail = f"{encoder} ({used})"
        if not present:
            detail += ": not in this ffmpeg; " + (
                "jobs with it cannot run" if encoder in required else "that profile cannot run here"
            )
        findings.append(
            Finding(
                topic="encoder",
                status="ok" if present else "missing",
                detail=detail,
                needed=encoder in required,
            )
        )
    for family, builds in hardware_encoders(available).items():
        findings.append(
            Finding(
                topic="hardware",
                status="present" if builds else "absent",
                detail=f"{family}: "
                + (", ".join(builds) + " in the build (no device checked)" if builds else "none"),
                needed=False,
            )
        )
    return findings


async def _redis_finding(settings: Settings) -> Finding:
    try:
        handle = await connect(settings.redis_url, settings.state_dir)
    except ClustercodeError as exc:
        return Finding(topic="redis", status="failed", detail=str(exc))
    try:
        return Finding(topic="redis", status="ok", detail=f"{handle.where} answers")
    finally:
        await handle.close()


async def _executor_finding(settings: Settings) -> Finding:
    try:
        executor = make_executor(settings)
    except ClustercodeError as exc:
        return Finding(topic="executor", status="failed", detail=f"{settings.executor}: {exc}")
    try:
        problem = await executor.check()
    except ClustercodeError as exc:
        problem = str(exc)
    finally:
        with contextlib.suppress(ClustercodeError):
            await executor.close()
    if problem:
        return Finding(topic="executor", status="failed", detail=f"{settings.executor}: {problem}")
    return Finding(topic="executor", status="ok", detail=f"{settings.executor} answers")


def _check_all(use_cache: bool) -> list[tuple[Candidate, CheckResult]]:
    return [(c, check_binary(c.path, use_cache=use_cache)) for c in candidates()]


async def diagnose(
    settings: Settings, *, use_cache: bool = True, services: bool = True
) -> list[Finding]:
    """Every check, in report order.

    Args:
        settings: the configuration the jobs would run with.
        use_cache: reuse cached ffmpeg checks; ``False`` runs the self-test again.
        services: also check Redis and the executor; ``False`` checks only ffmpeg and the
            encoders (an image build, where neither service runs).
    """
    findings: list[Finding] = []
    available: frozenset[str] = frozenset()
    try:
        tried = await asyncio.to_thread(_check_all, use_cache)
    except FFmpegError as exc:
        findings.append(Finding(topic="ffmpeg", status="missing", detail=str(exc)))
    else:
        ffmpeg, chosen = _ffmpeg_findings(tried, settings.executor)
        findings += ffmpeg
        if chosen is None:
            findings.append(
                Finding(
                    topic="ffmpeg",
                    status="missing",
                    detail="no usable ffmpeg: set CLUSTERCODE_FFMPEG=/path/to/ffmpeg "
                    "(5.1 or newer) or pip install -U imageio-ffmpeg",
                )
            )
        else:
            available = chosen.encoders
    try:
        profiles = await asyncio.to_thread(ProfileSet.load, settings.profiles_dir)
    except ClustercodeError as exc:
        findings.append(Finding(topic="profiles", status="failed", detail=str(exc)))
    else:
        findings += _encoder_findings(settings, profiles, available)
    if services:
        findings.append(await _redis_finding(settings))
        findings.append(await _executor_finding(settings))
    return findings


def render(findings: Iterable[Finding]) -> list[str]:
    """The report's lines: topic, status, detail."""
    return [f"{f.topic:<10} {f.status:<8} {f.detail}" for f in findings]
