"""Profiles: built-ins, strict parsing with exact messages, overrides, sizes, the settings
hash and output paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustercode.errors import NotFoundError, PathOutsideLibraryError, ProfileError
from clustercode.profiles.profileset import Profile, ProfileSet, UnknownProfileError
from pipelines.settings import EncodeSettings, StreamKeep
from tests.support.files import write


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
