"""The control service's library scans: now, every scan interval, and soon after files change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from clustercode.config import Settings
from clustercode.errors import ClustercodeError
from clustercode.library.fswatch import LibraryWatcher

__all__ = ["scan_periodically"]

log = logging.getLogger(__name__)


async def scan_periodically(
    scan: Callable[[], Awaitable[object]], settings: Settings, stop: asyncio.Event
) -> None:
    """Scan now, then every scan interval, and soon after files change in the library."""
    watcher = LibraryWatcher(
        settings.libraries,
        exclude=settings.excluded_dirs(),
        settle_seconds=settings.settle_seconds,
    )
    await watcher.start()
    interval = settings.scan_interval
    try:
        while not stop.is_set():
            try:
                await scan()
            except ClustercodeError as exc:
                log.error("scan failed: %s", exc)
            except Exception:
                # A bug must not end the periodic scan: log it and scan again next time.
                log.exception("scan failed unexpectedly; scanning again in %ss", interval)
            waits = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(watcher.wait_settled()),
            ]
            await asyncio.wait(
                waits, timeout=settings.scan_interval, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waits:
                waiter.cancel()
    finally:
        await watcher.stop()
