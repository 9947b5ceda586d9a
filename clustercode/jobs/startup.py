"""What a controller checks and prepares before it connects to anything."""

from __future__ import annotations

from clustercode.config import Settings
from clustercode.errors import ConfigError
from clustercode.profiles import ProfileSet

__all__ = ["prepare"]


def prepare(settings: Settings) -> ProfileSet:
    """Check the library roots, load the profiles and create the work, state and output dirs.

    Raises:
        ConfigError: a library root is missing or a directory cannot be created.
        ProfileError: a profile is broken.
    """
    settings.require_library()
    missing = [str(root) for root in settings.libraries if not root.is_dir()]
    if missing:
        raise ConfigError(f"library root {', '.join(missing)}: no such directory")
    profiles = ProfileSet.load(settings.profiles_dir, trust_ffmpeg_args=settings.trust_ffmpeg_args)
    dirs = [settings.work_dir, settings.state_dir]
    if settings.output is not None:
        dirs.append(settings.output)
    for path in dirs:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    return profiles
