"""The ffmpeg check's results, kept per binary so every later process skips the self-test.

One JSON file, ``ffmpeg-check.json``, in ``$CLUSTERCODE_CACHE_DIR``, else
``$XDG_CACHE_HOME/clustercode``, else ``~/.cache/clustercode``. An entry holds for the binary
with that real path, size and modification time, checked by this :data:`CHECK_VERSION` of the
check; anything else is checked again. Writes are atomic (temp file + rename); two processes
writing at once may lose one entry, which is then checked again. An unreadable or unwritable
cache is no error: the check runs again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from pipelines.ffmpeg import CheckResult, Dialect

logger = logging.getLogger(__name__)

CACHE_ENV = "CLUSTERCODE_CACHE_DIR"
CACHE_NAME = "ffmpeg-check.json"
CHECK_VERSION = 1
"""Raise when the self-test or the slice arguments change: older results no longer hold."""


def cache_dir() -> Path:
    """Where the cache file lives."""
    pinned = os.environ.get(CACHE_ENV)
    if pinned:
        return Path(pinned)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "clustercode"


def cache_file() -> Path:
    """The cache file's path."""
    return cache_dir() / CACHE_NAME


def _identity(path: str) -> dict[str, Any] | None:
    try:
        real = str(Path(path).resolve())
        stat = Path(real).stat()
    except OSError:
        return None
    return {"real": real, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read() -> dict[str, Any]:
    try:
        raw = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("version") != CHECK_VERSION:
        return {}
    binaries = raw.get("binaries")
    return binaries if isinstance(binaries, dict) else {}


def load(path: str) -> CheckResult | None:
    """The cached result for this binary, if it still holds."""
    identity = _identity(path)
    if identity is None:
        return None
    entry = _read().get(identity["real"])
    if not isinstance(entry, dict) or entry.get("identity") != identity:
        return None
    try:
        return _decode(path, entry["result"])
    except (KeyError, TypeError, ValueError):
        return None


def store(path: str, result: CheckResult) -> None:
    """Keep ``result`` for this binary (best effort)."""
    identity = _identity(path)
    if identity is None:
        return
    binaries = _read()
    binaries[identity["real"]] = {"identity": identity, "result": _encode(result)}
    text = json.dumps({"version": CHECK_VERSION, "binaries": binaries}, indent=1, sort_keys=True)
    import tempfile  # only a cache miss writes: keep it off every step's start-up

    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".ffmpeg-check.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            Path(temp).replace(directory / CACHE_NAME)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(temp).unlink()
    except OSError as exc:
        logger.info("cannot cache the ffmpeg check in %s: %s", directory, exc)


def _encode(result: CheckResult) -> dict[str, Any]:
    return {
        "version": result.version,
        "release": list(result.release) if result.release else None,
        "usable": result.usable,
        "problem": result.problem,
        "dialect": {
            "fps_mode": result.dialect.fps_mode,
            "enc_time_base": result.dialect.enc_time_base,
        },
        "env": dict(result.env),
        "encoders": sorted(result.encoders),
        "seconds": round(result.seconds, 3),
    }


def _decode(path: str, raw: dict[str, Any]) -> CheckResult:
    release = raw["release"]
    dialect = raw["dialect"]
    return CheckResult(
        path=path,
        version=str(raw["version"]),
        release=(int(release[0]), int(release[1])) if release else None,
        usable=bool(raw["usable"]),
        problem=raw["problem"],
        dialect=Dialect(fps_mode=str(dialect["fps_mode"]), enc_time_base=dialect["enc_time_base"]),
        env={str(k): str(v) for k, v in raw["env"].items()},
        encoders=frozenset(str(e) for e in raw["encoders"]),
        seconds=float(raw["seconds"]),
    )
