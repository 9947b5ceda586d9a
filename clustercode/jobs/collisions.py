"""Two sources must never publish to the same output path.

``movie.mkv`` and ``movie.ts`` in one folder both map to ``movie.mkv`` under the default
template ``{stem}.{container}``: without a check both would "succeed" and one would silently
replace the other. A new job whose output is claimed by a job of another source that is still in
the library is refused when it is queued, with a reason naming both files; ``explain`` shows
the same reason. The template ``{stem}.{ext}.{container}`` keeps such files apart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from clustercode.errors import NotFoundError
from clustercode.models import Job
from clustercode.store.history import History
from pipelines.identity import NAME_MAX

__all__ = ["SEPARATE_TEMPLATE", "output_conflict"]

SEPARATE_TEMPLATE = "{stem}.{ext}.{container}"
"""An output template under which sources differing only in extension stay apart."""


async def output_conflict(history: History, job: Job) -> str | None:
    """Why ``job`` cannot be queued for its output path, or ``None`` when it can.

    Args:
        history: the job store with the output claims.
        job: the job about to be queued (not yet stored).
    """
    name = Path(job.output).name
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        return (
            f"its output name is {len(name.encode('utf-8', 'surrogateescape'))} bytes long, "
            f"more than a file name may have ({NAME_MAX}); give it a shorter output template"
        )
    owner = await history.output_owner(job.output)
    if owner is None:
        return None
    other_id, other_source = owner
    if other_source == job.source:
        return None  # the same file again (new content, another profile): it replaces its own
    try:
        other = await history.get_job(other_id)
    except NotFoundError:
        return None  # the claim's job was deleted: the path is free
    if other.output != job.output or other.source != other_source:
        return None
    if not await asyncio.to_thread(Path(other_source).is_file):
        return None  # that file left the library; its output may be replaced
    return (
        f"output collision: {job.source} and {other_source} (job {other_id}) both map to "
        f"{job.output}; give one an output template that keeps them apart, e.g. "
        f'output: "{SEPARATE_TEMPLATE}"'
    )
