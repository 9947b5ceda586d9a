"""The jobs screen over real gRPC: the table, live events, the detail pane, paging, filters."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from clustercode.jobs.views import SchedulerPause
from clustercode.models import JobState, SliceProgress
from clustercode.server import ApiServer
from tests.integration.server_double import ControlDouble, make_job
from tests.tui.harness import SIZE, calls_of, settings_for, until
from tui.app import ClustercodeApp
from tui.screens import JobsScreen


def screen_of(app: ClustercodeApp) -> JobsScreen:
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return screen


async def test_table_shows_the_jobs_of_list_jobs(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        table = screen.table
        await until(pilot, lambda: table.row_count == 3, "three rows")
        assert table.job_ids == ["j1", "j2", "j3"]
        assert [table.get_cell(j, "state") for j in table.job_ids] == [
            "running",
            "queued",
            "succeeded",
        ]
        assert table.get_cell("j3", "progress") == "100%"
        assert table.get_cell("j1", "slices") == "0/2"
        assert table.get_cell("j1", "source") == "/library/j1.mkv"
        assert table.border_title == "Jobs: all (3)"
        assert calls_of(control, "list_jobs")[0] == {
            "state": None,
            "page_size": 50,
            "page_token": "",
        }
        await until(pilot, lambda: "executor local ok" in screen.header.text, "the status line")
        assert "clustercode 0.1.0 @ " + server.target in screen.header.text
        assert "redis ok" in screen.header.text
        assert "queued 1" in screen.header.text and "active 1" in screen.header.text
        # The screen's stylesheet is in force: a one-line header, the table, a 16-line detail pane.
        assert (screen.header.region.height, screen.detail.region.height) == (1, 16)
        assert table.region.height == SIZE[1] - 1 - 16 - 1  # the footer takes the last line
        await pilot.press("q")
    assert app.return_code == 0
    assert app.client.closed


async def test_the_header_shows_the_schedulers_pause_until_it_ends(
    server: ApiServer, control: ControlDouble
) -> None:
    control.pause = SchedulerPause(
        reason="clustercode-step split: encoder libx265 is not in ffmpeg /usr/bin/ffmpeg",
        next_try=time.time() + 125,
        pauses=2,
    )
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        header = screen_of(app).header
        await until(pilot, lambda: "paused" in header.text, "the pause in the header")
        assert re.search(
            r"  \|  active 1  \|  paused: clustercode-step split: encoder libx265 is not in ffmpeg "
            r"/usr/bin/ffmpeg, next try in 2m0[0-5]s$",
            header.text,
        ), header.text
        assert header.has_class("-paused") and not header.has_class("-disconnected")
        control.pause = None  # a job succeeded after the next try
        await until(pilot, lambda: "paused" not in header.text, "the pause to go")
        assert header.text.endswith("  |  active 1")
        assert not header.has_class("-paused")
        await pilot.press("q")


async def test_a_watch_event_updates_the_row_and_the_slice_bar(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await until(pilot, lambda: control.watchers_open == 1, "the watch stream")
        await until(pilot, lambda: len(screen.detail.slice_rows) == 2, "j1's slices")
        assert screen.table.get_cell("j1", "progress") == "0%"

        control.jobs["j1"] = replace(control.jobs["j1"], frames_done=200, slices_done=1)
        moved = SliceProgress(index=1, frames_total=120, frames_done=80, state="running", fps=40.0)
        control.slices[1] = moved  # what a GetJob in flight will answer
        await control.publish("slice", "j1", moved)

        await until(pilot, lambda: screen.table.get_cell("j1", "progress") == "83%", "83%")
        assert screen.table.get_cell("j1", "slices") == "1/2"
        row = screen.detail.slice_rows[1]
        await until(pilot, lambda: row.progress == 80, "the slice bar at 80 frames")
        assert "80/120 frames" in row.text and "40.0 fps" in row.text
        # 40 frames left at 40 fps.
        assert "Frames   200/240 (83%)   slices 1/2   ETA 1s" in screen.detail.summary
        assert screen.last_event_id == "1"


async def test_state_events_update_rows_and_add_new_jobs(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await until(pilot, lambda: control.watchers_open == 1, "the watch stream")
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")

        control.jobs["j2"] = replace(control.jobs["j2"], state=JobState.RUNNING, attempts=1)
        await control.publish("state", "j2")
        control.jobs["j4"] = make_job("j4")
        await control.publish("state", "j4")

        await until(pilot, lambda: screen.table.get_cell("j2", "state") == "running", "j2 running")
        assert screen.table.get_cell("j2", "attempts") == "1"
        await until(pilot, lambda: screen.table.row_count == 4, "the new job's row")
        assert screen.table.job_ids == ["j4", "j1", "j2", "j3"]  # newest on top
        assert screen.table.border_title == "Jobs: all (4)"
        assert screen.table.selected_job() is not None
        assert screen.table.selected_job().id == "j1"  # type: ignore[union-attr]


async def test_selecting_a_job_shows_its_slices(server: ApiServer, control: ControlDouble) -> None:
    control.jobs["j2"] = replace(
        control.jobs["j2"],
        state=JobState.FAILED,
        attempts=2,
        error="slice 1 failed to decode: [h264] error at frame 57",
        source="/library/Show [1080p] [x264].mkv",
    )
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await until(pilot, lambda: screen.detail.job_id == "j1", "j1 in the detail pane")
        await pilot.press("down")
        await until(pilot, lambda: screen.detail.job_id == "j2", "j2 in the detail pane")
        assert calls_of(control, "get_job")[-1] == {"job_id": "j2"}
        await until(pilot, lambda: len(screen.detail.slice_rows) == 2, "two slice rows")
        first, second = screen.detail.slice_rows
        assert first.text.split() == ["#0", "succeeded", "120/120", "frames"]
        assert second.text.split() == ["#1", "running", "30/120", "frames", "42.5", "fps"]
        assert (first.progress, second.progress) == (120, 30)
        summary = screen.detail.summary
        assert "State    failed   attempts 2   profile default" in summary
        assert "Source   /library/Show [1080p] [x264].mkv\n" in summary
        assert "Error    slice 1 failed to decode: [h264] error at frame 57" in summary
        assert "Output   /output/j2.mkv" in summary
        assert screen.detail.border_title == "Job j2"
        # Brackets in file names are text, not markup, in the table too.
        lines = [screen.table.render_line(y).text for y in range(screen.table.size.height)]
        assert any("/library/Show [1080p] [x264].mkv" in line for line in lines), lines


async def test_number_keys_filter_by_state(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")
        await pilot.press("2")
        await until(pilot, lambda: screen.table.job_ids == ["j1"], "only the running job")
        assert calls_of(control, "list_jobs")[-1]["state"] is JobState.RUNNING
        assert screen.table.border_title == "Jobs: running (1)"
        assert "[reverse]2 running[/reverse]  3 succeeded" in str(screen.table.border_subtitle)
        await pilot.press("3")
        await until(pilot, lambda: screen.table.job_ids == ["j3"], "only the succeeded job")
        # A job that leaves the filter leaves the table.
        await until(pilot, lambda: control.watchers_open == 1, "the watch stream")
        control.jobs["j3"] = replace(control.jobs["j3"], state=JobState.QUEUED)
        await control.publish("state", "j3")
        await until(pilot, lambda: screen.table.row_count == 0, "an empty table")
        await pilot.press("0")
        await until(pilot, lambda: screen.table.row_count == 3, "every job again")


async def test_paging_with_n_and_by_scrolling(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target, page_size=2))
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await until(pilot, lambda: screen.table.job_ids == ["j1", "j2"], "the first page")
        assert screen.table.border_title == "Jobs: all (2+)"
        await pilot.press("n")
        await until(pilot, lambda: screen.table.row_count == 3, "the second page")
        assert screen.table.cursor_row == 2
        assert calls_of(control, "list_jobs")[-1]["page_token"] == "2"
        await pilot.press("p")
        assert screen.table.cursor_row == 0

        # Scrolling onto the last row loads the next page too.
        await pilot.press("0")
        await until(pilot, lambda: screen.table.job_ids == ["j1", "j2"], "the first page again")
        await pilot.press("down")
        await until(pilot, lambda: screen.table.row_count == 3, "the page after the last row")
        assert screen.table.border_title == "Jobs: all (3)"
