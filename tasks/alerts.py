"""The watch task: beat starts it every minute, apart from the dispatcher, to alert the clinic.

It works out the alert conditions (tasks.alert_conditions), raises an alert email for each
new one (at most once a day per condition, delivery.alerts) and sends the alerts that are
due. It runs as its own beat entry, so a dispatcher pass that fails or hangs every time is
noticed (no heartbeat for 5 minutes). When beat or every worker is down, nothing of ours can
send mail: the dashboard's banner says so on the next view (it reads the same conditions),
and the Prometheus rule in the README catches it without anyone looking.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import shared_task

from delivery import breaker
from delivery.alerts import AlertText, raise_alert, send_due_alerts
from runtime import Runtime
from tasks.alert_conditions import Condition, current_conditions
from tasks.app import worker_context

log = logging.getLogger(__name__)


@dataclass
class WatchReport:
    """What one watch pass found and did."""

    conditions: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data (the task's result, the logs)."""
        return asdict(self)


def alert_text(runtime: Runtime, condition: Condition) -> AlertText:
    """Return the Dutch alert email about CONDITION."""
    settings = runtime.settings
    body = (
        f"Hallo,\n\n{condition.detail}\n\n"
        f"Het overzicht staat op {settings.base_url}/admin.\n\n"
        f"Dit bericht komt van Nurture, de e-mailcursus van {settings.from_name}. Over dit "
        "probleem krijg je hooguit één e-mail per dag."
    )
    return AlertText(subject=f"Let op: {condition.title}", body=body)


def watch_once(runtime: Runtime) -> WatchReport:
    """Raise an alert for each condition that holds, then send the alerts that are due."""
    report = WatchReport()
    conditions = current_conditions(runtime)
    report.conditions = [condition.key for condition in conditions]
    if runtime.settings.alert_email:
        for condition in conditions:
            if not condition.mail:
                continue
            if raise_alert(runtime, condition.key, alert_text(runtime, condition)):
                report.raised.append(condition.key)
            if condition.key == "sendgrid_outage":
                # Raised (or already raised today): the outage is reported.
                breaker.forget_outage(runtime)
    report.sent = send_due_alerts(runtime)
    if report.raised or report.sent:
        log.info("alerts: %s", report.as_dict())
    return report


@shared_task(bind=True, name="tasks.alerts.watch", ignore_result=True)
def watch(self: Any) -> dict[str, Any]:
    """Run one watch pass."""
    return watch_once(worker_context(self.app).runtime).as_dict()
