"""``python -m tui``: arguments and the token, checked before the screen takes the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_an_unreadable_token_file_is_an_error_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["--token-file", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"clustercode tui: cannot read the token file {missing}")


def test_help_names_the_command_users_type() -> None:
    env = {key: value for key, value in os.environ.items() if key != "CLUSTERCODE_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "clustercode", "tui", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: clustercode tui ")
    for option in ("--address", "--token-file", "--log-file", "127.0.0.1:50051"):
        assert option in result.stdout
