"""GET /healthz: checks the database and Redis; says which is down, with why only to the admin.

Anyone may ask whether the service is up (load balancers, uptime monitors), but error text
names hosts, ports and drivers, so the reasons are shown only to a request that carries the
admin password (HTTP Basic, checked and counted exactly as /admin does).
"""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify, make_response, request
from flask.typing import ResponseReturnValue

from store.db import check_database
from web.auth import require_admin
from web.context import runtime

bp = Blueprint("health", __name__)


def check_redis(client: redis.Redis) -> str | None:
    """Return None when Redis answers PING, else a one-line reason."""
    try:
        client.ping()
    except Exception as exc:
        return f"redis unreachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def _refused_admin() -> Response | None:
    """Return the admin login's refusal when this request has no valid admin password."""
    # The admin check and its lockout: a password guessed at /healthz counts against the
    # same limit as one at /admin.
    refusal = require_admin()
    return None if refusal is None else make_response(refusal)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report whether the database and Redis answer; 503 when one is down (why: admin only)."""
    if request.authorization is not None:
        refusal = _refused_admin()
        if refusal is not None:
            return refusal
        detailed = True
    else:
        detailed = False
    nurture = runtime()
    problems = {
        "database": check_database(nurture.engine),
        "redis": check_redis(nurture.redis),
    }
    healthy = all(problem is None for problem in problems.values())
    checks = {
        name: "ok" if problem is None else (problem if detailed else "not ok")
        for name, problem in problems.items()
    }
    response = jsonify(status="ok" if healthy else "down", checks=checks)
    response.status_code = 200 if healthy else 503
    # A monitor must see the service as it is now, never a cached answer.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    """Answer a constant, touching nothing: the baseline the pixel benchmark compares against."""
    return "pong", 200, {"Content-Type": "text/plain; charset=utf-8"}
