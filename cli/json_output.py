"""What `nurture worker`, `beat` and `run` print with NURTURE_LOG_FORMAT=json: JSON lines only.

Celery's start-up banner is plain text (`--quiet` drops it); gunicorn's own lines get
web.gunicorn_logs.JsonLogger. Honcho prefixes each child's line with the time and the
process name, and says "web.1 started" in plain text: in JSON mode the children already
write JSON (config.logs), so JsonPrinter passes their lines on with the process name added,
and turns anything else (honcho's own messages, a line a child printed before its logging
was set up) into a JSON log line.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

import click
from honcho.printer import Printer

from config import Settings
from config.logs import JsonFormatter

SYSTEM = "system"


class JsonPrinter(Printer):
    """A honcho printer that writes one JSON object per line, unprefixed."""

    def __init__(self, output: TextIO = sys.stdout) -> None:
        """Print to OUTPUT (standard output by default)."""
        super().__init__(output, colour=False, prefix=False)
        self.formatter = JsonFormatter()

    def write(self, message: Any) -> None:
        """Print each line of MESSAGE as a JSON object naming its process."""
        data = message.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        name = message.name or SYSTEM
        for line in text.splitlines():
            if line.strip():
                print(self.as_json(name, line, message.time.timestamp()), file=self.output)
        self.output.flush()

    def as_json(self, name: str, line: str, created: float) -> str:
        """Return LINE of process NAME as a JSON object, whether or not it is one already."""
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            entry.setdefault("process", name)
            return json.dumps(entry, ensure_ascii=False)
        level = "INFO" if name == SYSTEM else "WARNING"
        record = logging.makeLogRecord(
            {
                "name": "honcho" if name == SYSTEM else name,
                "levelname": level,
                "levelno": logging.getLevelName(level),
                "msg": line,
                "created": created,
            }
        )
        entry = json.loads(self.formatter.format(record))
        entry["process"] = name
        return json.dumps(entry, ensure_ascii=False)


def celery_options(settings: Settings) -> list[str]:
    """Return Celery's leading options for SETTINGS: no banner in JSON mode."""
    return ["--quiet"] if settings.log_format == "json" else []


def gunicorn_options(settings: Settings) -> str:
    """Return gunicorn's options for SETTINGS: its own lines as JSON in JSON mode."""
    return "--logger-class web.gunicorn_logs.JsonLogger " if settings.log_format == "json" else ""


def printer(settings: Settings) -> Printer | None:
    """Return the honcho printer for SETTINGS (None: honcho's own)."""
    return JsonPrinter() if settings.log_format == "json" else None


def announce(settings: Settings, line: str) -> None:
    """Print a start-up line of `nurture run`: as is, or as a JSON log line."""
    if settings.log_format == "json":
        logging.getLogger("cli.run").info(line)
    else:
        click.echo(line)
