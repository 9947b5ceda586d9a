"""Decide, for every media file a scan finds, what becomes of it, with a reason a user can read.

The no-change scan of a large library is the hot path: a walk streamed in batches, one Redis
call per batch to check the path cache and the (fingerprint, profile) index, fingerprints only
for files whose size, mtime or inode changed; media files are probed only when they are new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from clustercode.config.settings import Settings
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    ProfileError,
)
from clustercode.jobs.collector import fewer_collections
from clustercode.jobs.collisions import output_conflict
from clustercode.jobs.resolve import new_job
from clustercode.jobs.sink import DecisionSink
from clustercode.jobs.views import ScanReport
from clustercode.library.fingerprint import fingerprint
from clustercode.library.mediainfo import probe
from clustercode.library.scanner import ScanEntry
from clustercode.library.stream import DEFAULT_BATCH, scan_batches
from clustercode.models import Decision, DecisionKind, Job, JobState
from clustercode.profiles.profileset import ProfileSet, Resolution, skip_reason
from clustercode.store.filecache import FileRecord
from clustercode.store.history import History

log = logging.getLogger(__name__)

_FINGERPRINT_WORKERS = 8
_SUCCEEDED = JobState.SUCCEEDED.value

_Resolved = tuple[str, ScanEntry, Resolution, str]
"""A file to decide: its path, its scan entry, its profile, and that profile's settings hash."""


def job_decision(path: str, job: Job) -> Decision:
    """What an existing job for the same content and profile means for the file."""
    kind, reason = {
        JobState.SUCCEEDED: (DecisionKind.DONE, f"done by job {job.id} -> {job.output}"),
        JobState.QUEUED: (DecisionKind.QUEUED, f"queued as job {job.id}"),
        JobState.RUNNING: (DecisionKind.RUNNING, f"running as job {job.id}"),
        JobState.FAILED: (
            DecisionKind.QUEUED,
            f"job {job.id} failed ({job.error}); it is retried",
        ),
        JobState.PARKED: (DecisionKind.PARKED, f"job {job.id} parked: {job.error}"),
        JobState.CANCELLED: (
            DecisionKind.SKIPPED,
            f"job {job.id} was cancelled; retry it to transcode the file",
        ),
    }[job.state]
    return Decision(path=path, kind=kind, reason=reason, profile=job.profile, job_id=job.id)


