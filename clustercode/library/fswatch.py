"""Filesystem events from the library roots, turned into "scan soon" signals.

A new or changed media file triggers a scan once the library has been quiet for the settle time,
so a file still being copied is picked up when the copy ends, not in the middle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: LibraryWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        path = str(event.dest_path or event.src_path)
        self._watcher.touched(path)


class LibraryWatcher:
    """Watches library roots; :meth:`wait_settled` returns after changes have settled.

    Args:
        roots: library roots to watch recursively.
        exclude: directories whose events are ignored (output, work and state dirs).
        settle_seconds: quiet time after the last change before a scan is due.
    """

    def __init__(
        self, roots: Sequence[Path], *, exclude: Sequence[Path], settle_seconds: float
    ) -> None:
        self._roots = [Path(r) for r in roots]
        # With a trailing separator: excluding /lib/out must not hide /lib/outdoor.
        self._exclude = tuple(str(Path(p).resolve()) + "/" for p in exclude)
        self._settle = settle_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._last_change = 0.0
        self._observer: Observer | None = None  # type: ignore[valid-type]

    async def start(self) -> None:
        """Start watching (events arrive on watchdog's thread).

        Adding the watches walks the whole library, so it runs in a thread; a system out of
        inotify watches is logged, and the periodic scans still cover the library.
        """
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._start)
        except OSError as exc:
            log.warning("cannot watch the library (%s); periodic scans still cover it", exc)

    def _start(self) -> None:
        observer = Observer()
        handler = _Handler(self)
        for root in self._roots:
            try:
                observer.schedule(handler, str(root), recursive=True)
            except OSError as exc:
                log.warning("cannot watch %s: %s; periodic scans still cover it", root, exc)
        observer.daemon = True
        observer.start()
        self._observer = observer

    async def stop(self) -> None:
        """Stop watching."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 5)

    def touched(self, path: str) -> None:
        """Record a change (called from watchdog's thread)."""
        if (path + "/").startswith(self._exclude) or "/." in path:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._mark)

    def _mark(self) -> None:
        self._last_change = time.monotonic()
        self._changed.set()

    async def wait_settled(self) -> None:
        """Return once something changed and then nothing changed for the settle time."""
        await self._changed.wait()
        while True:
            quiet = time.monotonic() - self._last_change
            if quiet >= self._settle:
                self._changed.clear()
                return
            await asyncio.sleep(self._settle - quiet + 0.05)
