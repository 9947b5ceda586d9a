"""Reading the config file with line numbers, and handing it to pydantic-settings."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic_settings import PydanticBaseSettingsSource

from clustercode.config.yamlnodes import YamlProblem, compose, construct, entries
from clustercode.errors import ConfigError

__all__ = ["FILE_VALUES", "ConfigFileSource", "read_config_file"]

# The file's values reach the settings class through this variable: pydantic-settings builds its
# sources per class, and a context variable keeps concurrent loads (tests, threads) apart.
FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("FILE_VALUES", default=None)


class ConfigFileSource(PydanticBaseSettingsSource):
    """Hands the already-parsed config file to pydantic-settings at the lowest precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ returns the whole mapping at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(FILE_VALUES.get() or {})


_PATH_KEYS = frozenset({"output", "profiles_dir", "state_dir", "work_dir", "token_file"})


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse the config file; return its values and the line of every (dotted) key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror or exc}") from exc
    try:
        root = compose(text)
        if root is None:
            return {}, {}
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for entry in entries(root):
            lines[entry.key] = entry.line
            if entry.key == "argo":
                nested: dict[str, Any] = {}
                for sub in entries(entry.node, "argo"):
                    lines[f"argo.{sub.key}"] = sub.line
                    nested[sub.key] = construct(sub.node)
                values["argo"] = nested
            else:
                values[entry.key] = construct(entry.node)
    except YamlProblem as exc:
        raise ConfigError(f"config {path} line {exc.line}: {exc.message}") from exc
    base = path.parent
    for key in _PATH_KEYS & values.keys():
        if isinstance(values[key], str):
            values[key] = _relative_to(base, values[key])
    if isinstance(values.get("libraries"), list):
        values["libraries"] = [
            _relative_to(base, v) if isinstance(v, str) else v for v in values["libraries"]
        ]
    argo = values.get("argo")
    if isinstance(argo, dict):
        for key in ("token_file", "ca_file"):
            if isinstance(argo.get(key), str):
                argo[key] = _relative_to(base, argo[key])
    return values, lines


def _relative_to(base: Path, text: str) -> str:
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base / path)
