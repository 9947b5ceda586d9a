"""Snapshots of the TUI at 120x36, served by the real ApiServer over the in-memory control plane.

Each test renders the app headless and compares its screen with the SVG stored under
``__snapshots__/test_snapshots/``; ``pytest tests/tui/test_snapshots.py --snapshot-update``
rewrites them after an intended change (look at the new SVGs before committing them).

What keeps the screens stable from run to run:

- the server listens on ``unix:tui.sock`` relative to a per-test working directory, so the
  address in the status line is the same in every run and under xdist (a TCP port would not be);
- the jobs have fixed values and no clock reaches the screen: the only time shown is the ETA,
  which comes from the slices' frames and fps;
- no slice has an unknown frame count, whose progress bar would be an endless animation;
- each screenshot waits for the rows, the detail pane and the status line it shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import pytest
from textual.app import App
from textual.pilot import Pilot

import tui.app
from clustercode.models import Job, JobState, SliceProgress
from clustercode.server import ApiServer
from tests.integration.server_double import ControlDouble, make_job
from tests.tui.harness import SIZE, TOKEN, notes, settings_for, until
from tui.app import ClustercodeApp
from tui.screens import ConfirmScreen, JobsScreen

SOCKET = "unix:tui.sock"
# Port 1 is privileged and unused: connecting to it is refused at once, in every run.
NOWHERE = "127.0.0.1:1"

RUNNING = "1a7c03e95b2d"
QUEUED = "4be210d7c6f8"
SUCCEEDED = "8d51f6a0e3c9"
PARKED = "c20e9b47a1f5"
GIB = 1024**3


class SnapCompare(Protocol):
    """The ``snap_compare`` fixture of pytest-textual-snapshot."""

    def __call__(
        self,
        app: App[Any],
        press: Iterable[str] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: Callable[[Pilot[Any]], Awaitable[None] | None] | None = None,
    ) -> bool:
        """Run ``app``, screenshot it, compare with the stored snapshot."""
        ...


class SlicedControl(ControlDouble):
    """The double with four jobs, one per state the jobs screen shows, and slices per job."""

    def __init__(self) -> None:
        """Jobs in id order: running, queued, succeeded, parked."""
        super().__init__()
        self.jobs = {
            job.id: job
            for job in (
                make_job(
                    RUNNING,
                    JobState.RUNNING,
                    source="/library/Movies/Arrival (2016)/Arrival (2016).mkv",
                    output="/output/Movies/Arrival (2016)/Arrival (2016).mkv",
                    profile="hevc-1080p",
                    executor="local",
                    attempts=1,
                    frames_total=14_000,
                    frames_done=10_700,
                    slices_total=14,
                    slices_done=10,
                    size_before=int(2.1 * GIB),
                ),
                make_job(
                    QUEUED,
                    source="/library/TV/Severance/S01E02 [1080p].mkv",
                    output="/output/TV/Severance/S01E02 [1080p].mkv",
                    profile="hevc-1080p",
                    frames_total=0,
                ),
                make_job(
                    SUCCEEDED,
                    JobState.SUCCEEDED,
                    source="/library/TV/Severance/S01E01 [1080p].mkv",
                    output="/output/TV/Severance/S01E01 [1080p].mkv",
                    profile="hevc-1080p",
                    executor="local",
                    attempts=1,
                    frames_total=8_640,
                    frames_done=8_640,
                    slices_total=3,
                    slices_done=3,
                    size_before=int(1.6 * GIB),
                    size_after=int(0.7 * GIB),
                ),
                make_job(
                    PARKED,
                    JobState.PARKED,
                    source="/library/Home Videos/2009-07 beach.avi",
                    output="/output/Home Videos/2009-07 beach.mkv",
                    profile="sd-archive",
                    executor="local",
                    attempts=3,
                    frames_total=3_600,
                    frames_done=1_257,
                    slices_total=3,
                    slices_done=1,
                    size_before=int(0.4 * GIB),
                    error="slice 1 failed 3 times: ffmpeg exit 1: Invalid data found when "
                    "processing input",
                ),
            )
        }
        self.slices_of: dict[str, list[SliceProgress]] = {
            # Ten slices done, two running (one on its second try), two waiting: in index
            # order the running ones would sit below the pane's fold.
            RUNNING: [
                *(
                    SliceProgress(index=i, frames_total=1000, frames_done=1000, state="succeeded")
                    for i in range(10)
                ),
                SliceProgress(
                    index=10, frames_total=1000, frames_done=500, state="running", fps=48.0
                ),
                SliceProgress(
                    index=11,
                    frames_total=1000,
                    frames_done=200,
                    state="running",
                    fps=45.5,
                    attempts=2,
                ),
                SliceProgress(index=12, frames_total=1000, state="pending"),
                SliceProgress(index=13, frames_total=1000, state="pending"),
            ],
            SUCCEEDED: [
                SliceProgress(index=i, frames_total=2880, frames_done=2880, state="succeeded")
                for i in range(3)
            ],
            PARKED: [
                SliceProgress(index=0, frames_total=1200, frames_done=1200, state="succeeded"),
                SliceProgress(
                    index=1, frames_total=1200, frames_done=57, state="failed", attempts=3
                ),
                SliceProgress(index=2, frames_total=1200, state="pending"),
            ],
        }

    async def get_job(self, job_id: str) -> tuple[Job, list[SliceProgress]]:
        """The job and its own slices (none for a job not planned yet)."""
        job, _ = await super().get_job(job_id)
        return job, list(self.slices_of.get(job_id, []))


class ServedApp(ClustercodeApp):
    """The TUI with the real ApiServer running in the app's own event loop.

    ``snap_compare`` runs the app with ``App.run``, which makes a new loop; grpc.aio binds a
    server to the loop it starts in, so the server starts and stops inside ``run_async``.
    """

    # Textual reads a relative CSS_PATH from the subclass's directory: name the app's own file.
    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))

    def __init__(self, control: SlicedControl) -> None:
        """Serve ``control`` on :data:`SOCKET` while the app runs."""
        super().__init__(settings_for(SOCKET))
        self.control = control

    async def run_async(self, **options: Any) -> None:
        """Run the app between the server's start and stop; return what the app returns."""
        # snap_compare's screenshot is what the app returns (it exits with it).
        async with ApiServer(self.control, listen=SOCKET, token=TOKEN):
            return await super().run_async(**options)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServedApp:
    """The TUI and its server, in a working directory of its own for the socket."""
    monkeypatch.chdir(tmp_path)
    return ServedApp(SlicedControl())


