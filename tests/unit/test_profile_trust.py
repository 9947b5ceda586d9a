"""The ffmpeg argument check, trust levels, cascade symlinks and output path confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clustercode.config.settings import Settings
from clustercode.errors import ProfileError
from clustercode.jobs.resolve import output_path
from clustercode.profiles import ProfileSet
from clustercode.profiles._cascade import parse_text

ALLOWED = [
    '[-c:v, libx265, -preset, slow, -crf, "20", -x265-params, "log-level=error:aq-mode=3"]',
    '[-c:v, libx264, -b:v, 2M, -maxrate, 3M, -bufsize, 6M, -pix_fmt, yuv420p10le, -g, "250"]',
    '[-c:v, libx264, -vf, "scale=1280:-2:flags=lanczos,yadif=1,hqdn3d=2:1", -tune, film]',
    '[-c:v, libsvtav1, -svtav1-params, "tune=0:film-grain=8", -profile:v, main]',
    '[-codec:v, ffv1, -level, "3", -slices, "4", -metadata, "title=x", -filter:v, "crop=100:100"]',
]

REFUSED = {
    "[-c:v, libx264, -f:v, rawvideo, /tmp/victim]": "'-f:v' is an ffmpeg command-line option",
    "[-c:v, libx264, out.mkv]": "is not an option",
    "[-c:v, libx264, -i, /etc/passwd]": "'-i' is set by clustercode",
    '[-c:v, libx264, "-/vf", /etc/passwd]': "loads an option's value from a file",
    "[-c:v, libx264, -report, x]": "'-report' is an ffmpeg command-line option",
    "[-c:v, libx264, -filter_complex, nullsink]": "'-filter_complex' is an ffmpeg",
    "[-c:v, libx264, -passlogfile, /tmp/x]": "'-passlogfile' is an ffmpeg",
    "[-c:v, libx264, -pass, '1']": "'-pass' is an ffmpeg",
    "[-c:v, libx264, -vf, 'drawtext=textfile=/etc/passwd']": "filter 'drawtext' is not on",
    "[-c:v, libx264, -vf, 'scale=2:2,movie=/etc/passwd']": "filter 'movie' is not on",
    "[-c:v, libx264, -vf, 'lut3d=file=/x.cube']": "filter 'lut3d' is not on",
    "[-c:v, libx264, -vf, '[in]scale=2:2[out]']": "only a simple chain",
    "[-c:v, libx264, -vf, 'scale=2:2;null']": "only a simple chain",
    "[-c:v, libx264, -x264-params, 'stats=/tmp/x']": "parameter 'stats' names a file",
    "[-c:v, libx265, -x265-params, 'csv=/tmp/x']": "parameter 'csv' names a file",
    "[-c:v, libx265, -x265-params, 'analysis-save=a']": "names a file",
    "[-c:v, libx265, -x265-params, 'zones=0,/x']": "looks like a path",
    "[-c:v, libsvtav1, -svtav1-params, 'input-stat-file=a']": "names a file",
    "[-c:v, libx264, -crf]": "needs a value",
    "[-c:v, 'libx264 -y']": "is not an encoder name",
}


def layer_text(video: str) -> str:
    return f"video: {video}\n"


@pytest.mark.parametrize("video", ALLOWED)
def test_encoder_options_params_and_safe_filters_pass(video: str) -> None:
    layer = parse_text(layer_text(video), "lib/.clustercode.yaml", cascade=True)
    assert layer.values["video"][0].startswith("-c")


@pytest.mark.parametrize(("video", "reason"), REFUSED.items())
def test_dangerous_arguments_are_refused_with_file_line_and_option(video: str, reason: str) -> None:
    text = "priority: 1\n" + layer_text(video)
    with pytest.raises(ProfileError) as caught:
        parse_text(text, "lib/a.mkv.clustercode.yaml", cascade=True)
    message = str(caught.value)
    assert message.startswith("profile lib/a.mkv.clustercode.yaml line 2: video: "), message
    assert reason in message


def test_audio_arguments_and_filters_are_checked_too() -> None:
    ok = parse_text(
        'video: [-c:v, libx264]\naudio: [-c:a, aac, -af, "loudnorm"]\n', "x", cascade=True
    )
    assert ok.values["audio"] == ("-c:a", "aac", "-af", "loudnorm")
    with pytest.raises(ProfileError, match="filter 'amovie' is not on the audio"):
        parse_text("video: [-c:v, x]\naudio: [-c:a, aac, -af, 'amovie=/x']\n", "x", cascade=True)


def test_trust_levels(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "burn.yaml").write_text("video: [-c:v, libx264, -vf, 'subtitles=/x.srt']\n")
    with pytest.raises(ProfileError, match=r"burn.yaml line 1: video: filter 'subtitles'"):
        ProfileSet.load(profiles)
    trusted = ProfileSet.load(profiles, trust_ffmpeg_args="profiles")
    assert "subtitles=/x.srt" in trusted.get("burn").video
    library = tmp_path / "lib"
    library.mkdir()
    (library / ".clustercode.yaml").write_text("video: [-c:v, libx264, -vf, 'movie=/x']\n")
    media = library / "a.mkv"
    media.touch()
    with pytest.raises(ProfileError, match="filter 'movie'"):
        trusted.resolve(media, library)
    everything = ProfileSet.load(profiles, trust_ffmpeg_args="all")
    assert "movie=/x" in everything.resolve(media, library).profile.video


def test_cascade_symlink_out_of_the_library_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-LINE:/root:/bin/bash\n" * 50)
    library = tmp_path / "lib"
    library.mkdir()
    media = library / "small.mkv"
    media.touch()
    (library / "small.mkv.clustercode.yaml").symlink_to(secret)
    profiles = ProfileSet.load(None)
    with pytest.raises(ProfileError) as caught:
        profiles.resolve(media, library)
    assert "symlink that leads outside the library" in str(caught.value)
    assert "SECRET" not in str(caught.value)
    # A link that stays inside the library is read.
    (library / "shared.yaml").write_text("priority: 7\n")
    (library / ".clustercode.yaml").symlink_to(library / "shared.yaml")
    other = library / "other.mkv"
    other.touch()
    assert profiles.resolve(other, library, fresh=True).profile.priority == 7


def test_a_non_yaml_file_is_quoted_only_as_a_short_excerpt(tmp_path: Path) -> None:
    text = "root:x:0:0:root:/root:/bin/bash\n" + "daemon:x:1:1:SECRET-LINE:/usr/sbin\n" * 40
    with pytest.raises(ProfileError) as caught:
        parse_text(text, "lib/a.mkv.clustercode.yaml", cascade=True)
    assert "SECRET-LINE" not in str(caught.value)
    assert len(str(caught.value)) < 200


def test_a_fifo_companion_does_not_hang_the_resolver(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    media = library / "a.mkv"
    media.touch()
    os.mkfifo(library / "a.mkv.clustercode.yaml")
    with pytest.raises(ProfileError, match="not a regular file"):
        ProfileSet.load(None).resolve(media, library)


def _settings(tmp_path: Path, library: Path, output: Path) -> Settings:
    return Settings(libraries=[library], output=output, state_dir=tmp_path / "state")


def test_output_template_cannot_climb_out_of_the_output_root(tmp_path: Path) -> None:
    library, output = tmp_path / "lib", tmp_path / "out"
    library.mkdir()
    output.mkdir()
    (library / ".clustercode.yaml").write_text('output: "{stem}/.../tmp/ESCAPED.{container}"\n')
    media = library / "...mkv"
    media.touch()
    resolution = ProfileSet.load(None).resolve(media, library)
    with pytest.raises(ProfileError, match="not a file name below the output root"):
        output_path(_settings(tmp_path, library, output), resolution)


def test_output_path_through_a_symlinked_directory_is_refused(tmp_path: Path) -> None:
    library, output, elsewhere = tmp_path / "lib", tmp_path / "out", tmp_path / "elsewhere"
    for directory in (library / "films", output, elsewhere):
        directory.mkdir(parents=True)
    (output / "films").symlink_to(elsewhere)
    media = library / "films" / "a.mkv"
    media.touch()
    resolution = ProfileSet.load(None).resolve(media, library)
    with pytest.raises(ProfileError, match="leads outside the output root"):
        output_path(_settings(tmp_path, library, output), resolution)
    ok = library / "b.mkv"
    ok.touch()
    settings = _settings(tmp_path, library, output)
    assert output_path(settings, ProfileSet.load(None).resolve(ok, library)) == output / "b.mkv"
