"""When the dispatcher last ran: each pass stamps Redis, `nurture doctor` and /admin read it.

Beat enqueues the dispatcher and a worker runs it, so a recent stamp shows both alive; an old
one shows that lessons are not being turned into sends. The stamp is the runtime clock's time
in Unix seconds, kept for a week (a Redis emptied since then simply has none).
"""

from __future__ import annotations

from datetime import UTC, datetime

from runtime import Runtime

LAST_DISPATCH_KEY = "nurture:dispatcher:last_pass"
KEEP_SECONDS = 7 * 86400


def record_dispatch_pass(runtime: Runtime) -> None:
    """Stamp the current time as the dispatcher's last pass."""
    runtime.redis.set(LAST_DISPATCH_KEY, f"{runtime.now().timestamp():.3f}", ex=KEEP_SECONDS)


def last_dispatch_pass(runtime: Runtime) -> datetime | None:
    """Return when the dispatcher last finished a pass, or None when no stamp is kept."""
    value = runtime.redis.get(LAST_DISPATCH_KEY)
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        return None
