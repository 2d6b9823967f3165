"""Test support for the email tests: a small course folder in the shipped course's format."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fake_sendgrid import FakeSendGrid
from helpers import set_nurture_env

from config import Settings, get_settings, reset_settings_cache
from course.loader import CONTENT_DIR, Course, load_course_from
from emails.backends import reset_backend_cache
from store.clock import set_clock

SHIPPED_SLUG = "rugpijn-en-training"

COURSE_TOML = """\
title = "Rugpijn en training"
language = "nl"
sender_name = "Team Voorbeeldkliniek"
welcome = "Fijn dat je meedoet! Vijf dagen lang krijg je **elke ochtend** een korte les."

[clinic]
name = "Chiropractie Voorbeeld & Zn"
postal_address = "Dorpsstraat 1, 1234 AB Voorbeeld"
website = "https://kliniek.example"

[cta]
url = "https://kliniek.example/afspraak?bron=cursus&x=1"
label = "Maak een afspraak"
text = "Wil je dat we met je meekijken?"

[confirmation]
subject = "Bevestig je aanmelding"
preheader = "Nog één klik en de cursus begint."
intro = "Klik op de knop om je aanmelding voor de cursus te bevestigen."
button = "Ja, ik doe mee"
outro = "Tot snel!"
"""

LESSON = """\
---
day: {day}
subject: "Dag {day}: bewegen <met> plezier"
preheader: "Preheader van dag {day}"
title: "Les {day}: waarom bewegen helpt"
teaser: "{teaser}"
---
Rugpijn is **vervelend**, maar bewegen helpt. Lees [het onderzoek](https://example.org/studie?a=1&b=2).

## Drie tips

- Wandel elke dag
- Til met gebogen knieën
- Neem pauzes, zie [de oefeningen](https://example.org/oefeningen)

1. Eerst opwarmen
2. Dan rustig opbouwen

Nog een keer [het onderzoek](https://example.org/studie?a=1&b=2)
en [mail ons](mailto:info@kliniek.example).
"""


def write_sample_course(root: Path, slug: str = "voorbeeld-cursus", days: int = 5) -> Path:
    """Write a course folder under ROOT and return its path."""
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.toml").write_text(COURSE_TOML, encoding="utf-8")
    for day in range(1, days + 1):
        teaser = "" if day == days else f"Les {day + 1} gaat over houding."
        text = LESSON.format(day=day, teaser=teaser)
        (folder / f"{day:02d}-les.md").write_text(text, encoding="utf-8")
    return folder


def sample_course(root: Path) -> Course:
    """Return a freshly loaded sample course."""
    return load_course_from(write_sample_course(root))


def shipped_course() -> Course | None:
    """Return the shipped course, or None while the course engineer has not written it yet."""
    folder = CONTENT_DIR / SHIPPED_SLUG
    if not (folder / "course.toml").exists():
        return None
    return load_course_from(folder)


def configure_email_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> Settings:
    """Set NURTURE_* for mail tests (no database needed) and return fresh settings."""
    env = {
        "ENV": "test",
        "BASE_URL": "http://nurture.test",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_BACKEND": "outbox",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "REDIS_URL": "redis://127.0.0.1:6379/2",
        **{key.upper(): value for key, value in values.items()},
    }
    set_nurture_env(monkeypatch, tmp_path, env)
    reset_backend_cache()
    return get_settings()


@contextmanager
def email_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> Iterator[Settings]:
    """Use mail-test settings (see configure_email_env), then forget the cached ones."""
    try:
        yield configure_email_env(monkeypatch, tmp_path, **values)
    finally:
        reset_settings_cache()
        reset_backend_cache()


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Settings]:
    """Give the test mail settings on the outbox backend, without a database."""
    with email_env(monkeypatch, tmp_path) as settings:
        yield settings


SENDGRID_TEST_KEY = "test-sendgrid-key"


def sendgrid_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str
) -> AbstractContextManager[Settings]:
    """Use mail-test settings that send through the SendGrid API at HOST."""
    return email_env(
        monkeypatch,
        tmp_path,
        mail_backend="sendgrid",
        sendgrid_api_key=SENDGRID_TEST_KEY,
        sendgrid_host=host,
    )


@pytest.fixture
def sendgrid_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_sendgrid: FakeSendGrid
) -> Iterator[FakeSendGrid]:
    with sendgrid_settings(monkeypatch, tmp_path, fake_sendgrid.url):
        yield fake_sendgrid
        set_clock(None)
