"""The bearer token on a real server: every API RPC refuses a missing or wrong token with
UNAUTHENTICATED before reaching the control plane; health and reflection stay open."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clustercode.api.v1 import service_pb2
from clustercode.server import SERVICE_NAME
from tests.integration.grpc_client import AUTH, SERVICE, TOKEN, call, rpc_error, serving
from tests.integration.server_double import ControlDouble

BAD_METADATA = {
    "missing": (),
    "wrong": (("authorization", "Bearer not-the-token"),),
    "prefix": (("authorization", f"Bearer {TOKEN[:-1]}"),),
    "no-scheme": (("authorization", TOKEN),),
    "basic": (("authorization", f"Basic {TOKEN}"),),
}


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods])
@pytest.mark.parametrize("case", list(BAD_METADATA))
async def test_every_rpc_refuses_bad_tokens(
    channel: grpc.aio.Channel, control: ControlDouble, method: str, case: str
) -> None:
    request = getattr(service_pb2, SERVICE.methods_by_name[method].input_type.name)()
    error = await rpc_error(channel, method, request, BAD_METADATA[case])
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    expected = "missing bearer token" if case == "missing" else "bearer"
    assert expected in (error.details() or "").lower()
    assert control.calls == []  # refused before the control plane


async def test_scheme_is_case_insensitive(channel: grpc.aio.Channel) -> None:
    metadata = (("authorization", f"bearer {TOKEN}"),)
    (response,) = await call(channel, "GetStatus", service_pb2.GetStatusRequest(), metadata)
    assert response.version == "0.1.0"


async def test_health_is_open(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_NAME):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_is_open(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = [answer async for answer in stub.ServerReflectionInfo(iter([request]))]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


async def test_unknown_method_is_unimplemented_not_unauthenticated(
    channel: grpc.aio.Channel,
) -> None:
    unknown = channel.unary_unary(
        f"/{SERVICE_NAME}/NoSuchRpc", request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unknown(b"", metadata=AUTH)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_server_without_token_needs_none(control: ControlDouble) -> None:
    async with serving(control, token=None) as (_, open_channel):
        (response,) = await call(open_channel, "GetStatus", service_pb2.GetStatusRequest(), ())
    assert response.executor == "local"
