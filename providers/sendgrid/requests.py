"""SendGrid v3 mail/send bodies: one recipient, or one lesson for many (personalizations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emails.bulk import Bulk
from emails.message import Message
from providers.base import PermanentSendError
from providers.sendgrid.contract import custom_args

# Headers SendGrid refuses in `headers` (they are set from other fields or by SendGrid).
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
MAX_PERSONALIZATIONS = 1000
# SendGrid's limit on one personalization's substitutions, tags and values together.
MAX_SUBSTITUTION_BYTES = 10_000

# We track opens and clicks ourselves (signed pixel and links), so SendGrid must not rewrite
# links or add its own pixel and unsubscribe footer.
TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
}


def _checked_headers(headers: dict[str, str]) -> dict[str, str]:
    bad = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
    if bad:
        raise PermanentSendError(f"SendGrid does not allow these headers: {', '.join(bad)}")
    return dict(headers)


def _to(message: Message) -> dict[str, str]:
    to: dict[str, str] = {"email": message.to_email}
    if message.to_name:
        to["name"] = message.to_name
    return to


def _shared_fields(message: Message, text: str, html: str) -> dict[str, Any]:
    """Return the request fields every recipient shares: sender, content, categories."""
    sender: dict[str, str] = {"email": message.from_email}
    if message.from_name:
        sender["name"] = message.from_name
    body: dict[str, Any] = {
        "from": sender,
        "content": [
            {"type": "text/plain", "value": text},
            {"type": "text/html", "value": html},
        ],
        "tracking_settings": TRACKING_OFF,
    }
    if message.reply_to:
        body["reply_to"] = {"email": message.reply_to}
    if message.categories:
        body["categories"] = list(message.categories)
    return body


def build_request_body(message: Message) -> dict[str, Any]:
    """Turn MESSAGE into SendGrid's v3 mail/send JSON body."""
    headers = _checked_headers(message.headers)
    body = {
        "personalizations": [{"to": [_to(message)]}],
        "subject": message.subject,
        **_shared_fields(message, message.text, message.html),
    }
    if headers:
        body["headers"] = headers
    body["custom_args"] = custom_args(message.tags)
    return body


def build_bulk_body(bulk: Bulk, group: Sequence[int]) -> dict[str, Any]:
    """Return one mail/send body for the recipients of BULK at the indexes in GROUP."""
    personalizations = []
    for index in group:
        head = bulk.recipients[index].head
        item: dict[str, Any] = {"to": [_to(head)], "subject": head.subject}
        if head.headers:
            item["headers"] = _checked_headers(head.headers)
        item["custom_args"] = custom_args(head.tags)
        substitutions = bulk.substitutions_by_index[index]
        if substitutions:
            item["substitutions"] = substitutions
        personalizations.append(item)
    first = bulk.recipients[group[0]].head
    return {"personalizations": personalizations, **_shared_fields(first, bulk.text, bulk.html)}


def plan_requests(bulk: Bulk) -> list[list[int]]:
    """Group BULK's recipients into requests SendGrid accepts; a group of one goes alone.

    A request holds at most MAX_PERSONALIZATIONS recipients, each address once. A recipient
    goes alone when a value could be taken for a tag, or its substitutions pass SendGrid's
    size limit (a lesson with very many links): then the fully rendered message is sent.
    """
    groups: list[list[int]] = []
    open_groups: list[tuple[list[int], set[str]]] = []
    for index, personal in enumerate(bulk.recipients):
        substitutions = bulk.substitutions_by_index[index]
        if not personal.safe_to_substitute or _byte_size(substitutions) > MAX_SUBSTITUTION_BYTES:
            groups.append([index])
            continue
        address = personal.head.to_email.lower()
        for members, addresses in open_groups:
            if address not in addresses and len(members) < MAX_PERSONALIZATIONS:
                members.append(index)
                addresses.add(address)
                break
        else:
            open_groups.append(([index], {address}))
    return [members for members, _ in open_groups] + groups


def _byte_size(substitutions: dict[str, str]) -> int:
    return sum(len(tag.encode()) + len(value.encode()) for tag, value in substitutions.items())
