"""Every RPC with random and malformed requests against a real control service.

Requests are built from the protobuf descriptors (so a new field is fuzzed without a change
here), sent as raw bytes, with a valid token, a wrong one or none; raw random bodies go to every
method too. The suite asserts only documented status codes, no traceback or error in the log,
and a service that still answers and reports SERVING afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message as pb_message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustercode.api.v1 import service_pb2
from tests.fuzz.counts import record_calls
from tests.fuzz.live import AUTH, LiveServer

SERVICE = service_pb2.DESCRIPTOR.services_by_name["ClustercodeService"]
METHODS = {m.name: m for m in SERVICE.methods}
EXAMPLES = 450
BATCH = 24

NASTY = [
    "",
    "films/a.mkv",
    "a.mkv",
    "../etc/passwd",
    "/etc/passwd",
    "films/../../x",
    "a" * 5000,
    "a/" * 3000,
    "x" * 300 + ".mkv",
    "99999999999999999999-1",
    "1-18446744073709551616",
    "18446744073709551615-18446744073709551615",
    "0",
    "0" * 200 + "1",
    "1-" + "0" * 130,
    "$",
    "0-0",
    "1\n",
    "%s%n{0}",
    "x\x00y",
    "\u202e\u0665\u0663",
    "\uff46\uff49\uff4c\uff4d\uff53/\uff41.mkv",
    "JOB_STATE_RUNNING",
    "h264",
    "zz" * 40,
]

text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.text(min_size=200, max_size=6000),
    st.from_regex(r"[0-9]{1,140}(-[0-9]{1,140})?", fullmatch=True),  # event ids, long ones too
)


def _field_value(field: pb_descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == field.TYPE_STRING:
        return text
    if kind == field.TYPE_BOOL:
        return st.booleans()
    if kind == field.TYPE_ENUM:
        assert field.enum_type is not None
        return st.one_of(
            st.sampled_from([v.number for v in field.enum_type.values]),
            st.integers(-(2**31), 2**31 - 1),
        )
    if kind in (field.TYPE_INT32, field.TYPE_SINT32, field.TYPE_SFIXED32):
        return st.one_of(st.integers(-5, 2000), st.integers(-(2**31), 2**31 - 1))
    if kind in (field.TYPE_INT64, field.TYPE_SINT64, field.TYPE_SFIXED64):
        return st.integers(-(2**63), 2**63 - 1)
    if kind in (field.TYPE_UINT32, field.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if kind in (field.TYPE_UINT64, field.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return st.floats(allow_nan=True, width=32)
    if kind == field.TYPE_BYTES:
        return st.binary(max_size=64)
    raise AssertionError(f"no strategy for {field.full_name}")


def _repeated(field: pb_descriptor.FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # newer protobuf; older ones have label
    if repeated is not None:
        return bool(repeated)
    return bool(getattr(field, "label", None) == field.LABEL_REPEATED)


@st.composite
def requests(draw: st.DrawFn, method: pb_descriptor.MethodDescriptor) -> bytes:
    cls = GetMessageClass(method.input_type)
    message: pb_message.Message = cls()
    for field in method.input_type.fields:
        if field.message_type is not None or not draw(st.booleans()):
            continue
        value = draw(_field_value(field))
        if _repeated(field):
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)
    return message.SerializeToString()


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, bytes, tuple[tuple[str, str], ...]]:
    name = draw(st.sampled_from(sorted(METHODS)))
    body = draw(
        st.one_of(
            requests(METHODS[name]),
            requests(METHODS[name]),
            st.binary(max_size=200),  # malformed, or by chance a valid message
            st.sampled_from([b"\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x08" + b"\xff" * 11]),
        )
    )
    metadata = draw(
        st.sampled_from(
            [
                AUTH,
                AUTH,
                AUTH,
                AUTH,
                (),
                (("authorization", "Bearer wrong"),),
                (("authorization", "x"),),
            ]
        )
    )
    return name, body, metadata


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("fuzz-api")
    with LiveServer(root) as server:
        (server.library / "films").mkdir()
        (server.library / "films" / "a.mkv").write_bytes(b"not really a video")
        yield server


def test_every_rpc_with_random_and_malformed_requests(
    live: LiveServer, request: pytest.FixtureRequest
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(calls(), min_size=BATCH, max_size=BATCH))
    def batch(items: list[tuple[str, bytes, tuple[tuple[str, str], ...]]]) -> None:
        for name, body, metadata in items:
            stream = METHODS[name].server_streaming
            live.call(name, body, metadata, stream=stream, timeout=0.1 if stream else 10)

    batch()
    # Unknown methods and the health service's own methods, with junk too.
    for body in (b"", b"\xff\xff", b"\x0a\x03abc"):
        live.call("NoSuchMethod", body)
        live.call("Check", body, service="grpc.health.v1.Health")
    assert live.healthy()  # also: the scheduler and the periodic scan are alive
    record_calls(request.config, "rpc", live.log.calls)
    print(f"fuzz rpc: {live.log.calls} calls, codes {live.log.codes}")
    assert live.log.undocumented == [], "\n".join(live.problems())
    assert live.problems() == []
    assert live.log.calls >= EXAMPLES * BATCH


def test_the_reported_internal_errors_are_invalid_argument(live: LiveServer) -> None:
    long_path = service_pb2.SubmitFileRequest(path="films/" + "a" * 5000)
    long_name = service_pb2.ExplainFileRequest(path="x" * 300 + ".mkv")
    huge_id = service_pb2.WatchJobsRequest(after_event_id="99999999999999999999-1")
    long_id = service_pb2.WatchJobsRequest(after_event_id="0" * 200 + "1")  # found by the fuzz
    for method, message in (
        ("SubmitFile", long_path),
        ("ExplainFile", long_name),
        ("WatchJobs", huge_id),
        ("WatchJobs", long_id),
    ):
        assert live.channel is not None
        path = f"/clustercode.v1.ClustercodeService/{method}"
        call = (
            live.channel.unary_stream(path, None, None)
            if METHODS[method].server_streaming
            else live.channel.unary_unary(path, None, None)
        )
        with pytest.raises(grpc.RpcError) as caught:
            result = call(message.SerializeToString(), metadata=AUTH, timeout=5)
            list(result) if METHODS[method].server_streaming else None
        error: Any = caught.value
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (method, error.details())
        assert len(error.details()) < 300  # the request is quoted as a short excerpt at most
