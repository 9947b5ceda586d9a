"""One file's way to a job: which profile applies, where its output goes, the job it becomes.

Shared by scans (:mod:`clustercode.jobs.decide`), the API's single-file calls, ``explain`` and
``render``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clustercode.config.settings import Settings
from clustercode.errors import (
    InvalidArgumentError,
    NotFoundError,
    excerpt,
)
from clustercode.library.paths import confine, confine_output
from clustercode.library.scanner import ScanEntry
from clustercode.models import Job
from clustercode.profiles.profileset import ProfileSet, Resolution

__all__ = ["new_job", "output_path", "resolve_file"]


def resolve_file(
    settings: Settings,
    profiles: ProfileSet,
    raw: str,
    profile: str | None = None,
    *,
    field: str = "path",
    fresh: bool = False,
) -> tuple[ScanEntry, Resolution]:
    """A file a user names: confined to the library roots, stat'ed, its profile resolved.

    Args:
        raw: the path as given (relative to a library root, or absolute inside one).
        profile: a named profile that replaces the cascade's choice.
        field: the request field named in errors.
        fresh: re-read cascade files now.

    Raises:
        InvalidArgumentError: a bad path or an unknown profile.
        NotFoundError: no such file in the library.
    """
    real, root = confine(raw, settings.libraries, field=field)
    try:
        stat = real.stat()
    except OSError as exc:
        raise NotFoundError(f"cannot read {excerpt(raw)}: {exc.strerror}") from None
    entry = ScanEntry(
        path=real,
        root=root,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        inode=stat.st_ino,
        device=stat.st_dev,
    )
    if profile is not None and profile not in profiles.names():
        raise InvalidArgumentError(
            "profile", f"unknown profile {profile!r} (known: {', '.join(profiles.names())})"
        )
    resolution = profiles.resolve(real, root, profile or settings.profile, fresh=fresh)
    if profile is not None and resolution.profile.name != profile:
        resolution = replace(resolution, profile=profiles.get(profile))
    return entry, resolution


def output_path(settings: Settings, resolution: Resolution) -> Path:
    """Where a file's verified output is published: beside it in place, else under the output
    root, mirroring the library.

    Raises:
        ProfileError: the path, symlinks resolved, is not inside the output root (or, in place,
            the library root).
    """
    if settings.in_place:
        path = resolution.path.with_suffix("." + resolution.profile.container)
        root = resolution.library_root
    else:
        assert settings.output is not None  # settings.require_library() checked it
        path, root = resolution.output_path(settings.output), settings.output
    confine_output(path, root)
    return path


def new_job(settings: Settings, resolution: Resolution, entry_size: int, fp: str) -> Job:
    """The queued job for a new file under its resolved profile."""
    profile = resolution.profile
    output = output_path(settings, resolution)
    return Job(
        id="",
        source=str(resolution.path),
        fingerprint=fp,
        profile=profile.name,
        profile_hash=profile.settings_hash(),
        output=str(output),
        priority=profile.priority,
        size_before=entry_size,
        root=str(resolution.library_root),
        settings=profile.encode_settings(settings.slice_seconds).to_json(),
    )
