"""The streaming scan against a real Redis: the one-round-trip lookup, jobs queued while the walk
goes on, bounded reports, and the progress a status call shows."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from clustercode.config import load_settings
from clustercode.jobs.decide import Decider
from clustercode.jobs.views import ScanProgress, ScanReport
from clustercode.library import stream
from clustercode.library.scanner import ScanEntry, ScanStats
from clustercode.models import Decision, DecisionKind, Job, JobState
from clustercode.profiles.profileset import ProfileSet
from clustercode.store import keys
from clustercode.store.filecache import FileRecord
from clustercode.store.history import History

pytestmark = pytest.mark.timeout(120)


def record(path: str, fp: str, *, size: int = 10, mtime: int = 5, ino: int = 7) -> FileRecord:
    return FileRecord(path=path, size=size, mtime_ns=mtime, ino=ino, fingerprint=fp)


async def test_lookup_matches_stamps_and_reads_the_index(history: History) -> None:
    job = await history.create_job(
        Job(id="", source="/l/a.mkv", fingerprint="10:aa", profile="hevc", profile_hash="ph1",
            output="/o/a.mkv")
    )  # fmt: skip
    odd = "/l/tab\there\nnewline.mkv"
    await history.put_files(
        [record("/l/a.mkv", "10:aa"), record("/l/b.mkv", "10:bb"), record(odd, "10:cc")]
    )
    # A record written in another field order still counts (read the slow way).
    await history._client.hset(
        keys.FILES, "/l/c.mkv", '{"fingerprint":"10:dd","ino":7,"mtime_ns":5,"size":10}'
    )
    found = await history.lookup(
        [
            ("/l/a.mkv", 10, 5, 7, "ph1"),  # unchanged, has a job under ph1
            ("/l/a.mkv", 10, 5, 7, "ph2"),  # unchanged, no job under ph2
            ("/l/b.mkv", 10, 6, 7, "ph1"),  # mtime changed: stale
            ("/l/b.mkv", 10, 5, 8, "ph1"),  # inode changed: stale
            ("/l/none.mkv", 10, 5, 7, "ph1"),  # never seen
            (odd, 10, 5, 7, "ph1"),  # tab and newline in the name
            ("/l/c.mkv", 10, 5, 7, "ph1"),
            ("/l/c.mkv", 11, 5, 7, "ph1"),
        ]
    )
    assert found == [
        ("10:aa", job.id, "queued"),
        ("10:aa", "", ""),
        ("", "", ""),
        ("", "", ""),
        ("", "", ""),
        ("10:cc", "", ""),
        ("10:dd", "", ""),
        ("", "", ""),
    ]


def make_tree(root: Path, files: int) -> None:
    old = time.time() - 3600
    for n in range(files):
        path = root / f"show-{n // 10:03d}" / f"episode-{n % 10}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"content {n}".encode())
        os.utime(path, (old, old))


async def test_scan_queues_while_walking_and_keeps_a_bounded_report(
    history: History, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    make_tree(library, 60)
    settings = load_settings(
        None,
        libraries=[library],
        output=tmp_path / "out",
        state_dir=tmp_path / "state",
        settle_seconds=0,
        profile="hevc",
    )
    decider = Decider(settings, ProfileSet.load(None), history)
    decider.batch = 5

    seen_while_walking: list[tuple[int, bool, int]] = []
    report = ScanReport(keep=7)

    def decided(decision: Decision) -> None:
        if decision.kind is DecisionKind.NEW and not seen_while_walking:
            seen_while_walking.append((report.stats.files, report.finished, report.queued))

    # Probing fake media fails; such files are queued (the pipeline reports the error).
    await decider.scan(report=report, on_decision=decided)
    assert report.finished and report.stats.files == 60
    assert report.counts == {DecisionKind.NEW: 60}
    assert report.queued == 60 and await history.count(JobState.QUEUED) == 60
    # The first job was queued when the walk had seen only a few batches of the 60 files.
    files_then, finished_then, queued_then = seen_while_walking[0]
    assert not finished_then and queued_then == 1 and files_then < 60
    assert len(report.decisions) == 7 and report.truncated
    assert [Path(d.path).name for d in report.decisions[:2]] == ["episode-0.mkv", "episode-1.mkv"]

    again = await decider.scan()
    assert again.counts == {DecisionKind.QUEUED: 60} and again.queued == 0
    progress = ScanProgress.of(again)
    assert not progress.running and progress.files == 60 and progress.decided == 60
    assert progress.directory == str(library / "show-005")


async def test_batches_stop_the_walk_when_the_consumer_stops(tmp_path: Path) -> None:
    make_tree(tmp_path, 100)
    stats = ScanStats()
    batches: AsyncGenerator[list[ScanEntry]] = stream.scan_batches(
        [tmp_path], extensions={"mkv"}, settle_seconds=0, stats=stats, batch=3, ahead=1
    )
    async for first in batches:
        assert len(first) == 3
        break
    await batches.aclose()
    # At most the batch taken, one waiting in the queue and one being put were walked.
    assert stats.files <= 3 * 3 + 1
