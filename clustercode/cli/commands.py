"""The subcommands of the `clustercode` CLI; their options are in :mod:`clustercode.cli.parser`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

from clustercode.cli.console import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    install_interrupt,
    print_job,
)
from clustercode.cli.parser import settings_from
from clustercode.cli.progress import ProgressDisplay, describe
from clustercode.cli.scanprogress import scan_with_progress
from clustercode.config.settings import Settings
from clustercode.errors import (
    ClustercodeError,
    ConfigError,
    FailedPreconditionError,
    NotFoundError,
)
from clustercode.jobs.controller import Controller
from clustercode.jobs.tools import require_ffmpeg
from clustercode.library.fingerprint import fingerprint
from clustercode.models import DecisionKind, JobState
from clustercode.profiles.profileset import ProfileSet
from clustercode.store.connection import connect
from clustercode.store.history import History


async def run(args: argparse.Namespace) -> int:
    """Scan, transcode what is new, record it, exit: 0 all done, 1 a file failed, 130 stopped."""
    settings = settings_from(args)
    await require_ffmpeg(settings)
    async with Controller.open(settings) as ctl:
        start = await ctl.history.last_event_id() or "0"
        # Jobs start as the scan queues them; their events are shown from ``start`` on.
        scanned = asyncio.Event()
        early = asyncio.create_task(ctl.scheduler.run(stop=scanned))
        try:
            report = await scan_with_progress(
                ctl, verbose=args.verbose, live=False if args.no_progress else None
            )
        finally:
            scanned.set()
            await early
        counts = report.counts
        found = ", ".join(f"{counts[k]} {k.value}" for k in DecisionKind if counts[k])
        print(
            f"scanned {report.stats.files} file{'s' if report.stats.files != 1 else ''} "
            f"in {report.stats.seconds:.1f} s: " + (found or "no media files"),
            flush=True,
        )
        stop = asyncio.Event()
        install_interrupt(stop)
        finals: dict[str, JobState] = {}
        live = False if args.no_progress else None
        with ProgressDisplay(live=live) as display:

            async def follow() -> None:
                async for event in ctl.watch(after=start):
                    display.update(event)
                    # A state change (not a record created as it is, like an in-place output's).
                    if event.kind == "state" and "from" in event.extra:
                        finals[event.job_id] = event.job.state

            watcher = asyncio.create_task(follow())
            work = asyncio.create_task(ctl.run_until_idle())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await ctl.scheduler.shutdown(cancel_running=True)
            work.cancel()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            await asyncio.sleep(0.3)  # let the last events reach the display
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        outcome = Counter(finals.values())
        print(
            "done: "
            + (", ".join(f"{n} {s.value}" for s, n in outcome.items()) or "nothing to transcode"),
            flush=True,
        )
        if stop.is_set():
            return EXIT_INTERRUPTED
        if ctl.scheduler.paused is not None:
            print(
                f"clustercode: stopped, no file counted as failed: {ctl.scheduler.paused}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        bad = outcome[JobState.PARKED] + outcome[JobState.FAILED]
        return EXIT_FAILED if bad else EXIT_OK


async def serve(args: argparse.Namespace) -> int:
    """Run the control service and its gRPC API until SIGTERM or Ctrl-C."""
    from clustercode.server.app import serve as serve_api

    settings = settings_from(args)
    token = settings.bearer_token()
    await require_ffmpeg(settings)
    async with Controller.open(settings) as ctl:
        stop = asyncio.Event()
        background = asyncio.create_task(ctl.serve_forever(stop))
        try:
            await serve_api(
                ctl,
                listen=settings.listen,
                token=token,
                allow_insecure_remote=settings.allow_insecure_remote,
                stop=stop,
                on_listening=lambda server: print(
                    f"clustercode {settings.executor} executor; gRPC API on {server.address}",
                    file=sys.stderr,
                    flush=True,
                ),
            )
        finally:
            stop.set()
            await background
    return EXIT_OK


async def doctor(args: argparse.Namespace) -> int:
    """Check what the work needs; 0 when everything needed is there, 1 otherwise."""
    from clustercode.jobs.doctor import diagnose, render

    settings = settings_from(args, require_library=False)
    findings = await diagnose(settings, use_cache=not args.recheck, services=not args.ffmpeg_only)
    for line in render(findings):
        print(line, flush=True)
    bad = [f for f in findings if f.bad]
    if bad:
        plural = "s" if len(bad) > 1 else ""
        print(f"clustercode doctor: {len(bad)} problem{plural}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def explain(args: argparse.Namespace) -> int:
    """Print which files decided which setting for a file, and what a scan would do."""
    settings = _settings_for_file(args)
    async with Controller.open(settings, run_jobs=False) as ctl:
        text = await ctl.explain(_absolute(args.file))
    if args.json:
        print(json.dumps(asdict(text), default=str, indent=2))
        return EXIT_OK
    print(f"file:     {text.path}")
    kind, reason = text.decision.kind.value, text.decision.reason
    print(f"decision: {reason if reason.startswith(kind) else f'{kind}: {reason}'}")
    print(f"output:   {text.output}")
    if text.frames:
        plural = "s" if text.slices != 1 else ""
        print(
            f"plan:     about {text.slices} slice{plural}, {text.frames} frames, "
            f"{text.duration:.1f} s"
        )
    print("settings:")
    width = max(len(setting) for setting in text.origins)
    for setting, origin in text.origins.items():
        print(f"  {setting:<{width}}  {text.values.get(setting, '')}    <- {origin}")
    return EXIT_OK


async def history(args: argparse.Namespace) -> int:
    """List, show or delete history entries."""
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
            job = await store.get_job(args.job_id)
            slices = await store.get_slices(job.id)
            if args.json:
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
        target = args.target
        jobs = []
        with contextlib.suppress(NotFoundError):
            if "/" not in target and "." not in target:
                jobs = [await store.get_job(target)]
        if not jobs:
            path = Path(target)
            try:
                fp = await asyncio.to_thread(fingerprint, path)
            except (OSError, ClustercodeError) as exc:
                raise NotFoundError(f"no job {target!r}, and no readable file there") from exc
            jobs = await store.find_by_fingerprint(fp)
            if not jobs:
                raise NotFoundError(f"no job for {target}")
        running = [job.id for job in jobs if job.state is JobState.RUNNING]
        if running:
            raise FailedPreconditionError(
                f"job {', '.join(running)} is running: cancel it first (nothing was deleted)"
            )
        for job in jobs:
            deleted = await store.delete_job(job.id)
            print(f"deleted {deleted.id} ({describe(deleted, {})}); the next run redoes the file")
        return EXIT_OK


async def profiles(args: argparse.Namespace) -> int:
    """List the named profiles and where each comes from."""
    settings = settings_from(args, require_library=False)
    profile_set = ProfileSet.load(settings.profiles_dir)
    for name in profile_set.names():
        profile = profile_set.get(name)
        audio = "copy" if profile.audio is None else " ".join(profile.audio)
        print(f"{name}: {profile.description or ''}")
        print(f"  from   {profile_set.source(name)}")
        print(f"  video  {' '.join(profile.video)}")
        print(f"  audio  {audio}; container {profile.container}; slices {profile.slice_seconds} s")
    return EXIT_OK


async def render(args: argparse.Namespace) -> int:
    """Print the Workflow manifest a file's job would submit."""
    import yaml

    from clustercode.jobs.decide import new_job, resolve_file
    from clustercode.jobs.workflows import manifest_factory

    settings = _settings_for_file(args)
    profile_set = ProfileSet.load(settings.profiles_dir)
    entry, resolution = resolve_file(
        settings, profile_set, _absolute(args.file), args.profile, field="file"
    )
    fp = await asyncio.to_thread(fingerprint, entry.path, entry.size)
    job = replace(new_job(settings, resolution, entry.size, fp), id=fp.rpartition(":")[2][:12])
    manifest = manifest_factory(settings)(job, 1)
    print(yaml.safe_dump(dict(manifest), sort_keys=False), end="")
    return EXIT_OK


def _absolute(file: str) -> str:
    """A FILE argument is a path from the current directory (not resolved: symlinks are
    checked against the library roots as they are)."""
    return file if Path(file).is_absolute() else str(Path.cwd() / file)


def _settings_for_file(args: argparse.Namespace) -> Settings:
    if args.library is None:
        try:
            return settings_from(args)
        except ConfigError:
            args.library = Path(_absolute(args.file)).parent
    settings = settings_from(args, require_library=False)
    if settings.output is None and not settings.in_place:
        raise ConfigError("give the output root with --output (or set output in the config)")
    return settings


__all__ = ["EXIT_FAILED", "explain", "history", "profiles", "render", "run", "serve"]
