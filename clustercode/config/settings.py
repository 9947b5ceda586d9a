"""clustercode's settings: one YAML config file, ``CLUSTERCODE_*`` environment variables, options.

Precedence, highest first: explicit options (command-line flags, passed to :func:`load_settings`
as keyword arguments), environment variables, the config file, built-in defaults.

The config file is named by ``--config`` or ``CLUSTERCODE_CONFIG``; there is no implicit one.
Its top level is a mapping of the field names below. Relative paths in the file are relative to
the file's directory; relative paths from the environment or options are relative to the
current directory; ``~`` is expanded everywhere. Example::

    # /etc/clustercode.yaml
    libraries: [/srv/media/movies, /srv/media/shows]
    output: /srv/media/transcoded       # or: in_place: true
    profiles_dir: /etc/clustercode/profiles
    state_dir: /var/lib/clustercode     # history (embedded Redis) and work files
    executor: local                     # or: argo
    parallel: 8                         # slice encodes at once (local executor)
    scan_interval: 600
    argo:
      url: https://argo.example.org:2746
      namespace: media
      token_file: /var/run/secrets/argo/token
      node_selector: {kubernetes.io/arch: amd64}

Environment variables carry the prefix ``CLUSTERCODE_`` and use ``__`` to reach into ``argo``:
``CLUSTERCODE_PARALLEL=4``, ``CLUSTERCODE_ARGO__NAMESPACE=media``. ``CLUSTERCODE_LIBRARIES``
takes a JSON list or paths separated by ``:``; ``CLUSTERCODE_MEDIA_EXTENSIONS`` takes a JSON list
or names separated by commas.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic import model_validator as _model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from clustercode.config._file import ConfigFileSource
from clustercode.config.argo import ArgoSettings
from clustercode.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MEDIA_EXTENSIONS",
    "ArgoSettings",
    "Settings",
    "default_state_dir",
]

CONFIG_ENV = "CLUSTERCODE_CONFIG"
"""Environment variable naming the config file when ``--config`` is not given."""

DEFAULT_MEDIA_EXTENSIONS = frozenset(
    {"mkv", "mp4", "m4v", "mov", "avi", "ts", "m2ts", "mts", "webm", "wmv", "flv", "mpg", "mpeg"}
)

ENV_PREFIX = "CLUSTERCODE_"


def default_state_dir() -> Path:
    """Return ``$XDG_STATE_HOME/clustercode``, else ``~/.local/state/clustercode``."""
    base = os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base else Path.home() / ".local" / "state"
    return root / "clustercode"


class FieldConflict(ConfigError):
    """Fields that are valid alone but not together; raised past pydantic so the field stays."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Settings(BaseSettings):
    """Everything clustercode needs to know; see the module docstring for the file format."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    libraries: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Library roots to scan; read-only inputs, never written to "
        "(unless in_place is true).",
    )
    output: Path | None = Field(
        default=None,
        description="Output root; each output mirrors its source's path below its library root. "
        "Never scanned as input. Required unless in_place is true.",
    )
    in_place: bool = Field(
        default=False,
        description="Replace each source with its output after verification instead of writing "
        "under an output root.",
    )
    profiles_dir: Path | None = Field(
        default=None,
        description="Directory of named profiles (<name>.yaml); they override built-ins.",
    )
    profile: str | None = Field(
        default=None,
        description="Profile for files no .clustercode.yaml chooses one for (default: h264).",
    )
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Persistent state: the embedded Redis data and the default work directory.",
    )
    work_dir: Path = Field(
        default=None,  # type: ignore[assignment]  # filled from state_dir before validation
        description="Scratch space for slices and plans (default: <state_dir>/work). "
        "Never scanned as input.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis to keep history in, e.g. redis://host:6379/0 (None: embedded).",
    )
    executor: Literal["local", "argo"] = Field(
        default="local", description="Where workflows run: this machine or Argo Workflows."
    )
    parallel: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Most slice encodes at once on this machine (local executor; default: CPUs).",
    )
    max_jobs: int = Field(default=1, ge=1, description="Most files transcoded at once.")
    scan_interval: float = Field(
        default=300.0, ge=0, description="Seconds between library scans (0: scan only when asked)."
    )
    settle_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A file is picked only once unmodified for this many seconds.",
    )
    media_extensions: Annotated[frozenset[str], NoDecode] = Field(
        default=DEFAULT_MEDIA_EXTENSIONS,
        description="File extensions (without the dot, any case) the scanner considers media.",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="A file failing this many times is parked until a user retries it.",
    )
    retry_backoff: float = Field(
        default=30.0,
        ge=0,
        description="Seconds before a failed job's next attempt; doubles after each attempt.",
    )
    slice_seconds: float | None = Field(
        default=None, gt=0, description="Override every profile's slice length (seconds)."
    )
    listen: str = Field(
        default="127.0.0.1:50051",
        description="gRPC listen address, host:port or unix:PATH. A non-loopback address needs "
        "token or token_file unless allow_insecure_remote is true.",
    )
    token: SecretStr | None = Field(default=None, description="Bearer token clients must present.")
    token_file: Path | None = Field(default=None, description="File holding the bearer token.")
    allow_insecure_remote: bool = Field(
        default=False, description="Allow listening on a non-loopback address without a token."
    )
    argo: ArgoSettings = Field(
        default_factory=ArgoSettings,
        description="Argo executor settings.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options, then the environment, then the config file (no dotenv, no secrets dir)."""
        return (init_settings, env_settings, ConfigFileSource(settings_cls))

    @_model_validator(mode="before")
    @classmethod
    def _default_work_dir(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("work_dir") is None:
            state = data.get("state_dir") or default_state_dir()
            data = {**data, "work_dir": Path(state) / "work"}
        return data

    @field_validator("libraries", mode="before")
    @classmethod
    def _split_libraries(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _split_env_list(value, os.pathsep)
        return value

    @field_validator("media_extensions", mode="before")
    @classmethod
    def _normalise_extensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _split_env_list(value, ",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(v).strip().lstrip(".").lower() for v in value if str(v).strip())
        return value

    @field_validator("libraries", mode="after")
    @classmethod
    def _absolute_libraries(cls, value: list[Path]) -> list[Path]:
        return [absolute(p) for p in value]

    @field_validator("output", "profiles_dir", "state_dir", "work_dir", "token_file", mode="after")
    @classmethod
    def _absolute_path(cls, value: Path | None) -> Path | None:
        return None if value is None else absolute(value)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if value.startswith("unix:"):
            return value
        host, sep, port = value.rpartition(":")
        # Port 0 asks the system for a free port (the server prints the one it got).
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port or unix:PATH, got {value!r}")
        return value

    @_model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.in_place and self.output is not None:
            raise FieldConflict("output", "set either output or in_place: true, not both")
        if self.token is not None and self.token_file is not None:
            raise FieldConflict("token", "set either token or token_file, not both")
        if self.output is not None:
            for root in self.libraries:
                if root == self.output or self.output in root.parents:
                    raise FieldConflict(
                        "output",
                        f"{self.output} contains library root {root}; the output root is never "
                        "scanned, so put it beside or inside the library instead",
                    )
        secured = self.allow_insecure_remote or self.token or self.token_file
        if not secured and not _is_loopback(self.listen):
            raise FieldConflict(
                "listen",
                f"{self.listen} is reachable from other machines; set token or token_file, "
                "or allow_insecure_remote: true",
            )
        return self

    def require_library(self) -> None:
        """Check what scanning and transcoding need: a library root and an output root.

        Raises:
            ConfigError: no library root, or neither output nor in_place.
        """
        if not self.libraries:
            raise FieldConflict("libraries", "at least one library root is required")
        if self.output is None and not self.in_place:
            raise FieldConflict("output", "required unless in_place is true")

    def bearer_token(self) -> str | None:
        """Return the token clients must present, reading ``token_file`` if that is set.

        Raises:
            ConfigError: the token file cannot be read or is empty.
        """
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_file is None:
            return None
        try:
            text = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"token_file: cannot read {self.token_file}: {exc.strerror}") from exc
        if not text:
            raise ConfigError(f"token_file: {self.token_file} is empty")
        return text

    def excluded_dirs(self) -> list[Path]:
        """Directories the scanner must never enter: the output root, work and state dirs."""
        dirs = [self.work_dir, self.state_dir]
        if self.output is not None:
            dirs.insert(0, self.output)
        return dirs


def _split_env_list(value: str, separator: str) -> list[str]:
    text = value.strip()
    if text.startswith("["):
        import json

        parsed = json.loads(text)
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return [part.strip() for part in text.split(separator) if part.strip()]


def absolute(path: Path) -> Path:
    # Lexical normalisation: "lib/../out" must compare equal to "out" in the overlap checks.
    return Path(os.path.normpath(path.expanduser().absolute()))


def _is_loopback(listen: str) -> bool:
    if listen.startswith("unix:"):
        return True
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
