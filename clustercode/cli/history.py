"""``clustercode history``: list, show, retry and delete jobs, one by one or by state.

Bulk forms (``--state parked``) say how many jobs they touch; a bulk delete asks for ``--yes``
first, because it makes the next run transcode every one of those files again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from clustercode.cli.console import EXIT_FAILED, EXIT_OK, print_job
from clustercode.cli.parser import settings_from
from clustercode.cli.progress import describe
from clustercode.errors import ClustercodeError, FailedPreconditionError, NotFoundError
from clustercode.library.fingerprint import fingerprint
from clustercode.models import Job, JobState
from clustercode.store.connection import connect
from clustercode.store.history import History

__all__ = ["history"]

_RETRYABLE = (JobState.PARKED, JobState.FAILED, JobState.CANCELLED)


async def history(args: argparse.Namespace) -> int:
    """Run one ``history`` action."""
    settings = settings_from(args, require_library=False)
    async with await connect(settings.redis_url, settings.state_dir) as handle:
        store = History(handle)
        if args.action == "list":
            state = JobState(args.state) if args.state else None
            jobs, _ = await store.list_jobs(state, max(1, min(args.limit, 1000)), "")
            for job in jobs:
                print_job(job, as_json=args.json)
            return EXIT_OK
        if args.action == "show":
            return await _show(store, args.job_id, as_json=args.json)
        if bool(args.targets) == bool(args.state):
            print(
                f"clustercode: history {args.action}: name jobs (JOB_ID_OR_PATH ...) "
                "or give --state, not both",
                file=sys.stderr,
            )
            return 2
        if args.state:
            jobs = await _jobs_in_state(store, JobState(args.state))
        else:
            jobs = [job for target in args.targets for job in await _find(store, target)]
        if args.action == "retry":
            return await _retry(store, jobs, bulk=bool(args.state), as_json=args.json)
        return await _delete(store, jobs, bulk=bool(args.state), yes=args.yes, as_json=args.json)


async def _show(store: History, job_id: str, *, as_json: bool) -> int:
    job = await store.get_job(job_id)
    slices = await store.get_slices(job.id)
    if as_json:
        print(json.dumps({**asdict(job), "slices": [asdict(s) for s in slices]}))
        return EXIT_OK
    for key, value in asdict(job).items():
        if key.endswith("_at") and value:
            value = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
        if key != "settings":
            print(f"{key:<13} {value}")
    print(f"{'settings':<13} {job.settings}")
    for s in slices:
        print(
            f"  slice {s.index:>3}: {s.state:<9} {s.frames_done}/{s.frames_total} "
            f"frames, {s.attempts} attempt(s) {s.message}"
        )
    return EXIT_OK


async def _find(store: History, target: str) -> list[Job]:
    """The jobs a JOB_ID_OR_PATH names: a job id, else every job of that file's content."""
    with contextlib.suppress(NotFoundError):
        if "/" not in target and "." not in target:
            return [await store.get_job(target)]
    path = Path(target)
    try:
        fp = await asyncio.to_thread(fingerprint, path)
    except (OSError, ClustercodeError) as exc:
        raise NotFoundError(f"no job {target!r}, and no readable file there") from exc
    jobs = await store.find_by_fingerprint(fp)
    if not jobs:
        raise NotFoundError(f"no job for {target}")
    return jobs


async def _jobs_in_state(store: History, state: JobState) -> list[Job]:
    jobs: list[Job] = []
    token = ""
    while True:
        page, token = await store.list_jobs(state, 1000, token)
        jobs += page
        if not token:
            return jobs


def _emit(jobs: Iterable[Job], verb: str, *, as_json: bool) -> None:
    for job in jobs:
        if as_json:
            print(json.dumps({"action": verb, **asdict(job)}, sort_keys=True))
        else:
            print(f"{verb} {job.id} ({describe(job, {})})")


async def _retry(store: History, jobs: list[Job], *, bulk: bool, as_json: bool) -> int:
    if not bulk:
        stuck = [job for job in jobs if job.state not in _RETRYABLE]
        if stuck:
            raise FailedPreconditionError(
                "; ".join(f"job {job.id} is {job.state.value}" for job in stuck)
                + ": only parked, failed or cancelled jobs can be retried (nothing was retried)"
            )
    queued: list[Job] = []
    for job in jobs:
        # Same transition as the API's RetryJob: queued again with a fresh attempt count.
        with contextlib.suppress(FailedPreconditionError):  # changed meanwhile: leave it
            queued.append(
                await store.set_state(
                    job.id,
                    JobState.QUEUED,
                    expect=_RETRYABLE,
                    attempts=0,
                    frames_done=0,
                    slices_done=0,
                )
            )
            await store.set_slices(job.id, [])
    _emit(queued, "queued", as_json=as_json)
    if not as_json:
        print(
            f"{len(queued)} job{'s' if len(queued) != 1 else ''} queued again; the next run "
            "(or a running service) transcodes them"
        )
    return EXIT_OK


async def _delete(store: History, jobs: list[Job], *, bulk: bool, yes: bool, as_json: bool) -> int:
    running = [job.id for job in jobs if job.state is JobState.RUNNING]
    if running:
        raise FailedPreconditionError(
            f"job {', '.join(running)} is running: cancel it first (nothing was deleted)"
        )
    if bulk and not yes:
        _emit(jobs, "would delete", as_json=as_json)
        print(
            f"clustercode: {len(jobs)} job{'s' if len(jobs) != 1 else ''} would be deleted and "
            "their files transcoded again by the next run; add --yes to delete them",
            file=sys.stderr,
        )
        return EXIT_FAILED if jobs else EXIT_OK
    deleted = []
    for job in jobs:
        with contextlib.suppress(NotFoundError):  # deleted meanwhile
            deleted.append(await store.delete_job(job.id))
    _emit(deleted, "deleted", as_json=as_json)
    if not as_json:
        print(
            f"{len(deleted)} job{'s' if len(deleted) != 1 else ''} deleted; the next run "
            "transcodes their files again"
        )
    return EXIT_OK
