"""`nurture stats`: the dashboard's funnel as a table in the terminal."""

from __future__ import annotations

import click

from cli.common import fail, require_database, runtime_or_exit


@click.command()
@click.option(
    "--course", "course_slug", default=None, help="Course slug [default: NURTURE_COURSE]."
)
def stats(course_slug: str | None) -> None:
    """Print the funnel: signups, confirmed, per lesson sent to clicks, completed."""
    runtime = runtime_or_exit()
    from rich.console import Console
    from rich.table import Table

    from tracking.hits import drain_hits
    from tracking.ingest import ingest_pending
    from tracking.rollups import fold_rollups
    from tracking.stats import funnel, known_courses

    require_database(runtime)
    try:
        # Numbers include webhook batches and opens not yet applied by a worker.
        ingest_pending(runtime, limit=1000)
        drain_hits(runtime)
        fold_rollups(runtime)
    except Exception as exc:
        click.echo(f"nurture: pending tracking data not applied ({exc})", err=True)
    with runtime.session() as session:
        known = known_courses(session, runtime.courses)
        # Default: the signup course, which known_courses lists first (or the first course).
        slug = course_slug or (known[0] if known else "")
        if slug not in known:
            fail(f"unknown course {slug!r} (known: {', '.join(known) or 'none'})")
        numbers = funnel(session, runtime.courses, slug)
    console = Console()
    console.print(
        f"[bold]{slug}[/]: {numbers.signups} aanmeldingen, {numbers.confirmed} bevestigd, "
        f"{numbers.completed} alle lessen ontvangen"
    )
    table = Table(title="Per les")
    for heading in (
        "Les",
        "Verzonden",
        "Afgeleverd",
        "Geopend (mens)",
        "Geopend (machine)",
        "Geklikt",
        "Afmeldingen",
        "Bounces",
        "Klachten",
    ):
        table.add_column(heading, justify="left" if heading == "Les" else "right")
    for lesson in numbers.lessons:
        table.add_row(
            f"Dag {lesson.day}",
            *(
                str(value)
                for value in (
                    lesson.sent,
                    lesson.delivered,
                    lesson.human_opened,
                    lesson.machine_opened,
                    lesson.clicked,
                    lesson.unsubscribes,
                    lesson.bounces,
                    lesson.complaints,
                )
            ),
        )
    console.print(table)
    rate = f"{numbers.complaint_rate * 100:.2f}%"
    if numbers.complaint_warning:
        console.print(f"[bold red]Let op: klachtpercentage {rate} (Gmail blokkeert vanaf 0,3%)[/]")
    else:
        console.print(f"Klachtpercentage: {rate}")


COMMANDS = [stats]
