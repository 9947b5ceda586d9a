"""The profile cascade: per-directory and companion files, ignore, constraints, errors with
file and line, confinement to the library and the cache period."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from clustercode.errors import PathOutsideLibraryError, ProfileError
from clustercode.profiles.profileset import ProfileSet, UnknownProfileError
from tests.support.files import write


@pytest.fixture
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    for name in ("a/b/movie.mkv", "a/b/other.mkv", "a/c/clip.mp4", "top.mkv"):
        write(lib / name, "x")
    return lib


def test_no_cascade_file_gives_the_library_default(library: Path) -> None:
    profiles = ProfileSet.load(None)
    plain = profiles.resolve(library / "a/b/movie.mkv", library)
    assert plain.profile == profiles.get("h264")
    assert plain.origins["profile"] == "clustercode default"
    assert plain.origins["threads"] == "default"
    assert plain.files == ()
    assert plain.pre_skip_reason(size=1) is None
    chosen = profiles.resolve(library / "top.mkv", library, default="hevc")
    assert chosen.profile.name == "hevc"
    assert chosen.origins["profile"] == "library default"
    with pytest.raises(UnknownProfileError):
        profiles.resolve(library / "top.mkv", library, default="nope")


def test_cascade_companion_beats_directory_beats_parent_beats_default(library: Path) -> None:
    root = write(library / ".clustercode.yaml", "profile: hevc\npriority: 1\nslice_seconds: 30\n")
    a = write(library / "a/.clustercode.yaml", "priority: 2\nskip:\n  min_height: 720\n")
    b = write(library / "a/b/.clustercode.yaml", "# films\npriority: 3\nprofile: av1\n")
    companion = write(library / "a/b/movie.mkv.clustercode.yaml", "priority: 4\n")
    profiles = ProfileSet.load(None)

    movie = profiles.resolve(library / "a/b/movie.mkv", library)
    assert movie.files == (root, a, b, companion)
    assert movie.profile.name == "av1"
    assert movie.profile.priority == 4
    assert movie.profile.slice_seconds == 30  # the root's override outlives the profile switch
    assert movie.profile.skip.min_height == 720
    assert movie.profile.skip.codecs == ("av1",)
    assert movie.origins["profile"] == f"{b} line 3"
    assert movie.origins["priority"] == f"{companion} line 1"
    assert movie.origins["slice_seconds"] == f"{root} line 3"
    assert movie.origins["skip.min_height"] == f"{a} line 3"
    assert movie.origins["skip.codecs"] == "built-in av1 line 9"
    assert ("priority", "4", f"{companion} line 1") in movie.describe()

    other = profiles.resolve(library / "a/b/other.mkv", library)
    assert (other.profile.name, other.profile.priority) == ("av1", 3)
    assert other.origins["priority"] == f"{b} line 2"
    clip = profiles.resolve(library / "a/c/clip.mp4", library)
    assert (clip.profile.name, clip.profile.priority) == ("hevc", 2)
    assert clip.files == (root, a)
    top = profiles.resolve(library / "top.mkv", library, default="h264")
    assert (top.profile.name, top.profile.priority) == ("hevc", 1)
    assert top.origins["profile"] == f"{root} line 1"


def test_ignore_excludes_a_subtree_and_a_deeper_file_can_undo_it(library: Path) -> None:
    a = write(library / "a/.clustercode.yaml", "ignore: true\n")
    write(library / "a/b/movie.mkv.clustercode.yaml", "skip: false\n")
    write(library / "a/c/.clustercode.yaml", "skip: true\n")
    profiles = ProfileSet.load(None)
    other = profiles.resolve(library / "a/b/other.mkv", library)
    assert other.ignored == f"{a} line 1"
    assert other.pre_skip_reason() == f"ignored by {a} line 1"
    assert profiles.resolve(library / "a/b/movie.mkv", library).pre_skip_reason() is None
    clip = profiles.resolve(library / "a/c/clip.mp4", library)
    assert clip.ignored == f"{library / 'a/c/.clustercode.yaml'} line 1"
    assert profiles.resolve(library / "top.mkv", library).ignored is None


def test_name_and_size_constraints(library: Path) -> None:
    write(
        library / ".clustercode.yaml",
        "include: ['*.MKV', 'a/c/*']\nexclude: ['*other*']\nskip: {min_size: 10, max_size: 1k}\n",
    )
    profiles = ProfileSet.load(None)

    def reason(name: str, size: int | None = None) -> str | None:
        return profiles.resolve(library / name, library).pre_skip_reason(size)

    assert reason("a/b/movie.mkv", 100) is None
    assert reason("a/c/clip.mp4") is None  # matched by the path pattern
    assert reason("a/b/other.mkv") == "name matches exclude pattern '*other*'"
    write(library / "a/d/clip.mp4", "x")
    assert reason("a/d/clip.mp4") == "name matches no include pattern (*.MKV, a/c/*)"
    assert reason("top.mkv", 5) == "size 5 B below min_size 10 B"
    assert reason("top.mkv", 2000) == "size 2 kB above max_size 1 kB"


def test_cascade_errors_name_file_and_line(library: Path) -> None:
    bad = write(library / "a/.clustercode.yaml", "# anime\nprofile: hevcc\n")
    write(library / "a/c/.clustercode.yaml", "extends: hevc\n")
    profiles = ProfileSet.load(None)
    with pytest.raises(ProfileError) as caught:
        profiles.resolve(library / "a/b/movie.mkv", library)
    assert str(caught.value) == (
        f"profile {bad} line 2: profile: unknown profile 'hevcc' (known: av1, ffv1, h264, hevc)"
    )
    with pytest.raises(ProfileError) as caught:
        profiles.resolve(library / "a/c/clip.mp4", library)
    assert str(caught.value) == (
        f"profile {library / 'a/c/.clustercode.yaml'} line 1: unknown key 'extends'"
    )
    assert profiles.resolve(library / "top.mkv", library).profile.name == "h264"
    write(library / "a/.clustercode.yaml", "profile: hevc\n")
    fixed = profiles.resolve(library / "a/b/movie.mkv", library, fresh=True)
    assert fixed.profile.name == "hevc"


def test_path_outside_the_library_is_refused(library: Path, tmp_path: Path) -> None:
    profiles = ProfileSet.load(None)
    with pytest.raises(PathOutsideLibraryError):
        profiles.resolve(tmp_path / "elsewhere.mkv", library)
    with pytest.raises(PathOutsideLibraryError):
        profiles.resolve(library / ".." / "elsewhere.mkv", library)
    dotted = profiles.resolve(library / "a" / ".." / "top.mkv", library)
    assert dotted.path == library / "top.mkv"


def test_edits_are_seen_after_the_cache_period(library: Path) -> None:
    profiles = ProfileSet.load(None, cache_seconds=3600)
    movie = library / "a/b/movie.mkv"
    assert profiles.resolve(movie, library).profile.priority == 0
    cascade = write(library / "a/.clustercode.yaml", "priority: 5\n")
    assert profiles.resolve(movie, library).profile.priority == 0  # cached for the period
    assert profiles.resolve(movie, library, fresh=True).profile.priority == 5
    # An in-place edit keeps the directory's mtime; the file's own stamp gives it away.
    cascade.write_text("priority: 6\n")
    stamp = time.time_ns() + 5_000_000_000
    os.utime(cascade, ns=(stamp, stamp))
    assert profiles.resolve(movie, library, fresh=True).profile.priority == 6
    write(library / "a/b/movie.mkv.clustercode.yaml", "priority: 7\n")
    assert profiles.resolve(movie, library, fresh=True).profile.priority == 7
    cascade.unlink()
    (library / "a/b/movie.mkv.clustercode.yaml").unlink()
    assert profiles.resolve(movie, library, fresh=True).profile.priority == 0


def test_zero_cache_period_rechecks_every_time(library: Path) -> None:
    profiles = ProfileSet.load(None, cache_seconds=0)
    movie = library / "a/b/movie.mkv"
    assert profiles.resolve(movie, library).profile.name == "h264"
    write(library / "a/b/.clustercode.yaml", "profile: ffv1\n")
    assert profiles.resolve(movie, library).profile.name == "ffv1"
