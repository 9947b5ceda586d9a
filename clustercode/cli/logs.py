"""How the ``clustercode`` command logs: plain lines for a terminal, or one JSON object per line.

Only the entry point configures logging (:func:`configure`). Records keep their ``extra``
fields (``job_id``, ``file``, ``state``, ``reason``, ...): the JSON format writes them as keys,
so a log pipeline can filter on them without parsing the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure"]

LOG_FORMATS = ("text", "json")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the extra fields, and the
    exception text if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(
    *,
    verbose: int,
    log_format: str = "text",
    default: int = logging.WARNING,
    stream: TextIO | None = None,
) -> None:
    """Set up the root logger for one command.

    Args:
        verbose: how many ``-v`` were given: each one lowers the level one step below ``default``.
        log_format: ``text`` (time, level, logger, message) or ``json``.
        default: the level without ``-v`` (``serve`` logs at INFO, other commands at WARNING).
        stream: where records go (default stderr).
    """
    levels = [logging.WARNING, logging.INFO, logging.DEBUG]
    start = levels.index(default) if default in levels else 0
    level = levels[min(start + verbose, len(levels) - 1)]
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Libraries log their own chatter at INFO (aiohttp's access log, hera); keep it at WARNING
    # unless -vv asks for everything.
    if level > logging.DEBUG:
        for noisy in ("aiohttp.access", "hera", "httpx", "watchdog"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
