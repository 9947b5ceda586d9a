"""The library walk: what it yields, what it leaves out and why, and what it survives."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import pytest

from clustercode.config.settings import DEFAULT_MEDIA_EXTENSIONS
from clustercode.library.scanner import ScanEntry, ScanStats, scan

OLD = time.time() - 3600  # an mtime well past any settle time


def touch(path: Path, data: bytes = b"media", mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def run(
    roots: list[Path],
    stats: ScanStats | None = None,
    *,
    extensions: Collection[str] = DEFAULT_MEDIA_EXTENSIONS,
    settle_seconds: float = 10,
    exclude: Sequence[Path] = (),
    now: float | None = None,
) -> list[str]:
    entries = scan(
        roots,
        exclude=exclude,
        extensions=extensions,
        settle_seconds=settle_seconds,
        now=now,
        stats=stats,
    )
    return [str(e.path.relative_to(e.root)) for e in entries]


def test_yields_media_files_in_name_order_with_their_stat(tmp_path: Path) -> None:
    movie = touch(tmp_path / "b" / "movie.MKV", b"x" * 123)
    touch(tmp_path / "a" / "clip.mp4")
    touch(tmp_path / "a" / "z.ts")
    touch(tmp_path / "top.webm")
    stats = ScanStats()
    found = list(
        scan([tmp_path], extensions={"mkv", "mp4", "ts", "webm"}, settle_seconds=10, stats=stats)
    )
    assert [str(e.path.relative_to(tmp_path)) for e in found] == [
        "top.webm",
        "a/clip.mp4",
        "a/z.ts",
        "b/movie.MKV",
    ]
    entry = found[-1]
    st = movie.stat()
    assert entry == ScanEntry(
        path=movie,
        root=tmp_path,
        size=123,
        mtime_ns=st.st_mtime_ns,
        inode=st.st_ino,
        device=st.st_dev,
    )
    assert (stats.files, stats.dirs, stats.errors) == (4, 3, 0)
    assert stats.seconds > 0


def test_extension_filter_is_configurable_and_case_blind(tmp_path: Path) -> None:
    touch(tmp_path / "a.mkv")
    touch(tmp_path / "b.AVI")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "README")
    stats = ScanStats()
    assert run([tmp_path], stats, extensions={"avi"}) == ["b.AVI"]
    assert stats.skipped["extension"] == 3


def test_hidden_and_partial_files_are_left_out(tmp_path: Path) -> None:
    touch(tmp_path / "ok.mkv")
    touch(tmp_path / ".hidden.mkv")
    touch(tmp_path / ".trash" / "deleted.mkv")
    for name in ("a.mkv.part", "b.mkv.PARTIAL", "c.mkv.tmp", "d.mkv.clustercode-tmp", "e.mkv~"):
        touch(tmp_path / name)
    touch(tmp_path / ".clustercode.yaml")
    stats = ScanStats()
    assert run([tmp_path], stats) == ["ok.mkv"]
    assert stats.skipped["hidden"] == 3
    assert stats.skipped["partial"] == 5
    assert stats.dirs == 1  # .trash was never listed


def test_growing_files_wait_for_the_settle_time(tmp_path: Path) -> None:
    now = time.time()
    touch(tmp_path / "done.mkv", mtime=now - 60)
    touch(tmp_path / "growing.mkv", mtime=now - 2)
    touch(tmp_path / "skewed.mkv", mtime=now + 3)  # another machine's clock runs ahead
    touch(tmp_path / "future.mkv", mtime=now + 86400)
    stats = ScanStats()
    assert run([tmp_path], stats, now=now) == ["done.mkv", "future.mkv"]
    assert stats.skipped["settling"] == 2
    assert run([tmp_path], now=now + 20) == ["done.mkv", "future.mkv", "growing.mkv", "skewed.mkv"]
    assert run([tmp_path], settle_seconds=0, now=now) == [
        "done.mkv",
        "future.mkv",
        "growing.mkv",
        "skewed.mkv",
    ]


def test_excluded_directories_are_never_entered_even_through_symlinks(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    touch(library / "in.mkv")
    output = library / "transcoded"
    touch(output / "in.mkv")
    touch(output / "deep" / "x.mkv")
    work = tmp_path / "work"
    touch(work / "slice_0.mkv")
    (library / "alias").symlink_to(output)
    (library / "scratch").symlink_to(work)
    stats = ScanStats()
    found = run([library], stats, exclude=[output, work, tmp_path / "missing"])
    assert found == ["in.mkv"]
    assert stats.skipped["excluded"] == 3  # transcoded, alias, scratch
    # A root that is itself excluded yields nothing.
    assert run([output], exclude=[library / "alias"]) == []


def test_symlink_loops_are_walked_once(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "movie.mkv")
    (tmp_path / "a" / "up").symlink_to(tmp_path)  # a/up/a/up/... forever
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "loop.mkv").symlink_to(tmp_path / "a" / "loop.mkv")  # ELOOP
    (tmp_path / "a" / "dangling.mkv").symlink_to(tmp_path / "nowhere.mkv")
    (tmp_path / "a" / "linked.mkv").symlink_to(tmp_path / "a" / "movie.mkv")
    stats = ScanStats()
    assert run([tmp_path], stats) == ["a/linked.mkv", "a/movie.mkv"]
    assert stats.skipped["visited"] == 2
    assert stats.skipped["broken_link"] == 2
    assert stats.dirs == 2


def test_overlapping_roots_yield_each_file_once(tmp_path: Path) -> None:
    touch(tmp_path / "sub" / "x.mkv")
    stats = ScanStats()
    found = list(
        scan(
            [tmp_path, tmp_path / "sub"],
            extensions={"mkv"},
            settle_seconds=0,
            stats=stats,
        )
    )
    assert [e.path for e in found] == [tmp_path / "sub" / "x.mkv"]
    assert stats.skipped["visited"] == 1


def test_missing_root_is_an_error_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path / "ok" / "x.mkv")
    stats = ScanStats()
    assert run([tmp_path / "gone", tmp_path / "ok"], stats) == ["x.mkv"]
    assert stats.errors == 1
    assert stats.error_paths == [f"{tmp_path / 'gone'}: not a directory or does not exist"]


def test_directory_removed_during_the_walk_is_counted_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path / "first.mkv")
    touch(tmp_path / "doomed" / "x.mkv")
    touch(tmp_path / "doomed" / "inner" / "y.mkv")
    touch(tmp_path / "kept" / "z.mkv")
    stats = ScanStats()
    walk: Iterator[ScanEntry] = scan([tmp_path], extensions={"mkv"}, settle_seconds=0, stats=stats)
    assert next(walk).path == tmp_path / "first.mkv"
    # The root was listed; its subdirectories wait on the stack. Remove one of them now.
    shutil.rmtree(tmp_path / "doomed")
    rest = [e.path for e in walk]
    assert rest == [tmp_path / "kept" / "z.mkv"]
    assert stats.errors == 1
    assert stats.error_paths == [f"{tmp_path / 'doomed'}: No such file or directory"]
    assert f"cannot list {tmp_path / 'doomed'}" in caplog.text


def test_unreadable_directory_is_logged_and_skipped() -> None:
    """A real EACCES: as root, the walk runs in a forked child that drops to 'nobody'."""
    base = Path(tempfile.mkdtemp(prefix="cc-scan-"))
    try:
        base.chmod(0o755)
        touch(base / "open" / "a.mkv")
        touch(base / "locked" / "b.mkv")
        (base / "open").chmod(0o755)
        (base / "locked").chmod(0o000)
        result = _scan_unprivileged(base)
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)
    assert result["files"] == [str(base / "open" / "a.mkv")]
    assert result["errors"] == 1
    assert result["error_paths"] == [f"{base / 'locked'}: Permission denied"]


def _scan_unprivileged(base: Path) -> dict[str, object]:
    def walk() -> dict[str, object]:
        stats = ScanStats()
        files = [
            str(e.path) for e in scan([base], extensions={"mkv"}, settle_seconds=0, stats=stats)
        ]
        return {"files": files, "errors": stats.errors, "error_paths": stats.error_paths}

    if os.geteuid() != 0:
        return walk()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, walk, report, leave without running pytest's teardown
        status = 1
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            with os.fdopen(write_end, "w") as out:
                json.dump(walk(), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    result: dict[str, object] = json.loads(text)
    return result


def test_special_files_are_not_media(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mkv")
    touch(tmp_path / "real.mkv")
    stats = ScanStats()
    assert run([tmp_path], stats) == ["real.mkv"]
    assert stats.skipped["special"] == 1
