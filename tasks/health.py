"""The deployment's self-check: what `nurture doctor` prints and /admin's status panel shows.

Each check returns a `Check`: ok, warning or error, what it found and how to fix it, in
English for the operator (the dashboard puts Dutch labels beside them). The checks are split
by cost:

- local (tasks.health_local): settings, course content, database schema, Redis, the
  dispatcher's last pass, queue depth, the last webhook event; only our own database and
  Redis are asked, so the dashboard runs them on every view;
- remote (tasks.health_remote): a Celery ping of the workers (it waits for answers), SendGrid's
  API and the sender's DNS records. The dashboard never waits for those: `nurture doctor`
  stores its remote results in Redis and the panel shows them with the time they were taken.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import dns.resolver
from celery import Celery

from runtime import Runtime

Status = Literal["ok", "warning", "error"]
STATUSES: tuple[Status, ...] = ("ok", "warning", "error")
REMOTE_RESULTS_KEY = "nurture:health:remote"
# The stored remote results are shown this long; older ones are as good as none.
KEEP_REMOTE_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Check:
    """One check's verdict. KEY is stable (the dashboard's label); NAME is what doctor prints."""

    key: str
    name: str
    status: Status
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the check as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        """Rebuild a check stored with as_dict (an unknown status counts as an error)."""
        status = data.get("status")
        return cls(
            key=str(data.get("key", "")),
            name=str(data.get("name", "")),
            status=status if status in STATUSES else "error",
            message=str(data.get("message", "")),
            fix=str(data.get("fix", "")),
        )


@dataclass(frozen=True)
class StoredChecks:
    """Remote checks as the last `nurture doctor` left them, and when it ran."""

    checked_at: datetime
    checks: list[Check]


def guarded(key: str, name: str, check: Callable[[], Check]) -> Check:
    """Run CHECK; a failure it did not foresee becomes an error line, not a crashed doctor."""
    try:
        return check()
    except Exception as exc:
        reason = (str(exc).splitlines() or [""])[0][:200]
        return Check(key, name, "error", f"check failed: {type(exc).__name__}: {reason}")


def worst(checks: Iterable[Check]) -> Status:
    """Return the most serious status among CHECKS (ok when there are none)."""
    found = {check.status for check in checks}
    return "error" if "error" in found else "warning" if "warning" in found else "ok"


def run_checks(
    runtime: Runtime,
    celery_app: Celery,
    *,
    remote: bool = True,
    resolver: dns.resolver.Resolver | None = None,
    ping_timeout: float = 1.0,
) -> list[Check]:
    """Run every check (the remote ones unless REMOTE is false), in the order doctor prints.

    RESOLVER replaces the one built from NURTURE_DNS_SERVER (tests pass their own server).
    """
    from tasks.health_local import local_checks
    from tasks.health_remote import remote_checks

    checks = local_checks(runtime)
    if remote:
        redis_up = all(check.status == "ok" for check in checks if check.key == "redis")
        checks += remote_checks(
            runtime, celery_app, resolver=resolver, ping_timeout=ping_timeout, redis_up=redis_up
        )
    return checks


def store_remote_checks(runtime: Runtime, checks: list[Check]) -> None:
    """Keep the remote checks among CHECKS in Redis, stamped now, for the dashboard."""
    from tasks.health_remote import REMOTE_KEYS

    payload = {
        "checked_at": runtime.now().isoformat(),
        "checks": [check.as_dict() for check in checks if check.key in REMOTE_KEYS],
    }
    runtime.redis.set(REMOTE_RESULTS_KEY, json.dumps(payload), ex=KEEP_REMOTE_SECONDS)


def stored_remote_checks(runtime: Runtime) -> StoredChecks | None:
    """Return the remote checks the last `nurture doctor` stored, or None."""
    raw = runtime.redis.get(REMOTE_RESULTS_KEY)
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
        return StoredChecks(
            checked_at=datetime.fromisoformat(payload["checked_at"]),
            checks=[Check.from_dict(item) for item in payload["checks"]],
        )
    except (ValueError, KeyError, TypeError):
        return None
