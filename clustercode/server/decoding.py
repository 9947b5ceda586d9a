"""Decode request messages ourselves, so a malformed body is INVALID_ARGUMENT, not a traceback.

grpc.aio decodes a request with the method's deserializer before any of our code runs; a body
that is not a valid message then ends as UNKNOWN, with a traceback in the log for every such
call, authenticated or not. :class:`RequestDecodingInterceptor` gives every method a handler
that receives the raw bytes and decodes them itself, answering INVALID_ARGUMENT when it cannot.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from clustercode.server._interceptor import ServerInterceptor as _Interceptor

__all__ = ["RequestDecodingInterceptor"]

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # generic only in the type stubs
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
Context = Any  # grpc.aio.ServicerContext; generic only in the stubs


class RequestDecodingInterceptor(_Interceptor):
    """Hand every method raw bytes and decode them in the handler, refusing malformed ones."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        """Wrap the method's handler; unknown methods pass on (UNIMPLEMENTED)."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return _decoding(handler, handler_call_details.method)


def _decoder(
    deserialize: Callable[[bytes], Any], method: str
) -> Callable[[bytes, Context], Awaitable[Any]]:
    async def decode(raw: bytes, context: Context) -> Any:
        try:
            return deserialize(raw)
        except Exception:  # DecodeError, and whatever else a deserializer raises on junk
            log.info("refused %s: the request is not a valid message", method)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request body is not a valid {method.rpartition('/')[2]} request message",
            )

    return decode


def _decoding(handler: Handler, method: str) -> Handler:
    assert handler.request_deserializer is not None  # checked by the interceptor
    decode = _decoder(handler.request_deserializer, method)
    serializer = handler.response_serializer
    if handler.request_streaming:
        behavior = handler.stream_stream or handler.stream_unary

        async def decoded(raw: AsyncIterator[bytes], context: Context) -> AsyncIterator[Any]:
            async for item in raw:
                yield await decode(item, context)

        def stream_args(raw: Any, context: Context) -> tuple[Any, Context]:
            return decoded(raw, context), context

        assert behavior is not None
        wrapped = _wrap(behavior, stream_args, decode=None)
        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(wrapped, None, serializer)
        return grpc.stream_unary_rpc_method_handler(wrapped, None, serializer)
    behavior = handler.unary_stream or handler.unary_unary
    assert behavior is not None
    wrapped = _wrap(behavior, None, decode=decode)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(wrapped, None, serializer)
    return grpc.unary_unary_rpc_method_handler(wrapped, None, serializer)


def _wrap(
    behavior: Callable[..., Any],
    stream_args: Callable[[Any, Context], tuple[Any, Context]] | None,
    *,
    decode: Callable[[bytes, Context], Awaitable[Any]] | None,
) -> Callable[..., Any]:
    """Keep the behaviour's kind: grpc.aio treats async generators and coroutines differently."""

    async def arguments(raw: Any, context: Context) -> Any:
        if decode is not None:
            return await decode(raw, context)
        assert stream_args is not None
        return stream_args(raw, context)[0]

    if inspect.isasyncgenfunction(behavior):

        async def generator(raw: Any, context: Context) -> AsyncIterator[Any]:
            request = await arguments(raw, context)
            async for item in behavior(request, context):
                yield item

        return generator

    async def coroutine(raw: Any, context: Context) -> Any:
        request = await arguments(raw, context)
        return await behavior(request, context)

    return coroutine
