"""The three ways a wrong file used to be published, each ending now in a correct output or a
clear refusal: a source replaced between a crash and the restart, two controllers on one store,
two sources mapping to one output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import free_port
from tests.reliability.harness import Proc, RedisServer, Store, make_clip, video_hashes


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_source_replaced_between_crash_and_restart_is_transcoded_whole(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    old = make_clip(tmp_path / "clips" / "old.avi", pattern="testsrc2", seconds=4, raw=True)
    new = make_clip(tmp_path / "clips" / "new.avi", pattern="smptebars", seconds=4, raw=True)
    assert old.stat().st_size == new.stat().st_size
    store = Store(tmp_path / "store", redis_server.url, parallel=1, slice_seconds=0.5)
    source = store.add("movie.avi", old)
    process, _, _ = store.start()

    def two_slices_or_ended() -> bool:
        proofs = list((store.state / "work").glob("*/slices/*.json"))
        return len(proofs) >= 2 or process.poll() is not None

    _wait_for(two_slices_or_ended, 60, "two slices")
    assert process.poll() is None, "the job ended before two slices were made"
    assert store.kill(Proc(pid=process.pid, argv=("clustercode",)))
    process.wait(timeout=10)
    assert store.wait_quiet() == [], "steps outlived their controller"
    # The worst case: same length, same inode, same modification time; only the bytes differ.
    before = source.stat()
    with source.open("r+b") as handle:
        handle.write(new.read_bytes())
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = source.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (
        before.st_size,
        before.st_ino,
        before.st_mtime_ns,
    )

    code, out, err = store.run()

    assert code == 0, out + err
    assert store.check({source: video_hashes(new)}) == []
    (job,) = store.jobs()
    assert job["attempts"] == 1  # the crash did not count


def test_source_rewritten_during_the_job_is_queued_again_without_an_attempt(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    old = make_clip(tmp_path / "clips" / "old.avi", pattern="testsrc2", seconds=4, raw=True)
    new = make_clip(tmp_path / "clips" / "new.avi", pattern="smptebars", seconds=4, raw=True)
    store = Store(tmp_path / "store", redis_server.url, parallel=1, slice_seconds=0.5)
    source = store.add("movie.avi", old)
    process, out, err = store.start()

    def two_slices_or_ended() -> bool:
        proofs = list((store.state / "work").glob("*/slices/*.json"))
        return len(proofs) >= 2 or process.poll() is not None

    _wait_for(two_slices_or_ended, 60, "two slices")
    before = source.stat()
    with source.open("r+b") as handle:
        handle.write(new.read_bytes())
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert process.wait(timeout=180) == 0, out.read_text() + err.read_text()

    assert store.check({source: video_hashes(new)}) == []
    (job,) = store.jobs()
    assert (job["attempts"], job["runs"]) == (1, 2)
    requeued = [c for c in store.state_changes() if c[1:] == ("running", "queued")]
    assert len(requeued) == 1


def test_an_output_name_longer_than_a_file_name_may_be_is_refused(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clips" / "a.ts", seconds=1)
    store = Store(tmp_path / "store", redis_server.url)
    source = store.add("x" * 252 + ".ts", clip)

    code, out, err = store.run()

    assert code == 0, out + err
    assert (
        f"skipped: {source}: its output name is 256 bytes long, more than a file name may have "
        "(255); give it a shorter output template"
    ) in out
    assert store.jobs() == []


def test_two_controllers_on_one_store_one_refuses_one_waits(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clips" / "a.mkv", seconds=4)
    other = make_clip(tmp_path / "clips" / "b.mkv", pattern="smptebars", seconds=4)
    store = Store(tmp_path / "store", redis_server.url)
    sources = {store.add("a.mkv", clip): video_hashes(clip)}
    sources[store.add("b.mkv", other)] = video_hashes(other)
    first, _, first_err = store.start()
    second, _, second_err = store.start()
    time.sleep(0.5)
    waiting, waiting_out, waiting_err = store.start("--wait")

    codes = sorted([first.wait(timeout=180), second.wait(timeout=180)])
    assert waiting.wait(timeout=180) == 0, waiting_out.read_text() + waiting_err.read_text()

    assert codes == [0, 1]
    loser, winner = (second, first) if second.returncode == 1 else (first, second)
    refusal = (second_err if loser is second else first_err).read_text().strip().splitlines()
    assert len(refusal) == 1, refusal
    assert refusal[0].startswith("clustercode: another clustercode control service runs jobs")
    assert f"pid {winner.pid} on " in refusal[0]
    assert "--wait" in refusal[0]
    assert "waiting for the control service" in waiting_err.read_text()
    assert "nothing to transcode" in waiting_out.read_text()
    assert store.check(sources) == []
    assert all(job["runs"] == 1 for job in store.jobs())  # nobody took over a live job


def test_run_beside_serve_on_one_store_is_refused(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store", redis_server.url)
    log = tmp_path / "serve.err"
    with log.open("w") as stderr:
        serve = subprocess.Popen(
            [sys.executable, "-m", "clustercode", "serve", str(store.library), str(store.output),
             "--state-dir", str(store.state), "--redis-url", store.redis_url,
             "--listen", f"127.0.0.1:{free_port()}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        _wait_for(lambda: "gRPC API on" in log.read_text() or serve.poll() is not None, 60, "serve")
        assert serve.poll() is None, log.read_text()

        code, out, err = store.run()

        assert code == 1, out + err
        (line,) = err.strip().splitlines()
        assert line.startswith("clustercode: another clustercode control service runs jobs")
        assert f"pid {serve.pid} on " in line
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    assert serve.returncode == 0, log.read_text()
    code, out, err = store.run()  # the lease was let go
    assert code == 0, out + err


def test_two_sources_with_one_output_name_are_refused_with_both_names(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    mkv = make_clip(tmp_path / "clips" / "movie.mkv", seconds=3)
    ts = make_clip(tmp_path / "clips" / "movie.ts", pattern="smptebars", seconds=3)
    store = Store(tmp_path / "store", redis_server.url)
    first = store.add("movie.mkv", mkv)
    second = store.add("movie.ts", ts)

    code, out, err = store.run()

    assert code == 0, out + err
    (job,) = store.jobs()
    queued, refused = (first, second) if job["source"] == str(first) else (second, first)
    output = store.output / "movie.mkv"
    reason = f"output collision: {refused} and {queued} (job {job['id']}) both map to {output}"
    assert f"skipped: {refused}: {reason}" in out
    assert video_hashes(output) == video_hashes(queued)
    explained = subprocess.run(
        [sys.executable, "-m", "clustercode", "explain", str(refused), "--library",
         str(store.library), "--output", str(store.output), "--state-dir", str(store.state),
         "--redis-url", store.redis_url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert reason in explained.stdout

    # The documented template keeps them apart; the file already done stays done.
    (store.library / ".clustercode.yaml").write_text('output: "{stem}.{ext}.{container}"\n')
    code, out, err = store.run()

    assert code == 0, out + err
    apart = store.output / f"{refused.name}.mkv"
    assert store.check({queued: video_hashes(queued), refused: video_hashes(refused)}) == []
    assert {Path(j["output"]) for j in store.jobs()} == {output, apart}
