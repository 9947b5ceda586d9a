"""argo-server's REST API through hera's async WorkflowsService, with errors a user can act on.

hera reads its bearer token once, when the service is built; projected service-account tokens
rotate, so a short-lived service is built around one shared HTTP connection pool for every
request, with the token read from its file just before.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from hera.exceptions import (
    AlreadyExists,
    BadRequest,
    Forbidden,
    HeraException,
    NotFound,
    Unauthorized,
)
from hera.workflows.async_service import AsyncWorkflowsService
from hera.workflows.models import (
    Workflow,
    WorkflowCreateRequest,
    WorkflowList,
    WorkflowStopRequest,
    WorkflowTerminateRequest,
)
from pydantic import ValidationError

from clustercode.config.argo import ArgoSettings
from clustercode.errors import (
    ClustercodeError,
    ConfigError,
    ExecutorError,
    NotFoundError,
    UnavailableError,
    exception_chain,
)

T = TypeVar("T")

_HERA_MESSAGE = re.compile(r"with message: `(?P<message>.*)`$", re.DOTALL)


class _Conflict(ExecutorError):
    """argo-server already has a Workflow of that name."""


class _CreateRequest(WorkflowCreateRequest):
    """hera serialises requests with pydantic's deprecated ``json()``; use the current API."""

    def json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)


class _StopRequest(WorkflowStopRequest):
    def json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)


class _TerminateRequest(WorkflowTerminateRequest):
    def json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)


class _Service(AsyncWorkflowsService):
    """hera passes request bodies as ``data=``, which httpx deprecates for raw text."""

    async def _request(self, method: str, **kwargs: Any) -> httpx.Response:
        body = kwargs.pop("data", None)
        if body is not None:
            kwargs["content"] = body
        return await self.session.request(method, **kwargs)


def _tls(settings: ArgoSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"argo.ca_file: cannot read {settings.ca_file}: {reason}") from None


def _server_message(exc: HeraException) -> str:
    match = _HERA_MESSAGE.search(str(exc))
    return match.group("message").strip() if match else str(exc)


