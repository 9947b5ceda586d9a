"""The gRPC server of the control plane: clustercode.v1.ClustercodeService over grpc.aio.

Protobuf types stop here: :mod:`.convert` turns them into the control plane's own types and
back, :mod:`.errors` maps errors to status codes in one table, :mod:`.auth` checks the bearer
token, :mod:`.app` builds and runs the server.
"""

from __future__ import annotations

from clustercode.server.app import DEFAULT_LISTEN, ApiServer, ListenAddress, serve
from clustercode.server.auth import BearerTokenInterceptor, resolve_token
from clustercode.server.control import ControlPlane
from clustercode.server.errors import STATUS_CODES, status_for
from clustercode.server.servicer import SERVICE_NAME, ClustercodeServicer

__all__ = [
    "DEFAULT_LISTEN",
    "SERVICE_NAME",
    "STATUS_CODES",
    "ApiServer",
    "BearerTokenInterceptor",
    "ClustercodeServicer",
    "ControlPlane",
    "ListenAddress",
    "resolve_token",
    "serve",
    "status_for",
]
