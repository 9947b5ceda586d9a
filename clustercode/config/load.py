"""Loading the settings: options over ``CLUSTERCODE_*`` variables over the config file over
defaults, with errors that say where each bad value came from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clustercode.config._file import FILE_VALUES, read_config_file
from clustercode.config.settings import (
    CONFIG_ENV,
    ENV_PREFIX,
    FieldConflict,
    Settings,
    absolute,
)
from clustercode.errors import ConfigError

__all__ = ["env_name", "load_settings"]


def env_name(field: str) -> str:
    return ENV_PREFIX + field.replace(".", "__").upper()


def load_settings(
    config_file: Path | None = None, *, require_library: bool = True, **overrides: Any
) -> Settings:
    """Load settings from the config file, the environment and explicit overrides.

    Args:
        config_file: the config file; ``None`` falls back to ``$CLUSTERCODE_CONFIG``, and
            without either only the environment and defaults apply.
        **overrides: field values from command-line options; they win over everything.
            A value of ``None`` means "option not given" and is ignored.

        require_library: also demand a library root and an output root (or in_place), as
            scanning and transcoding do; pass ``False`` for commands such as ``history``.

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file cannot be read or parsed, or a value is invalid. The message says
            where the value came from and names the field, e.g.
            ``config /etc/cc.yaml line 3: parallel: Input should be a valid integer``.
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    file_values: dict[str, Any] = {}
    file_lines: dict[str, int] = {}
    if config_file is not None:
        config_file = absolute(config_file)
        file_values, file_lines = read_config_file(config_file)
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in given:
        if key not in Settings.model_fields:
            raise ConfigError(f"option {key}: unknown setting")

    def where(field: str) -> str:
        """Prefix naming the source of a field's value, and the field unless the source does."""
        top = field.split(".", 1)[0].split("[", 1)[0]
        if top in given:
            return f"option {field}"
        for env in (env_name(field.split("[", 1)[0]), env_name(top)):
            if env in os.environ:
                return f"environment {env}"
        if config_file is None:
            return f"settings: {field}"
        for key in (field.split("[", 1)[0], top):
            if key in file_lines:
                return f"config {config_file} line {file_lines[key]}: {field}"
        return f"config {config_file}: {field}"

    token = FILE_VALUES.set(file_values)
    try:
        settings = Settings(**given)
        if require_library:
            settings.require_library()
        return settings
    except FieldConflict as exc:
        raise ConfigError(f"{where(exc.field)}: {exc.message}") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = _dotted(error["loc"])
            if error["type"] == "extra_forbidden":
                message = "unknown setting"
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where(field)}: {message}")
        raise ConfigError("\n".join(problems)) from None
    except ValueError as exc:  # pydantic-settings' own parse errors (e.g. bad JSON in env)
        raise ConfigError(f"environment: {exc}") from None
    finally:
        FILE_VALUES.reset(token)


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