class Decider:
    """Scans the library and turns each file into a decision, queueing new work.

    Args:
        settings: library roots, exclusions, defaults.
        profiles: named profiles and the cascade.
        history: the job store and path cache.
    """

    batch = DEFAULT_BATCH
    """Files decided together (one Redis round trip); the walk is at most a few batches ahead."""

    def __init__(self, settings: Settings, profiles: ProfileSet, history: History) -> None:
        self._settings = settings
        self._profiles = profiles
        self._history = history

    async def scan(
        self,
        *,
        queue: bool = True,
        report: ScanReport | None = None,
        on_decision: Callable[[Decision], None] | None = None,
        quiet_done: bool = False,
        on_queued: Callable[[Job], None] | None = None,
    ) -> ScanReport:
        """Walk the library roots and decide every file; with ``queue``, create the new jobs.

        The walk runs in a thread and hands over batches of files, which are decided (and their
        jobs queued) while it goes on; memory stays bounded whatever the library's size.

        Args:
            queue: create jobs for new files (else only say they would be queued).
            report: filled in as the scan goes (a status call can read it); default: a new one.
            on_decision: called with every decision, in walk order, as it is made.
            quiet_done: files already done are only counted (once the report keeps no more
                decisions) and not passed to ``on_decision``: most files of a large library
                are done, and a decision object each costs more than the rest of their check.
            on_queued: called with each job the scan creates, as it is created.
        """
        settings = self._settings
        report = report if report is not None else ScanReport()
        batches = scan_batches(
            settings.libraries,
            exclude=settings.excluded_dirs(),
            extensions=settings.media_extensions,
            settle_seconds=settings.settle_seconds,
            stats=report.stats,
            follow_links_out=settings.follow_symlinks_out,
            batch=self.batch,
            prepare=self._resolve_all,
        )
        tell = DecisionSink(report, on_decision, quiet_done or on_decision is None, on_queued)
        try:
            with fewer_collections():
                async with contextlib.aclosing(batches):
                    async for skipped, resolved in batches:
                        for decision in skipped:
                            tell.add(decision)
                        await self._decide_batch(resolved, tell, queue)
        finally:
            report.stats.seconds = time.monotonic() - report.started
            report.finished = True
        return report

    async def _decide_batch(
        self, resolved: Sequence[_Resolved], tell: DecisionSink, queue: bool
    ) -> None:
        add = tell.add
        # Path cache and fingerprint index in one round trip per batch; the usual answer for a
        # steady library is "unchanged, done", decided from the index alone.
        found = await self._history.lookup(
            [(path, e.size, e.mtime_ns, e.inode, ph) for path, e, _, ph in resolved]
        )
        stale = [e for (_, e, _, _), (fp, _, _) in zip(resolved, found, strict=True) if not fp]
        if stale:
            computed = await self._compute_fingerprints(stale)
            refs = await self._history.find_refs(
                [(computed[path], ph) for path, _, _, ph in resolved if path in computed]
            )
            for index, ((path, _, _, ph), (fp, _, _)) in enumerate(
                zip(resolved, found, strict=True)
            ):
                if not fp and path in computed:
                    ref = refs.get((computed[path], ph))
                    job = (ref.id, ref.state.value) if ref is not None else ("", "")
                    found[index] = (computed[path], *job)
        # Full records only for files whose job is not done (their reasons quote its error).
        details = {
            job.id: job
            for job in await self._history.get_jobs(
                [job_id for _, job_id, state in found if job_id and state != _SUCCEEDED]
            )
        }
        done = tell.done
        for (path, entry, resolution, _), (fp, job_id, state) in zip(resolved, found, strict=True):
            if state == _SUCCEEDED:
                done(path, resolution.profile.name, job_id)
            elif not fp:
                add(
                    Decision(
                        path=path,
                        kind=DecisionKind.SKIPPED,
                        reason="unreadable: could not fingerprint the file",
                        profile=resolution.profile.name,
                    )
                )
            elif job_id in details:
                add(job_decision(path, details[job_id]))
            else:
                decision, created = await self._decide_new(entry, resolution, fp, queue=queue)
                if created is not None:
                    tell.queued(created)
                add(decision)

    def _resolve_all(self, entries: Sequence[ScanEntry]) -> tuple[list[Decision], list[_Resolved]]:
        """Resolve every entry's profile (in the walk thread: it reads cascade files).

        Returns:
            The decisions of the files skipped, and ``(path, entry, resolution, settings hash)``
            of the others.
        """
        settings = self._settings
        skipped: list[Decision] = []
        resolved: list[_Resolved] = []
        hashes: dict[int, str] = {}  # computed once per profile
        for entry in entries:
            path = str(entry.path)
            try:
                resolution = self._profiles.resolve(entry.path, entry.root, settings.profile)
            except ClustercodeError as exc:
                skipped.append(Decision(path=path, kind=DecisionKind.SKIPPED, reason=str(exc)))
                continue
            reason = resolution.pre_skip_reason(entry.size)
            if reason is not None:
                skipped.append(
                    Decision(
                        path=path,
                        kind=DecisionKind.SKIPPED,
                        reason=reason,
                        profile=resolution.profile.name,
                    )
                )
                continue
            profile = resolution.profile
            ph = hashes.get(id(profile))
            if ph is None:
                ph = hashes[id(profile)] = profile.settings_hash()
            resolved.append((path, entry, resolution, ph))
        return skipped, resolved

    async def decide_file(
        self, entry: ScanEntry, resolution: Resolution, *, queue: bool, skip_rules: bool = True
    ) -> tuple[Decision, Job | None]:
        """Decide one file (explain and submit use this); ``skip_rules=False`` forces it."""
        path = str(entry.path)
        reason = resolution.pre_skip_reason(entry.size) if skip_rules else None
        if reason is not None:
            decision = Decision(
                path=path,
                kind=DecisionKind.SKIPPED,
                reason=reason,
                profile=resolution.profile.name,
            )
            return decision, None
        fp = (await self.fingerprints([entry])).get(path)
        if fp is None:
            raise FailedPreconditionError(f"cannot read {path}")
        job = await self._history.find_job(fp, resolution.profile.settings_hash())
        if job is not None:
            return job_decision(path, job), None
        return await self._decide_new(entry, resolution, fp, queue=queue, skip_rules=skip_rules)

    async def _decide_new(
        self,
        entry: ScanEntry,
        resolution: Resolution,
        fp: str,
        *,
        queue: bool,
        skip_rules: bool = True,
    ) -> tuple[Decision, Job | None]:
        path = str(entry.path)
        profile = resolution.profile
        reason = await self._probe_skip(entry, resolution) if skip_rules else None
        if reason is not None:
            decision = Decision(
                path=path, kind=DecisionKind.SKIPPED, reason=reason, profile=profile.name
            )
            return decision, None
        try:
            candidate = new_job(self._settings, resolution, entry.size, fp)
        except ProfileError as exc:
            log.warning("%s: %s", path, exc)
            return Decision(
                path=path, kind=DecisionKind.SKIPPED, reason=str(exc), profile=profile.name
            ), None
        conflict = await output_conflict(self._history, candidate)
        if conflict is not None:
            decision = Decision(
                path=path, kind=DecisionKind.SKIPPED, reason=conflict, profile=profile.name
            )
            return decision, None
        if not queue:
            return Decision(
                path=path,
                kind=DecisionKind.NEW,
                reason=f"would be queued with profile {profile.name}",
                profile=profile.name,
            ), None
        try:
            job = await self._history.create_job(candidate)
        except FailedPreconditionError:
            # The same content is in the library twice, and the other copy was queued first.
            existing = await self._history.find_job(fp, profile.settings_hash())
            if existing is None:
                raise
            return job_decision(path, existing), None
        await self._history.claim_output(job.output, job.id, job.source)
        decision = Decision(
            path=path,
            kind=DecisionKind.NEW,
            reason=f"queued as job {job.id} with profile {profile.name}",
            profile=profile.name,
            job_id=job.id,
        )
        return decision, job

    async def _probe_skip(self, entry: ScanEntry, resolution: Resolution) -> str | None:
        try:
            info = await asyncio.to_thread(probe, entry.path)
        except ClustercodeError as exc:
            # Not skipped: the pipeline fails the job with the reason and parks it, visibly.
            log.warning("%s", exc)
            return None
        return skip_reason(resolution.profile, info)

    async def fingerprints(self, entries: Sequence[ScanEntry]) -> dict[str, str]:
        """Fingerprints of the entries, computed only where the path cache is stale."""
        cached = await self._history.get_files([str(e.path) for e in entries])
        result: dict[str, str] = {}
        stale: list[ScanEntry] = []
        for entry in entries:
            record = cached.get(str(entry.path))
            if (
                record is not None
                and record.size == entry.size
                and record.mtime_ns == entry.mtime_ns
                and record.ino == entry.inode
            ):
                result[str(entry.path)] = record.fingerprint
            else:
                stale.append(entry)
        if stale:
            result.update(await self._compute_fingerprints(stale))
        return result

    async def _compute_fingerprints(self, entries: Sequence[ScanEntry]) -> dict[str, str]:
        """Fingerprint the files (a few at a time) and record them in the path cache."""
        semaphore = asyncio.Semaphore(_FINGERPRINT_WORKERS)

        async def one(entry: ScanEntry) -> FileRecord | None:
            async with semaphore:
                try:
                    fp = await asyncio.to_thread(fingerprint, Path(entry.path), entry.size)
                except (ClustercodeError, OSError) as exc:
                    log.warning("cannot fingerprint %s: %s", entry.path, exc)
                    return None
            return FileRecord(
                path=str(entry.path),
                size=entry.size,
                mtime_ns=entry.mtime_ns,
                ino=entry.inode,
                fingerprint=fp,
            )

        records = [r for r in await asyncio.gather(*(one(e) for e in entries)) if r is not None]
        await self._history.put_files(records)
        return {r.path: r.fingerprint for r in records}
