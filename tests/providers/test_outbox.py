"""The outbox backend's .eml and .html files, and `nurture send-test` writing to the outbox."""

from __future__ import annotations

import email
import threading
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from emails_support import (
    backend_for,
    mail_settings,
    renderer_for,
    sample_course,
    shipped_course,
    write_sample_course,
)
from helpers import run_cli

from config import Settings
from course.loader import Course
from emails.render import Recipient, Renderer
from providers import MailBackend
from providers.outbox import OutboxBackend


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    return mail_settings(monkeypatch, tmp_path, unsubscribe_mailto="stop@kliniek.example")


@pytest.fixture
def renderer(mail_env: Settings) -> Renderer:
    return renderer_for(mail_env)


@pytest.fixture
def backend(mail_env: Settings) -> MailBackend:
    return backend_for(mail_env)


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return sample_course(tmp_path / "courses")


def read_eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(parsed: EmailMessage, subtype: str) -> str:
    part = parsed.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


def test_lesson_becomes_a_multipart_eml_and_an_html_file(
    mail_env: Settings, renderer: Renderer, backend: MailBackend, course: Course
) -> None:
    message = renderer.lesson(course, 2, Recipient(7, "anna@example.nl", "Zoë", delivery_id=55))
    assert isinstance(backend, OutboxBackend)
    result = backend.send(message)
    [eml] = sorted(mail_env.outbox_dir.glob("*.eml"))
    assert result.message_id == f"outbox-{eml.stem}"
    assert eml.with_suffix(".html").read_text(encoding="utf-8") == message.html
    parsed = read_eml(eml)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    # RFC 5322 lines end in CRLF on disk.
    assert parts[0].get_content().replace("\r\n", "\n") == message.text
    assert parts[1].get_content().replace("\r\n", "\n") == message.html
    assert parsed["Subject"] == message.subject
    assert parsed["To"].addresses[0].display_name == "Zoë"
    assert parsed["From"].addresses[0].addr_spec == "cursus@umoya.example"
    assert parsed["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
    assert "<mailto:stop@kliniek.example" in parsed["List-Unsubscribe"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["X-Nurture-Kind"] == "lesson"
    assert parsed["X-Nurture-Course"] == "voorbeeld-cursus"
    assert parsed["X-Nurture-Day"] == "2"
    assert parsed["X-Nurture-Delivery-Id"] == "55"
    assert parsed["X-Nurture-Subscriber-Id"] == "7"
    assert parsed["X-Nurture-Categories"] == "nurture, voorbeeld-cursus-dag-2"
    assert parsed["Message-ID"] and parsed["Date"]
    assert not list(mail_env.outbox_dir.glob(".*.tmp"))


def test_confirmation_eml(
    mail_env: Settings, renderer: Renderer, backend: MailBackend, course: Course
) -> None:
    message = renderer.confirmation(
        course, Recipient(3, "bo@example.nl", None), "http://nurture.test/confirm/t"
    )
    backend.send(message)
    [eml] = mail_env.outbox_dir.glob("*.eml")
    parsed = read_eml(eml)
    assert parsed["X-Nurture-Kind"] == "confirmation"
    assert "http://nurture.test/confirm/t" in body_of(parsed, "plain")


def test_files_are_unique_and_sort_in_sending_order_across_threads(
    mail_env: Settings, renderer: Renderer, backend: MailBackend, course: Course
) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for n in range(25):
            message = renderer.lesson(
                course, 1, Recipient(1, f"w{worker}n{n}@example.nl", None, delivery_id=1)
            )
            result = backend.send(message)
            with lock:
                order.append(str(result.message_id))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(path.stem for path in mail_env.outbox_dir.glob("*.eml"))
    assert len(names) == 200 == len(set(order))
    assert len(list(mail_env.outbox_dir.glob("*.html"))) == 200
    # Within this process the sequence number orders files exactly as they were handed out.
    by_sequence = sorted(names, key=lambda stem: int(stem.split("-")[2]))
    assert by_sequence == names


def test_send_test_writes_a_proof_to_the_outbox(mail_env: Settings, tmp_path: Path) -> None:
    folder = write_sample_course(tmp_path / "drafts")
    result = run_cli(
        "send-test", "--to", "kliniek@example.nl", "--day", "3", "--course-dir", str(folder)
    )
    assert result.exit_code == 0, result.output
    assert "Sent day 3 of voorbeeld-cursus to kliniek@example.nl via outbox" in result.output
    [eml] = mail_env.outbox_dir.glob("*.eml")
    parsed = read_eml(eml)
    assert parsed["Subject"] == "[Proef] Dag 3: bewegen <met> plezier"
    assert parsed["X-Nurture-Kind"] == "test" and parsed["X-Nurture-Delivery-Id"] is None
    html = body_of(parsed, "html")
    assert "Hallo Anna," in html and "/o/" not in html and "/c/" not in html
    assert 'href="https://example.org/oefeningen"' in html
    assert "http://nurture.test/unsubscribe/voorbeeld" in html

    result = run_cli(
        "send-test", "--to", "kliniek@example.nl", "--confirm", "--course-dir", str(folder)
    )
    assert result.exit_code == 0, result.output
    assert len(list(mail_env.outbox_dir.glob("*.eml"))) == 2


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--to", "geen-adres"], "--to 'geen-adres':"),
        (["--to", "a@example.nl", "--day", "9"], "--day 9: voorbeeld-cursus has days 1 to 5"),
        (["--to", "a@example.nl", "--day", "2", "--confirm"], "either --day N or --confirm"),
    ],
)
def test_send_test_explains_mistakes(
    mail_env: Settings, tmp_path: Path, args: list[str], error: str
) -> None:
    folder = write_sample_course(tmp_path / "drafts")
    result = run_cli("send-test", *args, "--course-dir", str(folder))
    assert result.exit_code == 2
    assert error in result.output
    assert "Traceback" not in result.output
    assert not mail_env.outbox_dir.exists() or not list(mail_env.outbox_dir.iterdir())


def test_send_test_uses_the_shipped_course(mail_env: Settings) -> None:
    if shipped_course() is None:
        pytest.skip("the shipped course is not written yet")
    result = run_cli("send-test", "--to", "kliniek@example.nl", "--day", "5")
    assert result.exit_code == 0, result.output
    assert len(list(mail_env.outbox_dir.glob("*.eml"))) == 1
