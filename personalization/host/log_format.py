"""Structured logging: one JSON object per line, with credentials and e-mail addresses masked.

Use in ``LOGGING``::

    "formatters": {"json": {"()": "personalization.host.log_format.JsonFormatter"}},

ShopSense's own log records name customers by id only; the masking also covers records of other
libraries (an exception message quoting an address, a header echoed back).
"""
from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

REDACTIONS = (
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"\b(Api-Key|Token|Bearer)\s+[\w.\-]+", re.IGNORECASE), r"\1 [redacted]"),
    (re.compile(r"(sessionid|csrftoken|password|secret)=[^\s&;]+", re.IGNORECASE), r"\1=[redacted]"),
    (re.compile(r"://([^:/@\s]+):[^@/\s]+@"), r"://\1:[redacted]@"),  # passwords in URLs
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, credentials and URL passwords masked."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "process", "exception"?}`` per line, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        status_code = getattr(record, "status_code", None)  # django.request records
        if status_code is not None:
            entry["status"] = status_code
        return json.dumps(entry, ensure_ascii=False, default=str)
