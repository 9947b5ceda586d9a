"""Cancel, retry, delete and scan from the keyboard; confirmations; errors as notifications."""

from __future__ import annotations

from clustercode.errors import FailedPreconditionError, NotFoundError
from clustercode.server import ApiServer
from tests.integration.server_double import ControlDouble
from tests.tui.harness import SIZE, calls_of, notes, settings_for, toasts, until
from tui.app import ClustercodeApp
from tui.screens import ConfirmScreen, JobsScreen


async def started(app: ClustercodeApp) -> JobsScreen:
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return screen


async def test_cancel_asks_first_then_calls_cancel_job(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question == "Cancel job j1 (running)?"
        assert "nothing is published" in dialog.explanation
        await pilot.press("n")
        assert app.screen is screen
        await pilot.pause(0.1)
        assert calls_of(control, "cancel") == []

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: screen.table.get_cell("j1", "state") == "cancelled", "cancelled")
        assert calls_of(control, "cancel") == [{"job_id": "j1"}]
        assert ": Job j1 cancelled." in notes(app)
        assert "State    cancelled" in screen.detail.summary


async def test_enter_on_the_confirmation_means_no(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen, "the dialog to close")
        await pilot.pause(0.1)
        assert calls_of(control, "delete") == []
        assert screen.table.row_count == 3


async def test_delete_removes_the_row_and_says_the_file_is_queued_again(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")
        await pilot.press("down", "down")
        await until(pilot, lambda: screen.detail.job_id == "j3", "j3 selected")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question == "Delete the history entry of job j3 (succeeded)?"
        assert "the next scan queues it again" in dialog.explanation
        await pilot.press("y")
        await until(pilot, lambda: screen.table.job_ids == ["j1", "j2"], "j3's row gone")
        assert calls_of(control, "delete") == [{"job_id": "j3"}]
        assert "j3" not in control.jobs
        assert ": Job j3 deleted: the next scan queues /library/j3.mkv again." in notes(app)
        # The cursor moved to the row above, and the detail pane with it.
        await until(pilot, lambda: screen.detail.job_id == "j2", "j2 in the detail pane")


async def test_retry_queues_the_job_again(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")
        await pilot.press("down", "down", "r")
        await until(pilot, lambda: screen.table.get_cell("j3", "state") == "queued", "j3 queued")
        assert calls_of(control, "retry") == [{"job_id": "j3"}]
        assert screen.table.get_cell("j3", "attempts") == "1"
        assert ": Job j3 queued again." in notes(app)
        # The detail pane reloads the job: its slices start over with the new attempt.
        await until(
            pilot,
            lambda: (
                calls_of(control, "get_job")[-1:] == [{"job_id": "j3"}]
                and len(calls_of(control, "get_job")) >= 2
            ),
            "j3 loaded again",
        )


async def test_scan_shows_the_counts(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: "Scan: Scan finished: 3 new." in notes(app), "the scan note")
        assert calls_of(control, "scan") == [{}]


async def test_a_server_error_is_a_notification_with_its_code(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(app)
        await until(pilot, lambda: screen.table.row_count == 3, "three rows")
        control.fail["cancel"] = FailedPreconditionError("job j1 is succeeded: nothing to cancel")
        await pilot.press("c", "y")
        expected = "Cancel job failed: FAILED_PRECONDITION: job j1 is succeeded: nothing to cancel"
        await until(pilot, lambda: expected in notes(app), "the error note")
        assert screen.table.get_cell("j1", "state") == "running"

        # Server text is shown as it is, brackets included, never read as markup.
        control.fail["delete"] = NotFoundError("job [b]j1[/b] does not exist")
        await pilot.press("d", "y")
        await until(pilot, lambda: "[b]j1[/b]" in toasts(app), "the toast with brackets")

        control.fail["retry"] = NotFoundError("job j1 does not exist")
        await pilot.press("r")
        expected = "Retry job failed: NOT_FOUND: job j1 does not exist"
        await until(pilot, lambda: expected in notes(app), "the second error note")
        assert app.is_running
        assert screen.connected is True  # a refused action is not a lost server


async def test_a_wrong_token_is_reported_once(server: ApiServer, control: ControlDouble) -> None:
    app = ClustercodeApp(settings_for(server.target, token="wrong-token-0123456789"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("UNAUTHENTICATED" in n for n in notes(app)), "the note")
        await pilot.pause(0.6)  # several status refreshes and watch retries
        unauthenticated = [n for n in notes(app) if "UNAUTHENTICATED" in n]
        assert len(unauthenticated) == 1, unauthenticated
        assert control.calls == []  # the token check stopped every call before the control plane


async def test_without_a_token_the_header_says_unauthenticated_and_names_the_option(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target, token=None))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        expected = (
            f"UNAUTHENTICATED: {server.target} needs its token: start the TUI with "
            "--token-file FILE (or set $CLUSTERCODE_TOKEN)"
        )
        await until(pilot, lambda: expected in screen.header.text, "the header")
        assert "connecting" not in screen.header.text
        assert screen.header.has_class("-disconnected")
        assert any(expected in note for note in notes(app))
        assert control.calls == []


async def test_a_wrong_token_is_named_in_the_header(
    server: ApiServer, control: ControlDouble
) -> None:
    app = ClustercodeApp(settings_for(server.target, token="wrong-token-0123456789"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(app)
        await until(pilot, lambda: "refused the token" in screen.header.text, "the header")
        assert screen.header.text.endswith(
            f"UNAUTHENTICATED: {server.target} refused the token (invalid bearer token): "
            "check the file given with --token-file (or $CLUSTERCODE_TOKEN)"
        )
