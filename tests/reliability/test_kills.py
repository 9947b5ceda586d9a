"""Random SIGKILLs of steps, ffmpeg and the controller while real jobs run.

Each round starts ``clustercode run`` and, at random moments, kills a running step, a running
ffmpeg or the controller itself (then starts the next round). When the kill budget is spent a
last run finishes the work. Whatever was killed, every file ends transcoded exactly once, with
exactly its source's frames, within the attempt limit, and nothing is left behind: no process,
no work directory, no temporary file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.reliability.harness import Proc, RedisServer, Store, make_clip, seeded, video_hashes

KILLS = 20
"""Kills per run of this test (at most), a bound on its time."""
ROUNDS = 12
CONTROLLER_KILLS = 6
PATTERNS = ("testsrc2", "smptebars", "rgbtestsrc", "testsrc")


def _wait_for_work(store: Store, ended: Callable[[], int | None], timeout: float = 20) -> None:
    """Wait until a step or ffmpeg runs (or the controller ended)."""
    deadline = time.monotonic() + timeout
    while ended() is None and time.monotonic() < deadline:
        if any(p.kind in ("step", "ffmpeg") for p in store.processes()):
            return
        time.sleep(0.05)


def test_random_kills_lose_nothing_and_publish_only_exact_outputs(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = seeded("random kills")
    store = Store(tmp_path / "store", redis_server.url)
    expected = {}
    for k, pattern in enumerate(PATTERNS):
        clip = make_clip(tmp_path / "clips" / f"{pattern}.mkv", pattern=pattern, seconds=4)
        expected[store.add(f"films/{k}-{pattern}.mkv", clip)] = video_hashes(clip)
    kills = controller_kills = 0
    for _round in range(ROUNDS):
        if kills >= KILLS:
            break
        process, out, err = store.start()
        controller = Proc(pid=process.pid, argv=("clustercode",))
        while process.poll() is None and kills < KILLS:
            _wait_for_work(store, process.poll)
            time.sleep(rng.uniform(0.0, 0.8))
            running = [p for p in store.processes() if p.kind in ("step", "ffmpeg")]
            # Mostly a step or an ffmpeg; now and then the controller (a bounded number of times:
            # each costs a job a run, and runs lost to crashes are free only up to a bound).
            if rng.random() < 0.2 and controller_kills < CONTROLLER_KILLS:
                target = controller
            elif running:
                target = rng.choice(running)
            else:
                continue
            if process.poll() is None and store.kill(target):
                kills += 1
                if target is controller:
                    controller_kills += 1
                    break
        process.wait(timeout=120)
        assert "Traceback" not in err.read_text()
        # A killed controller takes its steps (and their ffmpeg) with it.
        assert store.wait_quiet() == [], "processes outlived their controller"
        if process.returncode == 0 and "nothing to transcode" in out.read_text():
            break

    code, out_text, err_text = store.run()

    assert code == 0, out_text + err_text
    assert store.check(expected) == []
    assert kills >= 12, f"only {kills} kills: the jobs ended too soon"
