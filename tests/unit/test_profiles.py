"""Profiles: built-ins, strict parsing with exact messages, the cascade and its origins."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from clustercode.errors import NotFoundError, PathOutsideLibraryError, ProfileError
from clustercode.profiles.profileset import Profile, ProfileSet, UnknownProfileError
from pipelines.settings import EncodeSettings, StreamKeep


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_builtin_profiles_load_with_their_encoders() -> None:
    profiles = ProfileSet.load(None)
    assert profiles.names() == ["av1", "ffv1", "h264", "hevc"]
    h264 = profiles.get("h264")
    assert h264.video_encoder == "libx264"
    assert h264.video_codec == "h264"
    assert h264.audio is None
    assert h264.container == "mkv"
    assert profiles.get("hevc").skip.codecs == ("hevc", "av1")
    assert profiles.get("av1").video_encoder == "libsvtav1"
    assert profiles.source("hevc") == "built-in hevc"
    assert profiles.origins("h264")["video"].startswith("built-in h264 line ")


def test_get_unknown_profile_is_not_found() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        ProfileSet.load(None).get("x265")
    assert str(caught.value) == "unknown profile 'x265' (known: av1, ffv1, h264, hevc)"
    assert isinstance(caught.value, NotFoundError)
    assert isinstance(caught.value, ProfileError)


def test_encode_settings_carry_every_field(tmp_path: Path) -> None:
    write(
        tmp_path / "p" / "tiny.yaml",
        "video: [-c:v, libx264, -crf, 30]\n"
        "audio: [-c:a, libopus, -b:a, 96k]\n"
        "keep: {subtitles: false, data: true}\n"
        "container: mp4\nslice_seconds: 4.5\nthreads: 2\n",
    )
    profile = ProfileSet.load(tmp_path / "p").get("tiny")
    settings = profile.encode_settings()
    assert settings == EncodeSettings(
        video=("-c:v", "libx264", "-crf", "30"),
        audio=("-c:a", "libopus", "-b:a", "96k"),
        container="mp4",
        slice_seconds=4.5,
        threads=2,
        keep=StreamKeep(subtitles=False, data=True),
    )
    assert EncodeSettings.from_json(settings.to_json()) == settings
    assert profile.encode_settings(slice_seconds=10).slice_seconds == 10


MALFORMED = [
    ("video: [-c:v, libx264]\naudio: copy\n\ncrff: 20\n", "line 4: unknown key 'crff'"),
    (
        "vidoe: [-c:v, libx264]\n",
        "line 1: unknown key 'vidoe' (did you mean 'video'?)",
    ),
    (
        "video: -c:v libx264 -crf 23\n",
        "line 1: video: expected a list of ffmpeg arguments, got the string '-c:v libx264 -crf 23'",
    ),
    (
        "video:\n  - -c:v\n  - libx264\n  - {crf: 23}\n",
        "line 4: video: argument 3 must be text, got a mapping",
    ),
    (
        "video: [-ss, '10', -c:v, libx264]\n",
        "line 1: video: '-ss' is set by clustercode; remove it",
    ),
    (
        "video: [-crf, '23']\n",
        "line 1: video: no video encoder; add -c:v and an encoder, e.g. libx264",
    ),
    (
        "video: [-c:v, copy]\n",
        "line 1: video: '-c:v copy' cannot be cut into slices; name an encoder",
    ),
    (
        "video: [-c:v, libx264]\naudio: aac\n",
        "line 2: audio: expected 'copy' or a list of ffmpeg arguments, got the string 'aac'",
    ),
    (
        "video: [-c:v, libx264]\ncontainer: avi\n",
        "line 2: container: expected mkv or mp4, got the string 'avi'",
    ),
    (
        "video: [-c:v, libx264]\nslice_seconds: -5\n",
        "line 2: slice_seconds: expected a positive number of seconds, got -5 (a number)",
    ),
    (
        "video: [-c:v, libx264]\nthreads: two\n",
        "line 2: threads: expected a whole number >= 0 (0: the encoder chooses), "
        "got the string 'two'",
    ),
    (
        "video: [-c:v, libx264]\nskip:\n  codecs: [hevc]\n  min_heigth: 720\n",
        "line 4: unknown key 'skip.min_heigth' (did you mean 'skip.min_height'?)",
    ),
    (
        "video: [-c:v, libx264]\nskip:\n  min_size: huge\n",
        "line 3: skip.min_size: expected a size such as 500M or 4GiB, got the string 'huge'",
    ),
    (
        "video: [-c:v, libx264]\nkeep:\n  audio: maybe\n",
        "line 3: keep.audio: expected true or false, got the string 'maybe'",
    ),
    (
        "video: [-c:v, libx264]\nskip: true\n",
        "line 2: skip: expected a mapping, got true (a boolean)",
    ),
    (
        "- video\n- audio\n",
        "line 1: expected a mapping of settings, got a list",
    ),
    (
        "video: [-c:v, libx264]\noutput: '{title}.{container}'\n",
        "line 2: output: unknown placeholder '{title}'; use {stem}, {name}, {ext}, {container}, "
        "{profile}, {relpath_parent}",
    ),
    (
        "video: [-c:v, libx264]\noutput: '../{stem}.mkv'\n",
        "line 2: output: '../{stem}.mkv' must be a relative file name, without '..' or a final '/'",
    ),
    (
        "video: [-c:v, libx264]\naudio: copy\naudio: [-c:a, aac]\n",
        "line 3: duplicate key 'audio' (first set on line 2)",
    ),
    (
        "video: [-c:v, libx264\naudio: copy\n",
        "line 2: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    (
        "video: [-c:v, libx264]\n  audio: copy\n",
        "line 2: YAML syntax error: indentation does not match the lines above",
    ),
    (
        "video: [-c:v, libx264]\naudio: copy: now\n",
        "line 2: YAML syntax error: mapping values are not allowed here",
    ),
    ("priority: 3\n", "video: required (give the encoder arguments, or extends another profile)"),
    (
        "extends: h246\n",
        "line 1: extends: unknown profile 'h246' (known: av1, bad, ffv1, h264, hevc)",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_profile_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ProfileError) as caught:
        ProfileSet.load(tmp_path)
    separator = " " if message.startswith("line ") else ": "
    assert str(caught.value) == f"profile {path}{separator}{message}"


def test_extends_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "extends: b\n")
    b = write(tmp_path / "b.yaml", "priority: 1\nextends: a\n")
    with pytest.raises(ProfileError) as caught:
        ProfileSet.load(tmp_path)
    assert str(caught.value) == f"profile {b} line 2: extends: cycle a -> b -> a"


def test_bad_profile_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "my movies.yaml", "video: [-c:v, libx264]\n")
    with pytest.raises(ProfileError) as caught:
        ProfileSet.load(tmp_path)
    assert str(caught.value) == (
        f"profile {path}: name 'my movies' may hold only letters, digits, '.', '_' and '-'"
    )


def test_missing_profiles_directory(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        ProfileSet.load(tmp_path / "nope")
    assert str(caught.value) == f"profiles directory {tmp_path / 'nope'} does not exist"


def test_user_profile_overrides_builtin_and_can_extend_it(tmp_path: Path) -> None:
    hevc = write(tmp_path / "hevc.yaml", "extends: hevc\nvideo: [-c:v, libx265, -crf, '20']\n")
    write(tmp_path / "films.yml", "extends: hevc\npriority: 7\nskip: {min_height: 720}\n")
    profiles = ProfileSet.load(tmp_path)
    assert profiles.names() == ["av1", "ffv1", "films", "h264", "hevc"]
    assert profiles.source("hevc") == str(hevc)
    films = profiles.get("films")
    assert films.video == ("-c:v", "libx265", "-crf", "20")
    assert films.skip.codecs == ("hevc", "av1")  # from the built-in, two levels up
    assert films.skip.min_height == 720
    assert films.priority == 7
    assert films.description == ""  # a description is not inherited
    origins = profiles.origins("films")
    assert origins["video"] == f"{hevc} line 2"
    assert origins["skip.codecs"].startswith("built-in hevc line ")
    assert origins["priority"] == f"{tmp_path / 'films.yml'} line 2"


def test_sizes_bitrates_and_codec_aliases(tmp_path: Path) -> None:
    write(
        tmp_path / "s.yaml",
        "extends: h264\nskip:\n  codecs: [H265, x264]\n  min_size: 1.5GiB\n"
        "  max_size: 700M\n  min_bitrate: 2500k\n  max_bitrate: 8Mbps\n",
    )
    skip = ProfileSet.load(tmp_path).get("s").skip
    assert skip.codecs == ("hevc", "h264")
    assert skip.min_size == 1610612736
    assert skip.max_size == 700_000_000
    assert skip.min_bitrate == 2_500_000
    assert skip.max_bitrate == 8_000_000


def test_settings_hash_covers_output_bytes_only(tmp_path: Path) -> None:
    base = ProfileSet.load(None).get("h264")
    same = [
        Profile.from_values("h264", {**base.values(), "slice_seconds": 5.0}),
        Profile.from_values("h264", {**base.values(), "threads": 4}),
        Profile.from_values("h264", {**base.values(), "priority": 9}),
        Profile.from_values("h264", {**base.values(), "output": "{stem}.x.{container}"}),
        Profile.from_values("h264", {**base.values(), "skip.min_height": 720}),
    ]
    different = [
        Profile.from_values("h264", {**base.values(), "video": ("-c:v", "libx264")}),
        Profile.from_values("h264", {**base.values(), "audio": ("-c:a", "aac")}),
        Profile.from_values("h264", {**base.values(), "container": "mp4"}),
        Profile.from_values("h264", {**base.values(), "keep.subtitles": False}),
    ]
    assert len(base.settings_hash()) == 16
    assert {p.settings_hash() for p in same} == {base.settings_hash()}
    assert len({p.settings_hash() for p in different} | {base.settings_hash()}) == 5


def test_output_path_mirrors_the_library(tmp_path: Path) -> None:
    profiles = ProfileSet.load(None)
    lib, out = Path("/lib"), Path("/out")
    source = Path("/lib/films/2001/Movie.Name.avi")
    h264 = profiles.get("h264")
    assert h264.output_path(source, lib, out) == Path("/out/films/2001/Movie.Name.mkv")
    named = Profile.from_values(
        "hevc", {**h264.values(), "output": "{stem}.{profile}.{ext}.{container}"}
    )
    assert named.output_path(source, lib, out) == Path("/out/films/2001/Movie.Name.hevc.avi.mkv")
    flat = Profile.from_values(
        "h264", {**h264.values(), "output": "{profile}/{relpath_parent}/{name}"}
    )
    assert flat.output_path(source, lib, out) == Path("/out/h264/films/2001/Movie.Name.avi")
    assert flat.output_path(Path("/lib/top.mkv"), lib, out) == Path("/out/h264/top.mkv")
    with pytest.raises(PathOutsideLibraryError) as caught:
        h264.output_path(Path("/elsewhere/x.mkv"), lib, out)
    assert caught.value.field == "path"
    assert str(caught.value) == "path: /elsewhere/x.mkv is not inside library root /lib"


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
