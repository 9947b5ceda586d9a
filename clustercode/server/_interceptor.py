"""The base class of the server's interceptors: grpc.aio's, generic only in its type stubs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

__all__ = ["ServerInterceptor"]

if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor
