"""The clinic's alert emails through the database: raise once a day, claim, send, retry.

raise_alert writes the row (a no-op when that condition already has one today); the watch
task (tasks.alerts) then sends what is due. The path is the lessons' in small: a guarded
claim queued -> sending, the provider's answer settles it, a passing failure puts it back
with backoff (so a SendGrid outage delays an alert, never loses it), and a claim left
'sending' by a killed worker is put back after claim_timeout. Unlike a lesson, an alert whose
send timed out is sent again without waiting for evidence: twice beats never, for the clinic.
Alert outcomes count for the circuit breaker like any other request, and alerts wait while
it holds; when it is due to probe, an alert may be the probe (so with no lessons queued, an
alert still finds out that the provider is back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from delivery import breaker
from delivery.breaker import provider_down, record_outcome
from delivery.retry import attempts_exhausted, retry_not_before, retry_window_over
from emails.message import Message, Tags
from providers.base import PermanentSendError, SendError
from runtime import Runtime
from store.models import Alert, AlertState

log = logging.getLogger(__name__)

alerts: Table = Alert.__table__  # type: ignore[assignment]
# Alerts one watch pass sends at most; there are a handful a day.
SEND_LIMIT = 20


@dataclass(frozen=True)
class AlertText:
    """What one alert says: a subject line and a short plain-text body (Dutch)."""

    subject: str
    body: str


def raise_alert(runtime: Runtime, condition: str, text: AlertText) -> bool:
    """Queue TEXT about CONDITION unless it was raised today already; True if queued now."""
    now = runtime.now()
    day = now.astimezone(runtime.settings.zone).date().isoformat()
    values = {
        "condition": condition,
        "day": day,
        "subject": text.subject[:200],
        "body": text.body,
        "raised_at": now,
        "state": AlertState.QUEUED,
        "attempts": 0,
        "not_before": now,
    }
    make = postgres_insert if runtime.engine.dialect.name == "postgresql" else sqlite_insert
    statement = make(alerts).values(**values).on_conflict_do_nothing()
    with runtime.transaction() as connection:
        inserted = bool(connection.execute(statement).rowcount)
    if inserted:
        log.warning("alert raised: %s", condition)
    return inserted


def _claim(runtime: Runtime, alert_id: int, now: datetime) -> Alert | None:
    statement = (
        update(alerts)
        .where(
            alerts.c.id == alert_id,
            alerts.c.state == AlertState.QUEUED,
            alerts.c.not_before <= now,
        )
        .values(state=AlertState.SENDING, claimed_at=now, attempts=alerts.c.attempts + 1)
        .returning(alerts.c.subject, alerts.c.body, alerts.c.attempts, alerts.c.raised_at)
    )
    with runtime.transaction() as connection:
        row = connection.execute(statement).first()
    if row is None:
        return None
    return Alert(id=alert_id, subject=row[0], body=row[1], attempts=row[2], raised_at=row[3])


def _settle(runtime: Runtime, alert_id: int, claimed: datetime, **values: object) -> None:
    statement = (
        update(alerts)
        .where(
            alerts.c.id == alert_id,
            alerts.c.state == AlertState.SENDING,
            alerts.c.claimed_at == claimed,
        )
        .values(**values)
    )
    with runtime.transaction() as connection:
        connection.execute(statement)


def alert_message(runtime: Runtime, subject: str, body: str) -> Message:
    """Build the plain alert email to NURTURE_ALERT_EMAIL."""
    settings = runtime.settings
    paragraphs = "".join(f"<p>{escape(part)}</p>" for part in body.split("\n\n") if part.strip())
    return Message(
        to_email=settings.alert_email,
        subject=subject,
        html=f'<!DOCTYPE html><html lang="nl"><body>{paragraphs}</body></html>',
        text=body,
        from_email=settings.from_email,
        from_name=settings.from_name,
        tags=Tags(kind="alert", course=settings.course),
        categories=("nurture", "alert"),
    )


def _send_one(runtime: Runtime, alert: Alert, claimed_at: datetime) -> str:
    settings = runtime.settings
    try:
        result = runtime.mail.send(alert_message(runtime, alert.subject, alert.body))
    except SendError as exc:
        record_outcome(runtime, reached=not provider_down([exc]))
        error = f"{exc.status}: {exc}" if exc.status else str(exc)
        now = runtime.now()
        given_up = attempts_exhausted(alert.attempts, settings) and retry_window_over(
            alert.raised_at, now, settings
        )
        if isinstance(exc, PermanentSendError) or given_up:
            log.error("alert %s could not be sent: %s", alert.id, error)
            _settle(runtime, alert.id, claimed_at, state=AlertState.FAILED, last_error=error)
            return "failed"
        not_before = retry_not_before(now, alert.attempts, settings)
        _settle(
            runtime,
            alert.id,
            claimed_at,
            state=AlertState.QUEUED,
            not_before=not_before,
            claimed_at=None,
            last_error=error,
        )
        return "retry"
    record_outcome(runtime, reached=True)
    _settle(
        runtime,
        alert.id,
        claimed_at,
        state=AlertState.SENT,
        sent_at=runtime.now(),
        provider_message_id=result.message_id,
        last_error=None,
    )
    return "sent"


def send_due_alerts(runtime: Runtime) -> dict[str, int]:
    """Send the queued alerts that are due; return how many ended how."""
    settings = runtime.settings
    now = runtime.now()
    stale = now - timedelta(seconds=settings.claim_timeout_seconds)
    with runtime.transaction() as connection:
        # A worker killed mid-send left it 'sending': send it again (see the docstring).
        connection.execute(
            update(alerts)
            .where(alerts.c.state == AlertState.SENDING, alerts.c.claimed_at < stale)
            .values(state=AlertState.QUEUED, claimed_at=None)
        )
        due = list(
            connection.scalars(
                select(alerts.c.id)
                .where(alerts.c.state == AlertState.QUEUED, alerts.c.not_before <= now)
                .order_by(alerts.c.not_before)
                .limit(SEND_LIMIT)
            )
        )
    outcomes: dict[str, int] = {}
    # While the breaker holds, alerts wait with the rest; when it probes, an alert may be it.
    if not due or not settings.alert_email or breaker.gate(runtime) == breaker.HOLD:
        return outcomes
    for alert_id in due:
        alert = _claim(runtime, alert_id, now)
        if alert is None:
            continue
        outcome = _send_one(runtime, alert, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
