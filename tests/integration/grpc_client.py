"""Client side of the servicer-level server tests: a running server, calls by RPC name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import message as pb_message

from clustercode.api.v1 import service_pb2
from clustercode.server import SERVICE_NAME, ApiServer
from clustercode.server.control import ControlPlane

TOKEN = "test-token-0123456789"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
SERVICE = service_pb2.DESCRIPTOR.services_by_name["ClustercodeService"]
Metadata = tuple[tuple[str, str], ...]


@asynccontextmanager
async def serving(
    control: ControlPlane, token: str | None = TOKEN
) -> AsyncIterator[tuple[ApiServer, grpc.aio.Channel]]:
    """Run a server on a free loopback port and open a channel to it."""
    async with (
        ApiServer(control, listen="127.0.0.1:0", token=token) as server,
        grpc.aio.insecure_channel(server.target) as channel,
    ):
        yield server, channel


async def call(
    channel: grpc.aio.Channel, method: str, request: pb_message.Message, metadata: Metadata = AUTH
) -> list[Any]:
    """Call any RPC by name; return its responses (one for unary RPCs)."""
    descriptor = SERVICE.methods_by_name[method]
    response_type = getattr(service_pb2, descriptor.output_type.name)
    path = f"/{SERVICE_NAME}/{method}"
    if descriptor.server_streaming:
        stream = channel.unary_stream(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )(request, metadata=metadata, timeout=5)
        return [response async for response in stream]
    unary = channel.unary_unary(
        path,
        request_serializer=type(request).SerializeToString,
        response_deserializer=response_type.FromString,
    )
    return [await unary(request, metadata=metadata, timeout=5)]


async def rpc_error(
    channel: grpc.aio.Channel, method: str, request: pb_message.Message, metadata: Metadata = AUTH
) -> grpc.aio.AioRpcError:
    """Call an RPC that must fail; return its error."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(channel, method, request, metadata)
    return caught.value
