"""Structured JSON logs, one object per line, with no secrets in them.

Only fields named here are written; query strings, headers, cookies and bodies never are.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_EXTRA_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id", "client_ip")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("polaris")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
