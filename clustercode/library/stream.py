"""The library walk as an asynchronous stream of batches, so decisions start while it goes on.

:func:`clustercode.library.scanner.scan` is a blocking generator (``scandir`` and ``stat``
calls). :func:`scan_batches` runs it in a worker thread and hands its entries to the event loop
in lists of up to ``batch`` entries through a bounded queue: the walk stays at most ``ahead``
batches ahead of the consumer, so memory is bounded whatever the library's size, and a consumer
that stops (an error, a cancelled task) stops the walk at its next batch.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from pathlib import Path
from typing import TypeVar

from clustercode.library.scanner import ScanEntry, ScanStats, scan

__all__ = ["DEFAULT_BATCH", "scan_batches"]

DEFAULT_BATCH = 2000
"""Entries per batch: large enough that a Redis round trip per batch costs little, small enough
that the first jobs are queued within a fraction of a second."""

_DONE = object()

_T = TypeVar("_T")


def _as_is(entries: list[ScanEntry]) -> list[ScanEntry]:
    return entries


async def scan_batches(
    roots: Sequence[Path],
    *,
    exclude: Sequence[Path] = (),
    extensions: Collection[str],
    settle_seconds: float,
    stats: ScanStats,
    follow_links_out: bool = False,
    batch: int = DEFAULT_BATCH,
    ahead: int = 4,
    prepare: Callable[[list[ScanEntry]], _T] = _as_is,  # type: ignore[assignment]
) -> AsyncGenerator[_T]:
    """Yield the entries of :func:`~clustercode.library.scanner.scan` in lists of up to ``batch``.

    ``stats`` is filled in by the walk thread as it goes (files, directories, the current
    directory). ``prepare`` runs in the walk thread on each list and what it returns is
    yielded: work on the entries that needs no event loop (e.g. profile resolution) then
    overlaps with the consumer's. Other arguments are those of
    :func:`~clustercode.library.scanner.scan`.

    Raises:
        Exception: whatever the walk raised, re-raised in the consumer.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def walk() -> None:
        pending: list[ScanEntry] = []
        try:
            for entry in scan(
                roots,
                exclude=exclude,
                extensions=extensions,
                settle_seconds=settle_seconds,
                stats=stats,
                follow_links_out=follow_links_out,
            ):
                pending.append(entry)
                if len(pending) >= batch:
                    if not put(prepare(pending)):
                        return
                    pending = []
            if pending and not put(prepare(pending)):
                return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(exc)

    def take() -> object:
        # A timeout, so that a consumer cancelled while waiting leaves no thread blocked.
        while True:
            try:
                return handoff.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set() or (not thread.is_alive() and handoff.empty()):
                    return _DONE

    thread = threading.Thread(target=walk, name="clustercode-scan", daemon=True)
    thread.start()
    try:
        while True:
            item = await asyncio.to_thread(take)
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
