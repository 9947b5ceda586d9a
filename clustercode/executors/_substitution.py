"""Argo's ``{{...}}`` variables and Go durations, as the local executor understands them.

Only simple variables are supported (``{{inputs.parameters.x}}``, ``{{item.field}}``, ...);
expression templates (``{{=...}}``) and anything outside a given scope are errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from clustercode.errors import ManifestError

_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class UnresolvedError(Exception):
    """A variable has no value in the scope it is used in."""


def references(text: str) -> Iterator[str]:
    """Yield the variable names used in ``text`` (``{{ a.b }}`` gives ``a.b``)."""
    for match in _VARIABLE.finditer(text):
        yield match.group(1)


def substitute(text: str, scope: Mapping[str, str]) -> str:
    """Replace every ``{{name}}`` in ``text`` by ``scope[name]``.

    Raises:
        UnresolvedError: a name is not in ``scope``.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            return scope[name]
        except KeyError:
            raise UnresolvedError(f"unresolved variable {{{{{name}}}}}") from None

    return _VARIABLE.sub(replace, text)


def as_parameter(value: Any) -> str:
    """Render a JSON value as Argo renders parameters: strings as-is, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def item_scope(item: Any) -> dict[str, str]:
    """The ``{{item}}`` and ``{{item.field}}`` variables of one loop item."""
    scope = {"item": as_parameter(item)}
    if isinstance(item, Mapping):
        scope.update({f"item.{k}": as_parameter(v) for k, v in item.items()})
    return scope


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds of a Go duration (``5s``, ``1m30s``, ``500ms``) or a plain number of seconds.

    Raises:
        ManifestError: ``text`` is neither.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if isinstance(text, str):
        stripped = text.strip()
        if re.fullmatch(r"\d+(\.\d+)?", stripped):
            return float(stripped)
        parts = _DURATION_PART.findall(stripped)
        if parts and "".join(n + u for n, u in parts) == stripped:
            return sum(float(n) * _UNITS[u] for n, u in parts)
    raise ManifestError(f"{where}: {text!r} is not a duration such as 5s, 1m or 1m30s")
