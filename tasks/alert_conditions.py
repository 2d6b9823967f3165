"""What the clinic must hear about: the alert conditions, worked out from our own data.

One list serves both the alert emails (tasks.alerts) and the dashboard's banners, so they can
never disagree. Each condition is a few indexed reads of our database or Redis, cheap enough
for every dashboard view:
- complaints over the last 7 days above 0.1% of the mail sent then (tracking.stats' warning
  rate), bounces above 2%;
- no webhook event for 24 hours while mail went out (tasks.health_local's rule);
- no dispatcher pass for 5 minutes (tasks.heartbeat's stamp);
- deliveries failed for good within the last day;
- confirmations held back by the hourly cap (subscribers.caps);
- SendGrid down now (the circuit breaker is open: a banner only, since an email about it
  could not go out through it), and SendGrid back after an outage (an email only).
The texts are Dutch: they are for the clinic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from delivery import breaker
from runtime import Runtime
from store.models import Delivery, DeliveryState, EmailEvent, WebhookBatch
from subscribers.caps import waiting_confirmations
from tasks.health_local import WEBHOOK_SILENCE
from tasks.heartbeat import last_dispatch_pass
from tracking.stats import BOUNCE_KINDS, COMPLAINT_WARNING_RATE

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(days=7)
BOUNCE_ALERT_RATE = 0.02
DISPATCHER_SILENCE = timedelta(minutes=5)
FAILED_WINDOW = timedelta(days=1)
# Set once, the first time anyone looked and found no dispatcher pass at all: a service
# that just started is not "stopped" until five minutes after that.
FIRST_LOOK_KEY = "nurture:alerts:first_look"


@dataclass(frozen=True)
class Condition:
    """One thing going wrong: KEY is stable; TITLE and DETAIL are Dutch for the clinic."""

    key: str
    title: str
    detail: str
    mail: bool = True  # raise an alert email (False: the dashboard banner only)
    banner: bool = True


def percent(rate: float) -> str:
    """Return RATE as a Dutch percentage: 0.0125 -> "1,25%"."""
    return f"{rate * 100:.2f}%".replace(".", ",")


def _limit(rate: float) -> str:
    """Return a threshold as a short Dutch percentage: 0.001 -> "0,1%"."""
    return f"{rate * 100:g}%".replace(".", ",")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _sent_since(session: Session, since: datetime) -> int:
    return int(session.scalar(select(func.count()).where(Delivery.sent_at >= since)) or 0)


def _reporters(session: Session, kinds: tuple[str, ...], since: datetime) -> int:
    # One subscriber complaining (or bouncing) twice in the week counts once.
    query = select(func.count(distinct(EmailEvent.subscriber_id))).where(
        EmailEvent.kind.in_(kinds), EmailEvent.occurred_at >= since
    )
    return int(session.scalar(query) or 0)


def rate_conditions(session: Session, now: datetime) -> list[Condition]:
    """Complaints and bounces over the last 7 days, against the mail sent in them."""
    since = now - RATE_WINDOW
    sent = _sent_since(session, since)
    if not sent:
        return []
    found = []
    complaints = _reporters(session, ("spamreport",), since)
    if complaints and complaints / sent > COMPLAINT_WARNING_RATE:
        found.append(
            Condition(
                "complaints",
                f"Spamklachten boven {_limit(COMPLAINT_WARNING_RATE)}",
                f"{_plural(complaints, 'spamklacht', 'spamklachten')} op "
                f"{_plural(sent, 'verzonden e-mail', 'verzonden e-mails')} in de laatste 7 dagen "
                f"({percent(complaints / sent)}). Boven 0,1% loopt de bezorging gevaar; Gmail "
                "blokkeert vanaf 0,3%. Kijk per les waar de klachten vandaan komen.",
            )
        )
    bounces = _reporters(session, BOUNCE_KINDS, since)
    if bounces and bounces / sent > BOUNCE_ALERT_RATE:
        found.append(
            Condition(
                "bounces",
                f"Bounces boven {_limit(BOUNCE_ALERT_RATE)}",
                f"{_plural(bounces, 'adres', 'adressen')} kwam{'en' if bounces != 1 else ''} "
                f"terug op {_plural(sent, 'verzonden e-mail', 'verzonden e-mails')} in de "
                f"laatste 7 dagen ({percent(bounces / sent)}). Zoveel bounces schaadt de naam "
                "van de afzender: kijk waar de aanmeldingen vandaan komen.",
            )
        )
    return found


def webhook_condition(runtime: Runtime, session: Session, now: datetime) -> Condition | None:
    """No SendGrid event for 24 hours, while mail went out in them."""
    if runtime.settings.mail_backend != "sendgrid":
        return None
    since = now - WEBHOOK_SILENCE
    if not _sent_since(session, since):
        return None
    newest = session.scalar(
        select(WebhookBatch.received_at).order_by(WebhookBatch.id.desc()).limit(1)
    )
    # Never any event: silent since the first mail went out.
    silent_since = newest or session.scalar(select(func.min(Delivery.sent_at)))
    if silent_since is None or silent_since > since:
        return None
    return Condition(
        "webhook_silent",
        "Geen meldingen van SendGrid",
        "Er is al meer dan 24 uur geen melding (afgeleverd, geopend, bounce) van SendGrid "
        "binnengekomen, terwijl er wel e-mail verstuurd is. Zonder die meldingen ziet Nurture "
        "geen bounces en klachten. Controleer de Event Webhook in SendGrid (README, stap 2).",
    )


def dispatcher_condition(runtime: Runtime, now: datetime) -> Condition | None:
    """No dispatcher pass for 5 minutes: lessons are not being sent."""
    last = last_dispatch_pass(runtime)
    if last is None:
        runtime.redis.set(FIRST_LOOK_KEY, f"{now.timestamp():.3f}", nx=True)
        first = runtime.redis.get(FIRST_LOOK_KEY)
        last = datetime.fromtimestamp(float(first), UTC) if first else now
    if now - last <= DISPATCHER_SILENCE:
        return None
    minutes = int((now - last).total_seconds() // 60)
    return Condition(
        "dispatcher_stopped",
        "De verzendplanner draait niet",
        f"De verzendplanner heeft al {minutes} minuten niet gelopen; er gaan geen lessen uit. "
        "Controleer of `nurture beat` en minstens één `nurture worker` draaien.",
    )


def failed_condition(session: Session, now: datetime) -> Condition | None:
    """Deliveries that failed for good within the last day."""
    failed = session.scalar(
        select(func.count()).where(
            Delivery.state == DeliveryState.FAILED, Delivery.claimed_at >= now - FAILED_WINDOW
        )
    )
    if not failed:
        return None
    return Condition(
        "delivery_failed",
        "E-mails definitief mislukt",
        f"{_plural(int(failed), 'e-mail is', 'e-mails zijn')} de afgelopen 24 uur definitief "
        "mislukt. Bekijk ze met `nurture deliveries list --state failed` en stuur ze opnieuw "
        "met `nurture deliveries retry` zodra de oorzaak is verholpen.",
    )


def cap_condition(session: Session, now: datetime) -> Condition | None:
    """Confirmation emails waiting for the hourly cap."""
    waiting = waiting_confirmations(session, now)
    if not waiting:
        return None
    return Condition(
        "confirmations_held",
        "Bevestigingsmails wachten",
        f"{waiting} bevestigingsmail{'s' if waiting != 1 else ''} "
        f"wacht{'en' if waiting != 1 else ''}: er kwamen meer aanmeldingen binnen dan het "
        "maximum per uur (NURTURE_CONFIRMATIONS_PER_HOUR). De aanmeldingen zijn bewaard; de "
        "mails gaan automatisch in het volgende uur met ruimte de deur uit.",
    )


def provider_conditions(runtime: Runtime) -> list[Condition]:
    """SendGrid down now (banner), or back after an outage not yet reported (email)."""
    zone = runtime.settings.zone
    found = []
    since = breaker.open_since(runtime)
    if since is not None:
        found.append(
            Condition(
                "sendgrid_down",
                "SendGrid is onbereikbaar",
                f"SendGrid weigert of beantwoordt sinds {since.astimezone(zone):%d-%m %H:%M} "
                "geen verzoeken. Nurture houdt de e-mails vast en probeert het regelmatig "
                "opnieuw; er gaat niets verloren.",
                mail=False,
            )
        )
    outage = breaker.last_outage(runtime)
    if outage is not None:
        found.append(
            Condition(
                "sendgrid_outage",
                "SendGrid was onbereikbaar",
                f"SendGrid was onbereikbaar van {outage.opened_at.astimezone(zone):%d-%m %H:%M} "
                f"tot {outage.closed_at.astimezone(zone):%d-%m %H:%M}. Het werkt weer: de "
                "vastgehouden e-mails gaan nu alsnog uit, elk één keer.",
                banner=False,
            )
        )
    return found


def _guarded(name: str, work: Callable[[], list[Condition]]) -> list[Condition]:
    try:
        return work()
    except Exception:
        # One source down (Redis, say) must not hide what the others found.
        log.warning("alert condition %s could not be checked", name, exc_info=True)
        return []


def current_conditions(runtime: Runtime) -> list[Condition]:
    """Return every alert condition that holds now."""
    now = runtime.now()

    def from_database() -> list[Condition]:
        with runtime.session() as session:
            found = rate_conditions(session, now)
            for condition in (
                webhook_condition(runtime, session, now),
                failed_condition(session, now),
                cap_condition(session, now),
            ):
                if condition is not None:
                    found.append(condition)
            return found

    def dispatcher() -> list[Condition]:
        condition = dispatcher_condition(runtime, now)
        return [condition] if condition else []

    return [
        *_guarded("database", from_database),
        *_guarded("dispatcher", dispatcher),
        *_guarded("sendgrid", lambda: provider_conditions(runtime)),
    ]
