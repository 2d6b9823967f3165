"""A deployment `nurture doctor` finds healthy: the settings, a course with the clinic's own
address and links, a recent webhook batch; the local DNS server and the fake SendGrid come from
the tests' fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fake_sendgrid_webhook import generate_webhook_keypair

from config import load_settings
from course.loader import CONTENT_DIR
from course.placeholders import EXAMPLE_DOMAIN, EXAMPLE_POSTAL_ADDRESS, MARKER
from runtime import Runtime
from store.clock import FrozenClock
from store.models import WebhookBatch

COURSE = "rugpijn-en-training"
CLINIC_ADDRESS = "Kerkstraat 12, 3511 AB Utrecht"
CLINIC_DOMAIN = "kliniek.test"  # right in tests/dns_support.py's zones
# Every check `nurture doctor` runs, in the order it prints them.
NAMES = [
    "secrets",
    "BASE_URL",
    "admin password",
    "webhook key",
    "mail sender",
    "course content",
    "database schema",
    "Redis",
    "beat (dispatcher)",
    "queue depth",
    "webhook events",
    "workers",
    "SendGrid API key",
    "SPF of kliniek.test",
    "DKIM of kliniek.test",
    "DMARC of kliniek.test",
]
PING = ("--ping-timeout", "0.5")


def clean_course(folder: Path, keep_markers: bool = False) -> Path:
    """Copy the shipped course under FOLDER with the clinic's own address and links.

    Return the content folder to use as NURTURE_CONTENT_DIR. KEEP_MARKERS leaves the
    VERVANG DIT comments in place (replaced content, markers forgotten).
    """
    content = folder / "content"
    shutil.copytree(CONTENT_DIR / COURSE, content / COURSE)
    toml = content / COURSE / "course.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    if not keep_markers:
        lines = [line for line in lines if MARKER not in line]
    text = "\n".join(lines) + "\n"
    text = text.replace(EXAMPLE_POSTAL_ADDRESS, CLINIC_ADDRESS)
    # The marker comments mention the example domain too; only values are replaced here.
    text = text.replace(f"https://{EXAMPLE_DOMAIN}", f"https://{CLINIC_DOMAIN}")
    toml.write_text(text, encoding="utf-8")
    return content


def healthy_values(dns_server: str, content_dir: Path) -> dict[str, str]:
    """Return the NURTURE_* values (without prefix) of a healthy, public deployment."""
    _, public_key = generate_webhook_keypair()
    return {
        "BASE_URL": "https://nurture.test",
        "SECRET_KEY": "a-long-random-secret-key-for-the-doctor-tests",
        "ADMIN_PASSWORD": "test-admin-password",
        "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key,
        "FROM_EMAIL": f"cursus@{CLINIC_DOMAIN}",
        "DNS_SERVER": dns_server,
        "CONTENT_DIR": str(content_dir),
    }


def add_webhook_batch(runtime: Runtime, received_at: datetime) -> None:
    """Store an already processed webhook batch received at RECEIVED_AT."""
    with runtime.session() as session:
        session.add(WebhookBatch(body=[], received_at=received_at, processed_at=received_at))


def live_runtime(make_runtime: Callable[..., Runtime], **clock: Any) -> Runtime:
    """A runtime on the environment's settings (and the system clock unless CLOCK says)."""
    runtime = make_runtime(load_settings())
    if "at" in clock:
        runtime.clock = FrozenClock(clock["at"])
    return runtime


def now() -> datetime:
    return datetime.now(UTC)
