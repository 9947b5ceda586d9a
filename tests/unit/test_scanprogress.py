"""The CLI's scan progress line."""

from __future__ import annotations

from clustercode.cli.scanprogress import progress_line
from clustercode.jobs.views import ScanProgress


def test_progress_line_shows_files_rate_queued_and_directory() -> None:
    progress = ScanProgress(
        running=True,
        files=120_000,
        directories=1_200,
        files_per_second=41_234.4,
        directory="/library/shows/x",
        decided=118_000,
        queued=3,
        seconds=2.9,
    )
    assert progress_line(progress) == (
        "scanning: 120,000 files, 41,234/s, 3 queued, in /library/shows/x"
    )
