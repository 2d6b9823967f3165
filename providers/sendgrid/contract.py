"""The contract between our sends and SendGrid's events: custom-arg names, evidence kinds.

Every send carries its Tags as custom args; SendGrid echoes them as top-level keys on every
webhook event (`processed` first), which is how an event finds its delivery even when the
asynchronous bounce has no sg_message_id, and how a stale claim is settled by evidence.
"""

from __future__ import annotations

from typing import Any

from emails.message import Tags

COURSE_ARG = "course"
DAY_ARG = "day"
KIND_ARG = "kind"
DELIVERY_ID_ARG = "delivery_id"
SUBSCRIBER_ID_ARG = "subscriber_id"
# Lessons leave the kind out: they are most of the traffic, and custom args cost bytes.
DEFAULT_KIND = "lesson"

# Events that prove SendGrid accepted a message (the first two it posts for every send).
EVIDENCE_KINDS = ("processed", "delivered")


def custom_args(tags: Tags) -> dict[str, str]:
    """Return TAGS as SendGrid custom args (string values only, as SendGrid requires)."""
    args = {COURSE_ARG: tags.course}
    if tags.day is not None:
        args[DAY_ARG] = str(tags.day)
    if tags.kind != DEFAULT_KIND:
        args[KIND_ARG] = tags.kind
    if tags.delivery_id is not None:
        args[DELIVERY_ID_ARG] = str(tags.delivery_id)
    if tags.subscriber_id is not None:
        args[SUBSCRIBER_ID_ARG] = str(tags.subscriber_id)
    return args


def as_id(value: Any) -> int | None:
    """Read a custom-arg id (a string on the wire; a number if someone posts one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if 0 < number < 2**63 else None
    return None
