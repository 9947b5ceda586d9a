"""A small in-memory ControlPlane for the servicer-level tests of the gRPC server.

It stands in for the layer below the servicer only, to test what the server itself does (status
codes, the token check, paging fields, streaming and shutdown); the full-stack tests run the real
Controller. Each method records its call; ``fail[method]`` makes the next call raise.
Run as a module it serves itself, for the signal-handling test:
``python -m tests.integration.server_double LISTEN [TOKEN]`` prints the bound port.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from clustercode.errors import NotFoundError
from clustercode.jobs.views import Explanation, ProfileSummary, ScanReport, SchedulerPause, Status
from clustercode.models import Decision, DecisionKind, Job, JobEvent, JobState, SliceProgress
from clustercode.server import ApiServer, serve


def make_job(job_id: str, state: JobState = JobState.QUEUED, **changes: Any) -> Job:
    """Return a job with plausible values."""
    values: dict[str, Any] = {
        "id": job_id,
        "source": f"/library/{job_id}.mkv",
        "fingerprint": f"fp-{job_id}",
        "profile": "default",
        "profile_hash": "ph",
        "output": f"/output/{job_id}.mkv",
        "state": state,
        "created_at": 1_700_000_000.25,
        "frames_total": 240,
    }
    values.update(changes)
    return Job(**values)


class ControlDouble:
    """Implements ControlPlane over a dict of jobs and a list of events."""

    def __init__(self) -> None:
        """Start with three jobs and no events."""
        self.jobs: dict[str, Job] = {
            "j1": make_job("j1", JobState.RUNNING, slices_total=2, started_at=1_700_000_001.0),
            "j2": make_job("j2", JobState.QUEUED),
            "j3": make_job("j3", JobState.SUCCEEDED, finished_at=1_700_000_100.0),
        }
        self.slices = [
            SliceProgress(index=0, frames_total=120, frames_done=120, state="succeeded"),
            SliceProgress(index=1, frames_total=120, frames_done=30, state="running", fps=42.5),
        ]
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}
        self.events: list[JobEvent] = []
        self.watchers_open = 0
        self.pause: SchedulerPause | None = None
        """What ``status`` reports as the scheduler's pause."""
        self._news = asyncio.Condition()

    def _call(self, method: str, **args: Any) -> None:
        self.calls.append((method, args))
        error = self.fail.pop(method, None)
        if error is not None:
            raise error

    def _job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFoundError(f"job {job_id} does not exist") from None

    async def publish(self, kind: str, job_id: str, slice_: SliceProgress | None = None) -> None:
        """Append an event (ids 1, 2, ...) and wake the watchers."""
        event = JobEvent(
            id=str(len(self.events) + 1),
            job_id=job_id,
            kind=kind,
            job=self.jobs[job_id],
            slice=slice_,
            time=1_700_000_000.0 + len(self.events),
        )
        async with self._news:
            self.events.append(event)
            self._news.notify_all()

    async def status(self) -> Status:
        """Status with three states counted, and :attr:`pause`."""
        self._call("status")
        return Status(
            version="0.1.0",
            executor="local",
            executor_error="",
            redis_error="",
            queue_depth=1,
            active_jobs=1,
            counts={JobState.QUEUED: 1, JobState.RUNNING: 1, JobState.SUCCEEDED: 1},
            pause=self.pause,
        )

    async def scan(self) -> ScanReport:
        """Three decisions."""
        self._call("scan")
        decisions = [
            Decision(path=f"/library/{n}.mkv", kind=DecisionKind.NEW, reason="new", job_id=n)
            for n in ("a", "b", "c")
        ]
        return ScanReport(decisions=decisions)

    async def submit(
        self,
        path: str,
        *,
        profile: str | None = None,
        priority: int | None = None,
        force: bool = False,
    ) -> Job:
        """Queue a job named after the path."""
        self._call("submit", path=path, profile=profile, priority=priority, force=force)
        job = make_job("j9", source=f"/library/{path}", profile=profile or "default")
        self.jobs[job.id] = job
        return job

    async def explain(self, path: str) -> Explanation:
        """Explain with fixed values."""
        self._call("explain", path=path)
        decision = Decision(path=f"/library/{path}", kind=DecisionKind.SKIPPED, reason="hevc")
        return Explanation(
            path=f"/library/{path}",
            profile="default",
            origins={"video": "/library/.clustercode.yaml"},
            output=f"/output/{path}",
            decision=decision,
            skip_reason="already HEVC",
            slices=4,
            frames=960,
            values={"container": "mkv"},
            duration=40.0,
        )

    async def list_jobs(
        self, *, state: JobState | None, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        """Page through the jobs in id order; the token is the next offset."""
        self._call("list_jobs", state=state, page_size=page_size, page_token=page_token)
        jobs = [
            j for j in sorted(self.jobs.values(), key=lambda j: j.id) if state in (None, j.state)
        ]
        start = int(page_token or 0)
        end = start + page_size
        return jobs[start:end], str(end) if end < len(jobs) else ""

    async def get_job(self, job_id: str) -> tuple[Job, list[SliceProgress]]:
        """The job and two slices."""
        self._call("get_job", job_id=job_id)
        return self._job(job_id), list(self.slices)

    async def watch(self, *, job_id: str | None, after: str) -> AsyncIterator[JobEvent]:
        """Yield events after ``after`` ("" = new only, "0" = all), waiting for new ones."""
        self._call("watch", job_id=job_id, after=after)
        position = len(self.events) if after == "" else int(after)
        self.watchers_open += 1
        try:
            while True:
                async with self._news:
                    while len(self.events) <= position:
                        await self._news.wait()
                    fresh = self.events[position:]
                position += len(fresh)
                for event in fresh:
                    if job_id in (None, event.job_id):
                        yield event
        finally:
            self.watchers_open -= 1

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job."""
        self._call("cancel", job_id=job_id)
        self._job(job_id)
        self.jobs[job_id] = make_job(job_id, JobState.CANCELLED)
        return self.jobs[job_id]

    async def retry(self, job_id: str) -> Job:
        """Queue a job again."""
        self._call("retry", job_id=job_id)
        self._job(job_id)
        self.jobs[job_id] = make_job(job_id, JobState.QUEUED, attempts=1)
        return self.jobs[job_id]

    async def delete(self, job_id: str) -> Job:
        """Forget a job."""
        self._call("delete", job_id=job_id)
        self._job(job_id)
        return self.jobs.pop(job_id)

    async def list_profiles(self) -> list[ProfileSummary]:
        """Two profiles: one copies audio, one encodes it."""
        self._call("list_profiles")
        return [
            ProfileSummary(
                name="default",
                origin="/profiles/default.yaml",
                container="mkv",
                video=("-c:v", "libx264", "-crf", "23"),
                audio=None,
                slice_seconds=30.0,
                priority=0,
            ),
            ProfileSummary(
                name="small",
                origin="/profiles/small.yaml",
                container="mp4",
                video=("-c:v", "libx265"),
                audio=("-c:a", "aac", "-b:a", "96k"),
                slice_seconds=10.0,
                priority=5,
                description="small files for phones",
            ),
        ]


async def _main(listen: str, token: str | None) -> None:
    def ready(server: ApiServer) -> None:
        sys.stdout.write(f"{server.bound_port}\n")
        sys.stdout.flush()

    await serve(
        ControlDouble(),
        listen=listen,
        token=token,
        allow_insecure_remote=False,
        stop=None,
        grace=10.0,
        on_listening=ready,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(_main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
