"""Random file names and random ``.clustercode.yaml`` files in a library served for real.

Any byte string a file system allows as a name is transcoded or skipped with a warning; no scan
dies; any text as a cascade file is a setting or a clear refusal, never a crash.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustercode.api.v1 import service_pb2
from clustercode.errors import ProfileError
from clustercode.profiles._cascade import parse_text
from clustercode.profiles._schema import CASCADE_KEYS
from tests.fuzz.counts import record_calls
from tests.fuzz.live import LiveServer

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.binary(min_size=1, max_size=120).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(["-c:v", "libx264", "-vf", "movie=/etc/passwd", "{stem}", "copy", "../x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
documents = st.one_of(
    st.dictionaries(st.sampled_from(sorted(CASCADE_KEYS)) | st.text(max_size=12), values).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True)
    ),
    st.text(max_size=300),
    st.sampled_from(["key: [unclosed", "a: b\n  c: d", "!!python/object:os.system x", "&a [*a]"]),
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("fuzz-library")) as server:
        yield server


def _clear(library: bytes) -> None:
    for entry in os.scandir(library):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def test_random_byte_names_are_transcoded_or_skipped(
    live: LiveServer, request: pytest.FixtureRequest
) -> None:
    library = os.fsencode(live.library)
    before = live.log.calls

    @FUZZ
    @given(st.lists(names, min_size=1, max_size=6, unique=True), st.booleans())
    def scan(batch: list[bytes], nested: bool) -> None:
        _clear(library)
        where = library + (b"/sub\xfe dir" if nested else b"")
        os.makedirs(where, exist_ok=True)
        for name in batch:
            with open(where + b"/" + name + b".mkv", "wb") as handle:
                handle.write(b"\x1a\x45\xdf\xa3 not a real file " + name)
        code, reply = live.call("ScanLibrary", b"", timeout=60)
        assert code is grpc.StatusCode.OK
        report = service_pb2.ScanLibraryResponse.FromString(reply)
        decided = {d.path for d in report.decisions}
        for name in batch:
            try:
                text = os.fsdecode(where + b"/" + name + b".mkv")
                text.encode("utf-8")
            except UnicodeEncodeError:
                continue  # skipped with a warning: not in the report
            if nested:
                continue  # the directory's own name is not UTF-8: the scanner skips it
            assert text in decided
            explain = service_pb2.ExplainFileRequest(path=text)
            live.call("ExplainFile", explain.SerializeToString(), timeout=30)

    scan()
    assert live.healthy()
    record_calls(request.config, "names", live.log.calls - before)
    assert live.log.undocumented == []
    assert live.problems() == []


def test_random_cascade_files_are_settings_or_clear_refusals(
    live: LiveServer, request: pytest.FixtureRequest
) -> None:
    films = live.library / "films"
    before = live.log.calls

    @FUZZ
    @given(documents, st.booleans())
    def explain(text: str, companion: bool) -> None:
        _clear(os.fsencode(live.library))
        films.mkdir()
        (films / "a.mkv").write_bytes(b"not a video")
        target = films / ("a.mkv.clustercode.yaml" if companion else ".clustercode.yaml")
        target.write_text(text, encoding="utf-8")
        body = service_pb2.ExplainFileRequest(path="films/a.mkv").SerializeToString()
        code, _ = live.call("ExplainFile", body, timeout=30)
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION), code

    explain()
    assert live.healthy()
    record_calls(request.config, "yaml", live.log.calls - before)
    assert live.log.undocumented == []
    assert live.problems() == []


@FUZZ
@given(documents)
def test_profile_parser_raises_only_profile_errors(text: str) -> None:
    try:
        layer: Any = parse_text(text, "lib/.clustercode.yaml", cascade=True)
    except ProfileError as error:
        assert len(str(error)) < 600
    else:
        assert layer.source == "lib/.clustercode.yaml"
