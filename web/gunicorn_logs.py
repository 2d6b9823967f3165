"""Gunicorn's own log lines in JSON, for NURTURE_LOG_FORMAT=json.

    gunicorn --logger-class web.gunicorn_logs.JsonLogger 'web:create_app()'

Gunicorn formats its lines ("Booting worker", "Worker timeout", a request's traceback) with
handlers of its own that bypass the root logger; this class gives them the JSON formatter
(config.logs). It writes no access log: an access line holds the client's IP, and the
reverse proxy in front keeps those.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from config.logs import use_json


class JsonLogger(Logger):
    """Gunicorn's logger, writing JSON lines and no access log."""

    def setup(self, cfg: Any) -> None:
        """Set up gunicorn's handlers as usual, then make them write JSON."""
        super().setup(cfg)
        use_json(self.error_log, logging.Formatter)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Log no request: its line would carry the client's IP address."""