def jobs_screen(pilot: Pilot[None]) -> JobsScreen:
    """The jobs screen, under any dialog in front of it."""
    screen = pilot.app.screen_stack[1]
    assert isinstance(screen, JobsScreen)
    return screen


async def loaded(pilot: Pilot[None], job_id: str) -> JobsScreen:
    """Wait for the four rows, the status line, and ``job_id``'s slices with their bars."""
    screen = jobs_screen(pilot)
    await until(pilot, lambda: screen.table.row_count == 4, "four rows")
    await until(pilot, lambda: "executor local ok" in screen.header.text, "the status line")
    assert screen.table.job_ids == [RUNNING, QUEUED, SUCCEEDED, PARKED]
    app = pilot.app
    assert isinstance(app, ServedApp)
    expected = app.control.slices_of.get(job_id, [])
    await until(
        pilot,
        lambda: (
            screen.detail.job_id == job_id
            and [row.progress for row in screen.detail.slice_rows]
            == [float(piece.frames_done) for piece in expected]
        ),
        f"job {job_id} with its slices in the detail pane",
    )
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    return screen


def test_jobs_screen(app: ServedApp, snap_compare: SnapCompare) -> None:
    """Four jobs in four states; the parked one selected, its error in the detail pane."""

    async def run_before(pilot: Pilot[None]) -> None:
        await loaded(pilot, RUNNING)
        await pilot.press("down", "down", "down")
        screen = await loaded(pilot, PARKED)
        assert "Error    slice 1 failed 3 times" in screen.detail.summary
        assert screen.table.get_cell(PARKED, "state") == "parked"
        assert screen.table.get_cell(RUNNING, "progress") == "76%"

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_job_detail_with_slice_bars(app: ServedApp, snap_compare: SnapCompare) -> None:
    """The running job: ten slices done, two running (one on its second try), two waiting.
    The running slices come first, in view; the done ones below them."""

    async def run_before(pilot: Pilot[None]) -> None:
        screen = await loaded(pilot, RUNNING)
        # 500 + 800 + 1000 + 1000 frames left at 48.0 + 45.5 fps: 35.3 s.
        assert "Frames   10700/14000 (76%)   slices 10/14   ETA 35s" in screen.detail.summary
        assert len(screen.detail.slice_rows) == 14
        shown = [row.piece.index for row in screen.detail.shown_rows]
        assert shown == [10, 11, 12, 13, *range(10)]
        pane = screen.detail.query_one("#detail-slices").region
        for row in screen.detail.shown_rows[:4]:
            assert pane.contains_region(row.region), f"slice {row.piece.index} is out of view"

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_cancel_confirmation(app: ServedApp, snap_compare: SnapCompare) -> None:
    """The question in front of the jobs screen, "No" focused."""

    async def run_before(pilot: Pilot[None]) -> None:
        await loaded(pilot, RUNNING)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the dialog")
        dialog = pilot.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question == f"Cancel job {RUNNING} (running)?"
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_disconnected(snap_compare: SnapCompare) -> None:
    """No server: the status line says so and why; the table stays empty."""
    app = ClustercodeApp(settings_for(NOWHERE))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = jobs_screen(pilot)
        await until(pilot, lambda: "disconnected" in screen.header.text, "disconnected")
        assert screen.header.text.endswith(f"cannot reach {NOWHERE} (connection refused)")
        # Whichever call fails first (GetStatus or WatchJobs) names the one notification; the
        # race would change the toast's title from run to run, so the toast is dismissed.
        await until(pilot, lambda: len(notes(app)) == 1, "the failure notification")
        app.clear_notifications()
        await pilot.pause(0.3)  # a few retries, which must not notify again
        assert notes(app) == []
        assert screen.table.row_count == 0

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
