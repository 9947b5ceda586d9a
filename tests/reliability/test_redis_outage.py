"""Redis killed under a running ``clustercode run``: for a while, and for good."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.reliability.harness import RedisServer, Store, make_clip, seeded, video_hashes


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_redis_killed_and_restarted_mid_run_loses_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = seeded("redis restart")
    store = Store(tmp_path / "store", redis_server.url)
    expected = {}
    for pattern in ("testsrc2", "smptebars"):
        clip = make_clip(tmp_path / "clips" / f"{pattern}.mkv", pattern=pattern, seconds=4)
        expected[store.add(f"{pattern}.mkv", clip)] = video_hashes(clip)
    process, out, err = store.start()
    _wait_for(
        lambda: any(p.kind == "step" for p in store.processes()) or process.poll() is not None,
        60,
        "a step",
    )
    time.sleep(rng.uniform(0.0, 1.5))
    redis_server.kill()
    time.sleep(rng.uniform(2.0, 4.0))
    redis_server.start()

    assert process.wait(timeout=180) == 0, out.read_text() + err.read_text()

    assert "redis is unreachable" in out.read_text()
    assert "Traceback" not in err.read_text()
    assert store.check(expected) == []


def test_redis_gone_for_good_ctrl_c_exits_at_once_and_the_output_counts(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clips" / "a.mkv", seconds=4)
    store = Store(tmp_path / "store", redis_server.url)
    source = store.add("a.mkv", clip)
    process, out, err = store.start()
    _wait_for(
        lambda: any("merge" in p.argv for p in store.processes()) or process.poll() is not None,
        90,
        "the merge step",
    )
    redis_server.kill()
    output = store.output / "a.mkv"
    _wait_for(output.is_file, 60, "the output to be published")
    _wait_for(lambda: "redis is unreachable" in out.read_text(), 30, "the outage to be shown")

    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=30)
    took = time.monotonic() - started

    assert code == 130, out.read_text() + err.read_text()
    assert took < 10, f"Ctrl-C took {took:.1f} s"
    assert "Traceback" not in err.read_text()
    assert out.read_text().splitlines()[-1].startswith("done: ")
    assert store.wait_quiet() == []

    redis_server.start()
    (job,) = store.jobs()
    assert job["state"] == "running"  # the outage hid the success from the store
    code, out_text, err_text = store.run()

    assert code == 0, out_text + err_text
    assert store.check({source: video_hashes(clip)}) == []
    (job,) = store.jobs()
    assert job["runs"] == 1  # recorded from the proof on disk, not transcoded again