class ArgoClient:
    """The REST calls the Argo executor makes, each mapped to clustercode's errors.

    Raises (from every call):
        UnavailableError: argo-server cannot be reached, TLS fails, the token cannot be read or
            is refused, or argo-server has an internal error.
        ExecutorError: argo-server rejected the request.
    """

    def __init__(self, settings: ArgoSettings) -> None:
        if not settings.url:
            raise ConfigError(
                "argo.url: required with executor argo (e.g. https://argo.example.org:2746)"
            )
        self.settings = settings
        # urljoin drops the last path segment of a base without a trailing slash.
        self.url = settings.url.rstrip("/") + "/"
        self.namespace = settings.namespace
        self._http = httpx.AsyncClient(
            verify=_tls(settings), timeout=httpx.Timeout(settings.request_timeout)
        )

    def _token(self) -> str | None:
        path = self.settings.token_file
        if path is None:
            return None
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UnavailableError(
                f"cannot read the argo-server token file {path}: {exc.strerror}"
            ) from None
        if not token:
            raise UnavailableError(f"the argo-server token file {path} is empty")
        return token

    async def _call(self, what: str, request: Callable[[AsyncWorkflowsService], Awaitable[T]]) -> T:
        service = _Service(
            host=self.url, token=self._token(), namespace=self.namespace, session=self._http
        )
        try:
            return await request(service)
        except HeraException as exc:
            raise self._refusal(what, exc) from None
        except httpx.TimeoutException:
            raise UnavailableError(
                f"argo-server {self.url} did not answer within {self.settings.request_timeout:g} s "
                f"({what})"
            ) from None
        except httpx.HTTPError as exc:
            raise self._transport(exc) from None
        except (ValidationError, KeyError, ValueError) as exc:
            # Not argo-server's answer (a proxy's page, a different API): say where it came from.
            raise UnavailableError(
                f"{self.url} gave an answer that is not argo-server's ({what}): {exc}"
            ) from None

    def _refusal(self, what: str, exc: HeraException) -> ClustercodeError:
        message = _server_message(exc)
        if isinstance(exc, Unauthorized | Forbidden):
            source = self.settings.token_file
            if source is None:
                return UnavailableError(
                    f"argo-server {self.url} refused the request without a token ({message}); "
                    "set argo.token_file"
                )
            return UnavailableError(f"argo-server refused the token from {source}: {message}")
        if isinstance(exc, NotFound):
            return NotFoundError(f"argo-server: {what}: not found ({message})")
        if isinstance(exc, AlreadyExists):
            return _Conflict(f"argo-server rejected {what}: {message}")
        if isinstance(exc, BadRequest):
            return ExecutorError(f"argo-server rejected {what}: {message}")
        status = getattr(exc, "status_code", 0)
        if status == 0 or status >= 500:
            return UnavailableError(f"argo-server {self.url} failed {what}: {message}")
        return ExecutorError(f"argo-server rejected {what}: {message}")

    def _transport(self, exc: httpx.HTTPError) -> UnavailableError:
        host = urlsplit(self.url).hostname or self.url
        for cause in exception_chain(exc):
            if isinstance(cause, ssl.SSLCertVerificationError):
                reason = cause.verify_message or cause.reason or str(cause)
                return UnavailableError(
                    f"TLS verification of argo-server {self.url} failed: {reason}; set "
                    "argo.ca_file to the CA that signed its certificate (or argo.verify_tls: "
                    "false for a test install)"
                )
            if isinstance(cause, ssl.SSLError):
                return UnavailableError(
                    f"TLS handshake with argo-server {self.url} failed: {cause.reason or cause}; "
                    "check that argo.url's scheme (http or https) matches the server"
                )
            if isinstance(cause, ConnectionRefusedError):
                return UnavailableError(
                    f"argo-server {self.url} is unreachable: connection refused; check argo.url "
                    "and that argo-server runs"
                )
            if isinstance(cause, socket.gaierror):
                return UnavailableError(
                    f"argo-server {self.url} is unreachable: cannot resolve {host} "
                    f"({cause.strerror}); check argo.url"
                )
        return UnavailableError(
            f"argo-server {self.url} is unreachable: {exc or type(exc).__name__}"
        )

    async def create(self, manifest: Mapping[str, Any]) -> bool:
        """Create the Workflow; return ``False`` if one of that name already exists."""
        body = dict(manifest)
        body["metadata"] = {**manifest.get("metadata", {}), "namespace": self.namespace}
        try:
            workflow = Workflow.model_validate(body)
        except ValidationError as exc:
            raise ExecutorError(f"the Workflow manifest is invalid: {exc}") from None
        request = _CreateRequest(workflow=workflow)
        name = body["metadata"].get("name", "")
        try:
            await self._call(
                f"creating workflow {name}",
                lambda s: s.create_workflow(request, namespace=self.namespace),
            )
        except _Conflict:
            return False
        return True

    async def get(self, name: str) -> Workflow:
        """The Workflow with its status."""
        return await self._call(
            f"reading workflow {name}", lambda s: s.get_workflow(name, namespace=self.namespace)
        )

    async def list(self, selector: str, *, limit: int, continue_: str | None) -> WorkflowList:
        """One page of the Workflows matching the label ``selector``."""
        return await self._call(
            f"listing workflows in namespace {self.namespace}",
            lambda s: s.list_workflows(
                namespace=self.namespace,
                label_selector=selector or None,
                limit=str(limit),
                continue_=continue_ or None,
            ),
        )

    async def stop(self, name: str) -> None:
        """Ask Argo to stop the Workflow: running pods are killed, the exit handler runs."""
        request = _StopRequest(name=name, namespace=self.namespace)
        await self._call(
            f"stopping workflow {name}",
            lambda s: s.stop_workflow(name, request, namespace=self.namespace),
        )

    async def terminate(self, name: str) -> None:
        """Ask Argo to terminate the Workflow: pods are killed, no exit handler."""
        request = _TerminateRequest(name=name, namespace=self.namespace)
        await self._call(
            f"terminating workflow {name}",
            lambda s: s.terminate_workflow(name, request, namespace=self.namespace),
        )

    async def delete(self, name: str) -> None:
        """Delete the Workflow (and, through Kubernetes, its pods)."""
        await self._call(
            f"deleting workflow {name}",
            lambda s: s.delete_workflow(name, namespace=self.namespace),
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
