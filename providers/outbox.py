"""The outbox backend: each message becomes an RFC 5322 .eml file plus an .html file to open.

File names start with the UTC time and a per-process sequence number, so a directory listing
sorts in sending order; the process id and a random suffix keep names unique across worker
processes. Files are written under a temporary name and renamed, so a reader never sees half.
`forget(address)` deletes a person's files: the .eml says whom each one went to.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, compat32
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from pathlib import Path

from emails.bulk import Bulk
from emails.message import Message, Tags
from providers.base import (
    PermanentSendError,
    RetryableSendError,
    SendError,
    SendResult,
    send_each,
)
from store.clock import Clock

MESSAGE_ID_DOMAIN = "outbox.nurture"
# RFC 5322's hard line limit; folding long List-Unsubscribe values at 78 trips some parsers.
POLICY = SMTP.clone(max_line_length=998)


def tag_headers(tags: Tags) -> dict[str, str]:
    """Return TAGS as X-Nurture-* headers, so a reader of the outbox sees what each mail is."""
    values = {
        "X-Nurture-Kind": tags.kind,
        "X-Nurture-Course": tags.course,
        "X-Nurture-Day": tags.day,
        "X-Nurture-Delivery-Id": tags.delivery_id,
        "X-Nurture-Subscriber-Id": tags.subscriber_id,
    }
    return {name: str(value) for name, value in values.items() if value is not None}


def to_email_message(message: Message, message_id: str, clock: Clock) -> EmailMessage:
    """Build a multipart/alternative (text, then HTML) EmailMessage with every header."""
    email = EmailMessage(policy=POLICY)
    email["Message-ID"] = make_msgid(idstring=message_id, domain=MESSAGE_ID_DOMAIN)
    email["Date"] = format_datetime(clock())
    email["From"] = formataddr((message.from_name, message.from_email))
    email["To"] = formataddr((message.to_name, message.to_email))
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email["Subject"] = message.subject
    for name, value in message.headers.items():
        email[name] = value
    for name, value in tag_headers(message.tags).items():
        email[name] = value
    if message.categories:
        email["X-Nurture-Categories"] = ", ".join(message.categories)
    email["X-Nurture-Message-Id"] = message_id
    email.set_content(message.text, subtype="plain", charset="utf-8")
    email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email


class OutboxBackend:
    """Write messages into a folder instead of sending them (the development default)."""

    def __init__(self, folder: Path, clock: Clock) -> None:
        """Remember the folder (created on the first send) and the clock that stamps files."""
        self.folder = Path(folder)
        self.clock = clock
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    def _next_stem(self, message: Message) -> str:
        with self._lock:
            number = next(self._sequence)
        stamp = self.clock().strftime("%Y%m%dT%H%M%S%fZ")
        tags = message.tags
        label = "-".join(str(value) for value in (tags.course, tags.day) if value is not None)
        label = "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in label)[:60]
        suffix = secrets.token_hex(3)
        return f"{stamp}-{os.getpid()}-{number:08d}-{suffix}" + (f"-{label}" if label else "")

    def send(self, message: Message) -> SendResult:
        """Write MESSAGE as STEM.eml and STEM.html; return the outbox message id."""
        stem = self._next_stem(message)
        message_id = f"outbox-{stem}"
        try:
            raw = to_email_message(message, message_id, self.clock).as_bytes()
        except (ValueError, TypeError) as exc:
            # The email package refuses header values with CR/LF and the like.
            raise PermanentSendError(f"message cannot be written as email: {exc}") from None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.folder / f"{stem}.html", message.html.encode("utf-8"))
            _write_atomically(self.folder / f"{stem}.eml", raw)
        except OSError as exc:
            raise RetryableSendError(f"cannot write to outbox {self.folder}: {exc}") from None
        return SendResult(message_id=message_id)

    def send_bulk(self, bulk: Bulk) -> list[SendResult | SendError]:
        """Write each recipient's rendered message as its own file."""
        return send_each(self, bulk)

    def forget(self, address: str) -> int:
        """Delete the .eml and .html files of every message to ADDRESS (any case); count them."""
        wanted = address.strip().lower()
        removed = 0
        for eml in sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []:
            if wanted not in recipients_of(eml):
                continue
            for path in (eml.with_suffix(".html"), eml):
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass  # never written, or a concurrent forget got there first
        return removed


def recipients_of(eml: Path) -> set[str]:
    """Return the lower-cased addresses in the To header of the .eml file EML."""
    try:
        with eml.open("rb") as file:
            # Headers only, and compat32: the raw header text, whatever its encoding.
            headers = BytesHeaderParser(policy=compat32).parse(file)
    except OSError:
        return set()
    values = [str(value) for value in headers.get_all("To", [])]
    return {addr.lower() for _, addr in getaddresses(values) if addr}


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
