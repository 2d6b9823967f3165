"""Events a provider reports about a sent email, in our own terms (no provider JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Failure:
    """What a failed or refused message says about the address, in our own words."""

    # The address takes no mail: a hard bounce, or a drop because it bounced before.
    HARD = "hard"
    # Refused for now (a block, a full box): only a run of these suppresses the address.
    SOFT = "soft"
    # The person reported our mail as spam (now or before).
    COMPLAINT = "complaint"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One thing that happened to a sent email, as the provider told us.

    key identifies the event, so a replayed webhook stores nothing twice. delivery_id and
    subscriber_id are our own tags echoed back; message_id and email are the fallback when
    the provider dropped the tags (an asynchronous bounce, say). failure is a Failure
    value for events that say something about the address (None for the rest).
    """

    kind: str
    key: str
    occurred_at: datetime
    delivery_id: int | None = None
    subscriber_id: int | None = None
    course: str | None = None
    day: int | None = None
    message_id: str | None = None
    email: str | None = None
    machine_open: bool = False
    user_agent: str | None = None
    url: str | None = None
    reason: str | None = None
    failure: str | None = None
