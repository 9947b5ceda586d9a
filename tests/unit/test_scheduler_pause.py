"""The scheduler's pause after an environment failure: the reason it keeps, the backoff it
waits, and what status shows of it."""

from __future__ import annotations

import time
from typing import cast

from clustercode.backoff import Backoff
from clustercode.errors import one_line
from clustercode.jobs.runner import JobRunner
from clustercode.jobs.scheduler import ENVIRONMENT_BACKOFF, MAX_PAUSE_REASON, Scheduler
from clustercode.store.history import History


def scheduler(backoff: Backoff = ENVIRONMENT_BACKOFF) -> Scheduler:
    # Pausing touches neither the store nor the runner.
    return Scheduler(
        cast(History, object()),
        cast(JobRunner, object()),
        max_jobs=1,
        retry_backoff=0,
        pause_backoff=backoff,
    )


def test_not_paused_shows_no_pause() -> None:
    assert scheduler().pause_status is None


def test_pause_waits_the_backoff_and_doubles_it_for_each_pause_in_a_row() -> None:
    s = scheduler()
    before = time.time()
    s.pause("clustercode-step split: encoder libx265 is not in ffmpeg")
    first = s.pause_status
    assert first is not None
    assert first.reason == "clustercode-step split: encoder libx265 is not in ffmpeg"
    assert first.pauses == 1
    assert before + 30 <= first.next_try <= time.time() + 30
    s.pause("again")
    second = s.pause_status
    assert second is not None and (second.reason, second.pauses) == ("again", 2)
    assert before + 60 <= second.next_try <= time.time() + 60
    for _ in range(10):
        s.pause("still")
    last = s.pause_status
    assert last is not None and last.pauses == 12
    assert last.next_try <= time.time() + 600  # the cap


def test_a_shorter_backoff_is_used_when_given() -> None:
    s = scheduler(Backoff(initial=0.5, maximum=1.0))
    s.pause("x")
    status = s.pause_status
    assert status is not None and status.next_try <= time.time() + 0.5


def test_reason_from_a_file_name_is_kept_as_one_bounded_line() -> None:
    name = "evil\n\x1b[2J\u202egpj.mkv\t" + "x" * 1000
    s = scheduler()
    s.pause(f"clustercode-step merge: Permission denied ({name})")
    assert s.paused is not None
    assert len(s.paused) == MAX_PAUSE_REASON
    assert s.paused.startswith("clustercode-step merge: Permission denied (evil [2J gpj.mkv x")
    assert s.paused.endswith("xxx...")
    assert s.paused.isprintable()
    status = s.pause_status
    assert status is not None and status.reason == s.paused


def test_one_line_keeps_short_printable_text_as_it_is() -> None:
    line = "encoder libx265 is not in ffmpeg 7.1"
    assert one_line(line) == line
    assert one_line("a\r\n  b\x00c\udc80d", 10) == "a b c d"
    assert one_line("abcdefghijk", 10) == "abcdefg..."
