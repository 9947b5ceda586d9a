"""In place: the verified output replaces its source inside the library."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from clustercode.library.fingerprint import fingerprint
from clustercode.models import Job, JobState
from clustercode.store.filecache import FileRecord
from clustercode.store.history import History

__all__ = ["record_in_place_output"]


async def record_in_place_output(history: History, job: Job) -> None:
    """Mark the published output's content done under the same profile; otherwise the next
    scan, finding the output where the source was, would transcode it again."""
    output = Path(job.output)
    stat = await asyncio.to_thread(output.stat)
    fp = await asyncio.to_thread(fingerprint, output, stat.st_size)
    await history.put_files(
        [
            FileRecord(
                path=str(output),
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
                ino=stat.st_ino,
                fingerprint=fp,
            )
        ]
    )
    if await history.find_job(fp, job.profile_hash) is None:
        await history.create_job(
            replace(
                job,
                id="",
                source=str(output),
                fingerprint=fp,
                state=JobState.SUCCEEDED,
                created_at=0.0,
                size_before=stat.st_size,
                size_after=stat.st_size,
                error="",
            )
        )
