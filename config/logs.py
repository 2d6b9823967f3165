"""Log lines as operators collect them: NURTURE_LOG_FORMAT=json gives one JSON object a line.

Each line holds time (UTC, ISO 8601), level, logger and message, the delivery, subscriber
or webhook batch id when the record carries one (`extra={"delivery_id": ...}`), and the
traceback of an exception. No personal data: our log calls name ids, never an address, a
name, an IP or a user agent, and as a last guard the formatter masks anything shaped like
an email address in the message and the traceback (a database error quoting a row, say).

The standard library's Formatter, not a JSON-logging package: the format is a dozen lines,
and the masking and the id fields are ours either way.

Each process applies it once at its start (`configure_logging`): the web app factory, the
CLI (so `nurture worker`, `beat` and `run` too), and Celery's logging set-up (tasks.app). In
"text" nothing is changed: the logs look as they always did.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings

# Record attributes copied into the JSON object when a log call passes them in `extra`.
ID_FIELDS = ("delivery_id", "delivery_ids", "subscriber_id", "batch_id")
HANDLER_NAME = "nurture-json"
# Loggers that log warnings only in JSON mode: werkzeug's development server logs every
# request with the client's IP (the reverse proxy keeps access logs), and Alembic names each
# plugin it loads whenever a process checks the schema.
WARNINGS_ONLY = ("werkzeug", "alembic.runtime.plugins")
# Shaped like an address (local@domain.tld), quoted or not; masked wherever it shows up.
ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
MASK = "[address]"


def redact(text: str) -> str:
    """Return TEXT with everything shaped like an email address masked."""
    return ADDRESS.sub(MASK, text)


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON, without personal data."""

    def format(self, record: logging.LogRecord) -> str:
        """Return RECORD as a JSON object on one line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        # default=str: an id passed as something else (a Decimal, say) still makes a line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class _JsonHandler(logging.StreamHandler):
    """The root handler JSON mode adds; remembers the root level it replaced."""

    def __init__(self, previous_level: int) -> None:
        # The process's real stderr: Celery redirects sys.stderr into logging itself.
        super().__init__(sys.__stderr__)
        self.previous_level = previous_level
        self.set_name(HANDLER_NAME)
        self.setFormatter(JsonFormatter())


def json_handler() -> logging.Handler | None:
    """Return the JSON handler on the root logger, or None in text mode."""
    return next((h for h in logging.getLogger().handlers if h.name == HANDLER_NAME), None)


def configure_logging(settings: Settings) -> None:
    """Apply SETTINGS.log_format to this process's logging; calling it again is harmless.

    JSON: the root logger writes JSON lines to stderr at INFO, Python's warnings become log
    lines too (not raw text on stderr), and the WARNINGS_ONLY loggers keep to warnings.
    Text: any JSON set-up is undone; nothing else.
    """
    root = logging.getLogger()
    existing = json_handler()
    if settings.log_format != "json":
        if isinstance(existing, _JsonHandler):
            root.removeHandler(existing)
            root.setLevel(existing.previous_level)
            logging.captureWarnings(False)
        return
    if existing is None:
        root.addHandler(_JsonHandler(root.level))
        logging.captureWarnings(True)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    for name in WARNINGS_ONLY:
        logging.getLogger(name).setLevel(logging.WARNING)


def use_json(logger: logging.Logger, replace: type[logging.Formatter]) -> None:
    """Give LOGGER's handlers that format with REPLACE (a library's) the JSON formatter."""
    for handler in logger.handlers:
        if isinstance(handler.formatter, replace):
            handler.setFormatter(JsonFormatter())
