"""Start times as the running ffmpeg reads them, asked once and kept in the work directory.

The final mux puts every input back at its own first timestamp (``-itsoffset``), relative to
the start time ffmpeg subtracts from that input (see
:class:`~pipelines.steps._ffmpeg_run.StartTimeProbe`). Asking costs an ffmpeg start and a header
read, so ``split`` asks about the source while it probes it, ``audio`` about the audio it wrote,
and ``merge`` reads the answers. An answer counts only for the same file (size, modification
time, inode) read by the same binary (path, version, size, modification time); otherwise merge
asks again.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.ffmpeg import FFmpeg
from pipelines.steps import _atomic, _ffmpeg_run

__all__ = ["START_NAMES", "remember", "start_time"]

START_NAMES = {"source": "start_source.json", "audio": "start_audio.json"}
"""The sidecar of each input of the final mux, in the work directory."""


def _binary_key(binary: FFmpeg) -> list[object]:
    stat = Path(binary.path).stat()
    return [binary.path, binary.version, stat.st_size, stat.st_mtime_ns]


def _file_key(path: Path) -> list[object]:
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino]


def remember(work: Path, role: str, path: Path, probe: _ffmpeg_run.StartTimeProbe) -> None:
    """Wait for ``probe`` (started on ``path``) and keep its answer as ``role``'s start time."""
    value = probe.result()
    record = {
        "file": _file_key(path),
        "ffmpeg": _binary_key(_ffmpeg_run.ffmpeg()),
        "start": value,
    }
    _atomic.write_text(work / START_NAMES[role], json.dumps(record) + "\n")


def start_time(work: Path, role: str, path: Path) -> float | None:
    """``path``'s start time as the running ffmpeg reads it: kept, or asked now.

    Raises:
        EnvironmentStepError: ffmpeg cannot be asked.
        OSError: ``path`` cannot be read.
    """
    try:
        record = json.loads((work / START_NAMES[role]).read_text(encoding="utf-8"))
        if record["file"] == _file_key(path) and record["ffmpeg"] == _binary_key(
            _ffmpeg_run.ffmpeg()
        ):
            value = record["start"]
            if value is None or isinstance(value, (int, float)):
                return None if value is None else float(value)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return _ffmpeg_run.input_start_time(path)
