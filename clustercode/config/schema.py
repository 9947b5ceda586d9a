"""The config file's JSON schema, self-contained (no ``$ref``), drawn from :class:`Settings`.

The Helm chart embeds it under ``config`` in ``values.schema.json`` (``tools/chart-schema``
writes it there, a test checks it is current), so a misspelt or mistyped setting fails
``helm install`` instead of the pod's start.
"""

from __future__ import annotations

import copy
from typing import Any

from clustercode.config.settings import Settings

__all__ = ["config_json_schema"]

# Annotations that say nothing to a validator (and "path" is not a JSON Schema format).
_DROPPED = frozenset({"title", "default", "format"})

# Settings whose validators also take a string (split on separators); the schema must too.
_ALSO_STRING = frozenset({"libraries", "media_extensions"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` into ``$defs`` replaced by its definition."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rpartition("/")[2]
        resolved = _inline(copy.deepcopy(defs[name]), defs)
        return resolved | {k: _inline(v, defs) for k, v in node.items() if k != "$ref"}
    return {
        key: (
            {name: _inline(sub, defs) for name, sub in value.items()}
            if key == "properties"
            else _inline(value, defs)
        )
        for key, value in node.items()
        if key not in _DROPPED
    }


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of the config file's top level: every setting, typed; nothing else.

    Returns:
        A schema object with ``additionalProperties: false`` at the top and inside ``argo``.
    """
    raw = Settings.model_json_schema(mode="validation")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _inline(raw, defs)
    schema.pop("description", None)
    for name in _ALSO_STRING:
        field = schema["properties"][name]
        schema["properties"][name] = {
            "anyOf": [{k: v for k, v in field.items() if k != "description"}, {"type": "string"}],
            **({"description": field["description"]} if "description" in field else {}),
        }
    schema["description"] = (
        "clustercode settings, written into its config file (see the README's Configuration)"
    )
    return schema
