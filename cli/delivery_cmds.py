"""`nurture dispatch --once` and `nurture deliveries list|retry`: the lesson pipeline by hand."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from cli.common import fail, refuse_unsafe_to_serve, require_services, runtime_or_exit
from store.models import Delivery, DeliveryState, Subscriber


@click.command()
@click.option("--once", is_flag=True, required=True, help="Run one pass and exit (required).")
def dispatch(once: bool) -> None:
    """Run one dispatcher pass: settle stale claims, queue due lessons, enqueue their sends."""
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    from tasks.app import create_celery
    from tasks.dispatch import dispatch_once

    create_celery(runtime.settings)  # the app the sends are published with
    report = dispatch_once(runtime)
    click.echo(
        f"Dispatched: {report.materialised} lessons due, {report.enqueued} sends enqueued, "
        f"{report.sent_by_evidence} stale claims settled as sent, "
        f"{report.requeued_stale} queued again ({report.seconds:.2f} s)."
    )


@click.group()
def deliveries() -> None:
    """Inspect lesson deliveries and re-queue failed ones."""


@deliveries.command("list")
@click.option(
    "--state",
    type=click.Choice(
        [
            DeliveryState.QUEUED,
            DeliveryState.SENDING,
            DeliveryState.SENT,
            DeliveryState.FAILED,
            DeliveryState.SKIPPED,
        ]
    ),
    help="Only deliveries in this state.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def list_deliveries(state: str | None, limit: int) -> None:
    """Show counts per state, then the newest deliveries (with their last error)."""
    runtime = runtime_or_exit()
    require_services(runtime)
    with runtime.session() as session:
        counts = dict(
            session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        )
        query = (
            select(Delivery, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
        if state:
            query = query.where(Delivery.state == state)
        rows = session.execute(query).all()
    summary = ", ".join(f"{name} {counts[name]}" for name in sorted(counts)) or "none yet"
    click.echo(f"Deliveries: {summary}")
    for delivery, email in rows:
        line = (
            f"#{delivery.id} {email or '(forgotten)'} {delivery.course_slug} day {delivery.day}: "
            f"{delivery.state}, {delivery.attempts} attempts"
        )
        if delivery.last_error:
            line += f" — {delivery.last_error}"
        click.echo(line)


@deliveries.command("retry")
@click.option("--id", "delivery_id", type=int, help="Re-queue this failed delivery.")
@click.option("--all-failed", is_flag=True, help="Re-queue every failed delivery.")
def retry(delivery_id: int | None, all_failed: bool) -> None:
    """Re-queue failed deliveries: attempts reset, sent at the next dispatcher pass."""
    if (delivery_id is None) == (not all_failed):
        fail("give either --id N or --all-failed")
    runtime = runtime_or_exit()
    require_services(runtime)
    from delivery.transitions import requeue_failed

    with runtime.session() as session:
        if delivery_id is not None:
            state = session.scalar(select(Delivery.state).where(Delivery.id == delivery_id))
            if state is None:
                fail(f"no delivery #{delivery_id} (see `nurture deliveries list`)")
            if state != DeliveryState.FAILED:
                fail(
                    f"delivery #{delivery_id} is {state}, not failed; only failed ones are retried"
                )
        count = requeue_failed(session, runtime.now(), delivery_id)
    click.echo(f"Re-queued {count} failed deliveries; the dispatcher sends them on its next pass.")


COMMANDS = [dispatch, deliveries]
