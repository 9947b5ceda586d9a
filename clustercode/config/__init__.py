"""Settings: the config file, ``CLUSTERCODE_*`` variables and options, and the ``argo:`` section.

Owns the one documented config format and its line-numbered YAML reading. Imports only
``clustercode.errors``.
"""

from __future__ import annotations

from clustercode.config.argo import ArgoSettings
from clustercode.config.load import load_settings
from clustercode.config.settings import (
    CONFIG_ENV,
    DEFAULT_MEDIA_EXTENSIONS,
    Settings,
    default_state_dir,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MEDIA_EXTENSIONS",
    "ArgoSettings",
    "Settings",
    "default_state_dir",
    "load_settings",
]
