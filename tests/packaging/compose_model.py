"""compose.yaml as Docker Compose resolves it, through ``tools/compose-validate``.

The validator is compose-go's loader in a small Go program (``make compose-validator``); without
it these tests skip, or fail under ``CLUSTERCODE_REQUIRE_TOOLS=1`` as in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_TOOLS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
VALIDATOR = REPO / "tools" / "compose-validate" / "compose-validate"

SAMPLE_ENV = {"CLUSTERCODE_LIBRARY": "/srv/media", "CLUSTERCODE_OUTPUT": "/srv/transcoded"}
"""The variables a user puts in .env next to compose.yaml."""


def validator() -> Path:
    """The built validator, or skip (fail in CI)."""
    if VALIDATOR.is_file():
        return VALIDATOR
    message = f"{VALIDATOR} is not built (make compose-validator)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def validate(
    file: Path, env: Mapping[str, str], *, as_json: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the validator on ``file`` with exactly ``env`` (plus PATH and HOME) as variables."""
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return subprocess.run(
        [str(validator()), *(["-json"] if as_json else []), str(file)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def project(env: Mapping[str, str] = SAMPLE_ENV) -> dict[str, Any]:
    """The resolved project of the repository's compose.yaml."""
    done = validate(COMPOSE_FILE, env, as_json=True)
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = json.loads(done.stdout)
    return resolved
