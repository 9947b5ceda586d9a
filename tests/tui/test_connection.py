"""A server that is down at start, or goes away and comes back: no traceback, no flood of notes,
"disconnected" in the header, and a resumed event stream once it is back."""

from __future__ import annotations

from dataclasses import replace

from clustercode.models import JobState
from clustercode.server import ApiServer
from tests.integration.server_double import ControlDouble
from tests.tui.harness import SIZE, TOKEN, calls_of, free_port, notes, settings_for, until
from tui.app import ClustercodeApp
from tui.screens import JobsScreen


async def test_server_down_at_start_shows_disconnected_then_connects(
    control: ControlDouble,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    app = ClustercodeApp(settings_for(address))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        unreachable = f"UNAVAILABLE: cannot reach {address} (connection refused)"
        await until(pilot, lambda: "disconnected" in screen.header.text, "disconnected")
        assert unreachable in screen.header.text
        assert screen.header.has_class("-disconnected")
        await pilot.pause(0.8)  # status refreshes and watch retries, all failing
        assert app.is_running
        failures = [n for n in notes(app) if "UNAVAILABLE" in n]
        assert len(failures) == 1, failures
        assert failures[0].endswith(unreachable)
        assert screen.table.row_count == 0

        async with ApiServer(control, listen=address, token=TOKEN):
            await until(pilot, lambda: screen.table.row_count == 3, "the jobs once it is up")
            await until(pilot, lambda: "executor local ok" in screen.header.text, "the status")
            assert not screen.header.has_class("-disconnected")
            assert f": reconnected to {address}" in notes(app)
            await until(pilot, lambda: control.watchers_open == 1, "the watch stream")
            await pilot.press("q")
    assert app.return_code == 0


async def test_server_restart_resumes_the_stream_after_the_last_event(
    control: ControlDouble,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    app = ClustercodeApp(settings_for(address))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        async with ApiServer(control, listen=address, token=TOKEN):
            await until(pilot, lambda: control.watchers_open == 1, "the watch stream")
            await until(pilot, lambda: screen.table.row_count == 3, "three rows")
            control.jobs["j2"] = replace(control.jobs["j2"], state=JobState.RUNNING)
            await control.publish("state", "j2")
            await until(pilot, lambda: screen.last_event_id == "1", "the first event")

        await until(pilot, lambda: "disconnected" in screen.header.text, "disconnected")
        assert app.is_running
        # While the server is away, j2 finishes.
        control.jobs["j2"] = replace(control.jobs["j2"], state=JobState.SUCCEEDED)
        await control.publish("state", "j2")

        async with ApiServer(control, listen=address, token=TOKEN):
            await until(pilot, lambda: screen.table.get_cell("j2", "state") == "succeeded", "j2")
            # The table may show j2 from a page refresh before the resumed stream delivers it.
            await until(pilot, lambda: screen.last_event_id == "2", "the second event")
            assert {"job_id": None, "after": "1"} in calls_of(control, "watch")
            await until(pilot, lambda: "executor local ok" in screen.header.text, "the status")
            await pilot.press("q")
    assert app.return_code == 0
