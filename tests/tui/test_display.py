"""The text the TUI derives from API messages, the error lines, the settings and token rules."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from tui import display
from tui.client import describe_error, is_timeout, is_unreachable
from tui.settings import Settings, TokenError, read_token


def piece(index: int, total: int, done: int, state: int, fps: float = 0.0) -> jobs_pb2.Slice:
    return jobs_pb2.Slice(index=index, frames_total=total, frames_done=done, state=state, fps=fps)  # type: ignore[arg-type]


def test_eta_is_every_remaining_frame_over_the_summed_fps_of_running_slices() -> None:
    slices = [
        piece(0, 100, 100, jobs_pb2.SLICE_STATE_SUCCEEDED),
        piece(1, 100, 40, jobs_pb2.SLICE_STATE_RUNNING, fps=20.0),
        piece(2, 100, 70, jobs_pb2.SLICE_STATE_RUNNING, fps=10.0),
        piece(3, 100, 0, jobs_pb2.SLICE_STATE_PENDING),
    ]
    # 60 + 30 + 100 frames left at 30 fps.
    assert display.eta_seconds(slices) == pytest.approx(190 / 30)
    assert display.eta_seconds([piece(0, 10, 10, jobs_pb2.SLICE_STATE_SUCCEEDED)]) == 0.0
    assert display.eta_seconds([piece(0, 10, 0, jobs_pb2.SLICE_STATE_PENDING)]) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.4, "0s"), (59.6, "1m00s"), (185, "3m05s"), (7620, "2h07m")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert display.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "-"),
        (512, "512 B"),
        (1536, "1.5 KiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2 * 1024**4, "2.0 TiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert display.format_size(size) == text


def test_names_progress_and_slice_lines() -> None:
    assert display.state_name(jobs_pb2.JOB_STATE_PARKED) == "parked"
    assert display.state_name(jobs_pb2.JOB_STATE_UNSPECIFIED) == "all"
    assert display.state_name(99) == "state 99"
    assert display.percent(1, 3) == "33%"
    assert display.percent(5, 0) == "-"
    done = jobs_pb2.Job(state=jobs_pb2.JOB_STATE_SUCCEEDED, frames_total=0)
    assert display.job_progress(done) == "100%"
    # Queued again after an attempt: the old attempt's frames are not this one's progress.
    retried = jobs_pb2.Job(state=jobs_pb2.JOB_STATE_QUEUED, frames_total=1000, frames_done=400)
    assert display.job_progress(retried) == "-"
    running = jobs_pb2.Job(state=jobs_pb2.JOB_STATE_RUNNING, frames_total=1000, frames_done=400)
    assert display.job_progress(running) == "40%"
    line = display.slice_line(
        jobs_pb2.Slice(
            index=3,
            frames_total=90,
            frames_done=9,
            state=jobs_pb2.SLICE_STATE_RUNNING,
            fps=4.25,
            attempts=2,
        )
    )
    assert line.split() == ["#3", "running", "9/90", "frames", "4.2", "fps", "try", "2"]
    assert sorted(display.FILTER_KEYS) == ["0", "1", "2", "3", "4", "5", "6"]


def test_scan_summary_lists_nonzero_counts_in_a_fixed_order() -> None:
    response = service_pb2.ScanLibraryResponse(
        counts=[
            library_pb2.DecisionCount(kind=library_pb2.DECISION_KIND_SKIPPED, count=2),
            library_pb2.DecisionCount(kind=library_pb2.DECISION_KIND_DONE, count=0),
            library_pb2.DecisionCount(kind=library_pb2.DECISION_KIND_NEW, count=3),
        ]
    )
    assert display.scan_summary(response) == "3 new, 2 skipped"
    assert display.scan_summary(service_pb2.ScanLibraryResponse()) == "0 files"


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, "")


def test_describe_error() -> None:
    refused = rpc_error(
        grpc.StatusCode.UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: "
        "Failed to connect to remote host: Connection refused",
    )
    assert describe_error(refused, "127.0.0.1:9") == (
        "UNAVAILABLE: cannot reach 127.0.0.1:9 (connection refused)"
    )
    assert is_unreachable(refused)
    missing = rpc_error(grpc.StatusCode.NOT_FOUND, "job x does not exist")
    assert describe_error(missing, "h:1") == "NOT_FOUND: job x does not exist"
    assert not is_unreachable(missing)
    slow = rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert describe_error(slow, "h:1") == "DEADLINE_EXCEEDED: h:1 did not answer in time"
    assert is_timeout(slow) and not is_unreachable(slow) and not is_timeout(refused)
    assert describe_error(ValueError("bad"), "h:1") == "ValueError: bad"


def test_reconnect_delay_doubles_up_to_the_limit() -> None:
    settings = Settings(reconnect_min=0.5, reconnect_max=4.0)
    assert [settings.reconnect_delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_read_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  secret-123\n", encoding="utf-8")
    assert read_token(str(token_file), environ={}) == "secret-123"
    assert read_token(None, environ={"CLUSTERCODE_TOKEN": "from-env"}) == "from-env"
    assert read_token(None, environ={}) is None
    with pytest.raises(TokenError, match="cannot read the token file"):
        read_token(str(token_file) + ".missing", environ={})
    token_file.write_text("\n", encoding="utf-8")
    with pytest.raises(TokenError, match="is empty"):
        read_token(str(token_file), environ={})
    with pytest.raises(TokenError, match="cannot carry"):
        read_token(None, environ={"CLUSTERCODE_TOKEN": "two words"})


def test_scan_progress_running_and_finished() -> None:
    progress = library_pb2.ScanProgress(
        running=True, files_seen=120_000, files_per_second=41_000.4, jobs_queued=3,
        current_directory="/library/shows/x",
    )  # fmt: skip
    assert display.scan_progress(progress) == (
        "scanning 120,000 files (41,000/s, 3 queued) in /library/shows/x"
    )
    progress.running, progress.elapsed_seconds = False, 24.4
    assert display.scan_progress(progress) == "scanned 120,000 files in 24 s"


def test_scheduler_pause_names_the_reason_and_the_time_to_the_next_try() -> None:
    pause = jobs_pb2.SchedulerPause(
        reason="clustercode-step split: encoder libx265 is not in ffmpeg", pauses=3
    )
    assert display.scheduler_pause(pause, 1_000.0) == (
        "paused: clustercode-step split: encoder libx265 is not in ffmpeg"
    )
    pause.next_try_time.FromSeconds(1_125)
    assert display.scheduler_pause(pause, 1_000.0) == (
        "paused: clustercode-step split: encoder libx265 is not in ffmpeg, next try in 2m05s"
    )
    assert display.scheduler_pause(pause, 1_125.0).endswith(", next try now")
    assert display.scheduler_pause(pause, 2_000.0).endswith(", next try now")
    assert display.scheduler_pause(jobs_pb2.SchedulerPause(), 0.0) == "paused: environment failure"


def test_scheduler_pause_shows_an_untrusted_reason_as_one_short_line() -> None:
    pause = jobs_pb2.SchedulerPause(reason="merge: Permission denied (a\n\x1b[2Jb\t" + "x" * 200)
    line = display.scheduler_pause(pause, 0.0)
    assert line.startswith("paused: merge: Permission denied (a [2Jb xxx")
    assert line.isprintable() and line.endswith("x...")
    assert len(line) == len("paused: ") + display.PAUSE_REASON_SHOWN
