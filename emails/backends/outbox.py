"""The outbox backend: each message becomes an RFC 5322 .eml file plus an .html file to open.

File names start with the UTC time and a per-process sequence number, so a directory listing
sorts in sending order; the process id and a random suffix keep names unique across worker
processes. Files are written under a temporary name and renamed, so a reader never sees half.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from emails.bulk import Bulk
from emails.message import Message, PermanentSendError, RetryableSendError, SendError, SendResult
from store.clock import utcnow

MESSAGE_ID_DOMAIN = "outbox.nurture"
# RFC 5322's hard line limit; folding long List-Unsubscribe values at 78 trips some parsers.
POLICY = SMTP.clone(max_line_length=998)


def custom_arg_header(name: str) -> str:
    """Return the X-Nurture-* header name that carries custom arg NAME."""
    return "X-Nurture-" + "-".join(part.capitalize() for part in name.split("_"))


def to_email_message(message: Message, message_id: str) -> EmailMessage:
    """Build a multipart/alternative (text, then HTML) EmailMessage with every header."""
    email = EmailMessage(policy=POLICY)
    email["Message-ID"] = make_msgid(idstring=message_id, domain=MESSAGE_ID_DOMAIN)
    email["Date"] = format_datetime(utcnow())
    email["From"] = formataddr((message.from_name, message.from_email))
    email["To"] = formataddr((message.to_name, message.to_email))
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email["Subject"] = message.subject
    for name, value in message.headers.items():
        email[name] = value
    for name, value in message.custom_args.items():
        email[custom_arg_header(name)] = value
    if message.categories:
        email["X-Nurture-Categories"] = ", ".join(message.categories)
    email["X-Nurture-Message-Id"] = message_id
    email.set_content(message.text, subtype="plain", charset="utf-8")
    email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email


class OutboxBackend:
    """Write messages into a folder instead of sending them (the development default)."""

    def __init__(self, folder: Path) -> None:
        """Remember the folder; it is created on the first send."""
        self.folder = Path(folder)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    def _next_stem(self, message: Message) -> str:
        with self._lock:
            number = next(self._sequence)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        label = "-".join(
            value
            for value in (message.custom_args.get("course"), message.custom_args.get("day"))
            if value
        )
        label = "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in label)[:60]
        suffix = secrets.token_hex(3)
        return f"{stamp}-{os.getpid()}-{number:08d}-{suffix}" + (f"-{label}" if label else "")

    def send(self, message: Message) -> SendResult:
        """Write MESSAGE as STEM.eml and STEM.html; return the outbox message id."""
        stem = self._next_stem(message)
        message_id = f"outbox-{stem}"
        try:
            raw = to_email_message(message, message_id).as_bytes()
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
        from emails.backends import send_each

        return send_each(self, bulk)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
