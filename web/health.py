"""GET /healthz: checks the database and Redis and says which one is down."""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from store.db import check_database
from web.context import runtime

bp = Blueprint("health", __name__)


def check_redis(client: redis.Redis) -> str | None:
    """Return None when Redis answers PING, else a one-line reason."""
    try:
        client.ping()
    except Exception as exc:
        return f"redis unreachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report whether the database and Redis answer; 503 names the one that is down."""
    nurture = runtime()
    problems = {
        "database": check_database(nurture.engine),
        "redis": check_redis(nurture.redis),
    }
    status = {name: ("ok" if problem is None else problem) for name, problem in problems.items()}
    healthy = all(problem is None for problem in problems.values())
    return jsonify(status="ok" if healthy else "down", checks=status), 200 if healthy else 503


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    """Answer a constant, touching nothing: the baseline the pixel benchmark compares against."""
    return "pong", 200, {"Content-Type": "text/plain; charset=utf-8"}
