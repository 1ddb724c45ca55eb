"""Structured logs: one JSON object per line, tagged with the id of the request that wrote it.

``RequestIdMiddleware`` (in ``diagnostics.middleware``) sets the id for the
duration of a request, Celery tasks log with ``task-<task id>`` (see
``diagnostics.signals``), commands with ``"-"``. Never log names, record
numbers or lab values: log ids and counts.
"""

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("thyroweb_request_id", default="-")

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}

_PLAIN = (str, int, float, bool, type(None))

# PostgreSQL puts row values in its error details ("Key (record_number)=(MRN-1) already exists",
# "Failing row contains (...)"); an exception logged with its traceback must not carry them.
# The detail runs to the end of its line, or to an escaped newline inside a repr() (Celery logs those).
_DATABASE_DETAIL = re.compile(r"DETAIL:.*?(?=\\n|\n|$)", re.MULTILINE)


def redact(text: str) -> str:
    return _DATABASE_DETAIL.sub("DETAIL: [redacted: database row values]", text)


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (for any formatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
        }
        for key, value in vars(record).items():
            # Plain values only: objects such as Django's ``request`` would print query strings.
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_") and isinstance(value, _PLAIN):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
