"""Every setting with its config key, environment variable, default and description.

``clustercode config`` prints it; the same text documents the config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from clustercode.config.argo import ArgoSettings
from clustercode.config.load import env_name
from clustercode.config.settings import Settings

__all__ = ["SettingDoc", "settings_reference"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingDoc:
    """One setting, documented: for ``clustercode config --help`` and the README.

    Attributes:
        name: the key in the config file (dotted below ``argo``).
        env: the environment variable that sets it.
        default: the default, rendered as text.
        description: what it does.
    """

    name: str
    env: str
    default: str
    description: str


def settings_reference() -> list[SettingDoc]:
    """Every setting in file order with its environment variable, default and description."""
    docs: list[SettingDoc] = []
    models: list[tuple[str, type[BaseModel]]] = [("", Settings), ("argo.", ArgoSettings)]
    for prefix, model in models:
        for name, info in model.model_fields.items():
            if name == "argo":
                continue
            if info.default_factory is not None:
                default: Any = info.default_factory()  # type: ignore[call-arg]
            else:
                default = info.default
            if name == "work_dir":
                default = "<state_dir>/work"
            elif isinstance(default, frozenset):
                default = ", ".join(sorted(default))
            elif isinstance(default, bool):
                default = str(default).lower()
            docs.append(
                SettingDoc(
                    name=prefix + name,
                    env=env_name(prefix + name),
                    default="none" if default is None else str(default),
                    description=info.description or "",
                )
            )
    return docs
