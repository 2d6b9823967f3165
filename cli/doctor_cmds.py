"""`nurture doctor`: check the deployment and say what will go wrong before it does.

One line per check: ok, warning or error, the check's name, what it found and how to fix it
(tasks.health). Exits 1 when any check is an error, so a deploy script can stop on it.
"""

from __future__ import annotations

import json

import click

from cli.common import runtime_or_exit
from config import ConfigError, load_settings
from tasks.health import Check, run_checks, store_remote_checks, worst

COLOURS = {"ok": "green", "warning": "yellow", "error": "red"}


def format_check(check: Check) -> str:
    """Return CHECK as one line: status, name, finding and, unless ok, the fix."""
    status = click.style(f"{check.status:<7}", fg=COLOURS[check.status], bold=True)
    line = f"{status} {check.name}: {check.message}"
    if check.fix and check.status != "ok":
        line += f" (fix: {check.fix})"
    return line


def summary(checks: list[Check]) -> str:
    """Count the checks per status: "1 error, 2 warnings, 13 ok"."""
    errors = sum(check.status == "error" for check in checks)
    warnings = sum(check.status == "warning" for check in checks)
    ok = len(checks) - errors - warnings
    return (
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}, {ok} ok"
    )


@click.command()
@click.option(
    "--offline",
    is_flag=True,
    help="Skip the checks that wait on the network: worker ping, SendGrid, DNS.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as a JSON list.")
@click.option(
    "--ping-timeout",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.1, 30),
    help="Seconds to wait for the workers' answers.",
)
def doctor(offline: bool, as_json: bool, ping_timeout: float) -> None:
    """Check settings, course, database, Redis, workers, beat, SendGrid and the sender's DNS.

    Prints one line per check with the fix; exits 1 when any check is an error.
    """
    try:
        load_settings()
    except ConfigError as exc:
        checks = [Check("settings", "settings", "error", str(exc), "fix the variable it names")]
    else:
        checks = _checks(offline, ping_timeout)
    if as_json:
        click.echo(json.dumps([check.as_dict() for check in checks], indent=2))
    else:
        for check in checks:
            click.echo(format_check(check))
        click.echo(summary(checks) + (" (offline: no worker ping, SendGrid or DNS)" * offline))
    if worst(checks) == "error":
        raise SystemExit(1)


def _checks(offline: bool, ping_timeout: float) -> list[Check]:
    """Run the checks on this run's runtime; keep the remote ones for the dashboard."""
    from tasks.health_remote import celery_for_checks

    runtime = runtime_or_exit()
    celery_app = celery_for_checks(runtime.settings)
    try:
        checks = run_checks(runtime, celery_app, remote=not offline, ping_timeout=ping_timeout)
    finally:
        celery_app.close()
    if not offline:
        try:
            store_remote_checks(runtime, checks)
        except Exception as exc:
            click.echo(f"nurture: results not kept for the dashboard ({exc})", err=True)
    return checks


COMMANDS = [doctor]
