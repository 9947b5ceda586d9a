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

from clustercode.backoff import OUTAGE_BACKOFF
from clustercode.cli.console import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    install_interrupt,
)
from clustercode.cli.history import history
from clustercode.cli.observe import observed
from clustercode.cli.parser import settings_from
from clustercode.cli.progress import ProgressDisplay
from clustercode.cli.run_report import (
    describe_done,
    outcome_line,
    scan_lines,
    settling,
    settling_hint,
)
from clustercode.cli.scanprogress import scan_with_progress
from clustercode.config.settings import Settings
from clustercode.errors import (
    ConfigError,
    UnavailableError,
)
from clustercode.jobs.controller import Controller
from clustercode.jobs.tools import require_ffmpeg
from clustercode.jobs.views import ScanReport
from clustercode.library.fingerprint import fingerprint
from clustercode.models import DecisionKind, JobState
from clustercode.profiles.profileset import ProfileSet
from clustercode.store.lease import Holder


def _waiting(holder: Holder) -> None:
    print(
        f"clustercode: waiting for the control service that runs jobs here ({holder.describe()})",
        file=sys.stderr,
        flush=True,
    )


async def run(args: argparse.Namespace) -> int:
    """Scan, transcode what is new, record it, exit: 0 all done, 1 a file failed or is parked,
    130 interrupted. What it leaves undone, it says why."""
    settings = settings_from(args)
    await require_ffmpeg(settings)
    async with Controller.open(settings, wait=args.wait, on_wait=_waiting) as ctl:
        stop = asyncio.Event()
        install_interrupt(stop)
        start = await ctl.history.last_event_id() or "0"
        report = await _scan_settled(ctl, settings, args, stop)
        for line in await describe_done(ctl.history, report, settings, verbose=args.verbose > 0):
            print(line, flush=True)
        finals: dict[str, JobState] = {}
        live = False if args.no_progress else None
        with ProgressDisplay(live=live) as display:

            async def follow() -> None:
                after, failures = start, 0
                while True:
                    try:
                        async for event in ctl.watch(after=after):
                            after, failures = event.id, 0
                            display.update(event)
                            # A state change (not a record created as it is, like an in-place
                            # output's).
                            if event.kind == "state" and "from" in event.extra:
                                finals[event.job_id] = event.job.state
                    except UnavailableError as exc:
                        failures += 1
                        delay = OUTAGE_BACKOFF.delay(failures)
                        if failures == 1:
                            display.note(
                                f"clustercode: redis is unreachable ({exc}); retrying, jobs "
                                "keep running (Ctrl-C stops)"
                            )
                        await asyncio.sleep(delay)

            watcher = asyncio.create_task(follow())
            work = asyncio.create_task(ctl.run_until_idle())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await ctl.interrupt()
            work.cancel()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            await asyncio.sleep(0.3)  # let the last events reach the display
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        outcome = Counter(finals.values())
        print(outcome_line(outcome, report), flush=True)
        if stop.is_set():
            return EXIT_INTERRUPTED
        if ctl.scheduler.paused is not None:
            print(
                f"clustercode: stopped, no file counted as failed: {ctl.scheduler.paused}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if ctl.lease_lost:
            print(
                "clustercode: another control service took over this store; stopped",
                file=sys.stderr,
            )
            return EXIT_FAILED
        # Parked files count whether they were parked now or by an earlier run: the same
        # library gives the same exit code until someone retries them.
        bad = outcome[JobState.PARKED] + outcome[JobState.FAILED]
        bad += report.counts[DecisionKind.PARKED]
        return EXIT_FAILED if bad else EXIT_OK


async def _scan_once(ctl: Controller, args: argparse.Namespace) -> ScanReport:
    """One scan with its progress shown; jobs start as the scan queues them."""
    scanned = asyncio.Event()
    early = asyncio.create_task(ctl.scheduler.run(stop=scanned))
    try:
        return await scan_with_progress(
            ctl, verbose=args.verbose > 0, live=False if args.no_progress else None
        )
    finally:
        scanned.set()
        await early


async def _scan_settled(
    ctl: Controller, settings: Settings, args: argparse.Namespace, stop: asyncio.Event
) -> ScanReport:
    """Scan and print what was found; with --wait-settle, scan again until no file is still
    changing (or the wait's limit passes, or the user interrupts)."""
    report = await _scan_once(ctl, args)
    for line in scan_lines(report, verbose=args.verbose > 0):
        print(line, flush=True)
    deadline = time.monotonic() + (args.wait_settle or 0.0)
    while settling(report) and args.wait_settle is not None and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"  still changing after {args.wait_settle:.0f} s: giving up on them", flush=True)
            break
        pause = min(left, max(1.0, settings.settle_seconds))
        print(
            f"  waiting {pause:.0f} s for {settling(report)} file(s) still changing ...",
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        report = await _scan_once(ctl, args)
        for line in scan_lines(report, verbose=args.verbose > 0):
            print(line, flush=True)
    hint = settling_hint(report, settings)
    if hint and args.wait_settle is None:
        print(hint, flush=True)
    return report


async def serve(args: argparse.Namespace) -> int:
    """Run the control service and its gRPC API until SIGTERM or Ctrl-C."""
    from clustercode.server.app import serve as serve_api
    from clustercode.server.tls import tls_files

    settings = settings_from(args)
    token = settings.bearer_token()
    await require_ffmpeg(settings)
    async with (
        Controller.open(settings, wait=args.wait, on_wait=_waiting) as ctl,
        observed(ctl, metrics_listen=settings.metrics_listen) as interceptors,
    ):
        stop = asyncio.Event()
        background = asyncio.create_task(ctl.serve_forever(stop), name="scheduler-and-scans")
        try:
            await serve_api(
                ctl,
                listen=settings.listen,
                token=token,
                allow_insecure_remote=settings.allow_insecure_remote,
                stop=stop,
                tls=tls_files(settings),
                background=(background,),
                on_listening=lambda server: print(
                    f"clustercode {settings.executor} executor; gRPC API on {server.address}",
                    file=sys.stderr,
                    flush=True,
                ),
                interceptors=interceptors,
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


async def profiles(args: argparse.Namespace) -> int:
    """List the named profiles and where each comes from."""
    settings = settings_from(args, require_library=False)
    profile_set = ProfileSet.load(
        settings.profiles_dir, trust_ffmpeg_args=settings.trust_ffmpeg_args
    )
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

    from clustercode.jobs.resolve import new_job, resolve_file
    from clustercode.jobs.workflows import manifest_factory

    settings = _settings_for_file(args)
    profile_set = ProfileSet.load(
        settings.profiles_dir, trust_ffmpeg_args=settings.trust_ffmpeg_args
    )
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
