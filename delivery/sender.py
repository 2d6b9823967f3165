"""The sender: claim deliveries, check again, render, send, record, exactly once.

Guarantees, in order of the steps:
- claim: one guarded UPDATE queued -> sending; a duplicate task or redelivered message
  changes nothing and returns, so at most one worker calls the provider per claim;
- just before sending: the subscriber must still want this mail (delivery.outcomes);
- after a 202: provider message id, sent state and the enrollment's next due time commit in
  one transaction (delivery.accepted);
- a worker killed between the 202 and that commit leaves a stale 'sending' claim, which the
  dispatcher settles by evidence (delivery.evidence), never by a blind resend.

The dispatcher hands out batches of one lesson (up to send_batch_size deliveries): one
claim statement, one render, one provider request with a recipient each, and one commit for
all of them. A confirmation goes out on its own. The steps and guarantees above hold per
delivery: each is claimed, checked, retried and settled by evidence on its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from delivery.accepted import record_accepted
from delivery.breaker import provider_down, record_outcome
from delivery.outcomes import (
    await_evidence,
    ids_of,
    pre_send_verdict,
    retry_later,
    settle_send_error,
    settle_unsendable,
    skip_removed_lesson,
)
from delivery.standing import in_course
from delivery.transitions import Claim, claim_deliveries
from emails.render import Recipient
from providers.base import SendError, SendResult
from runtime import Runtime
from store.db import in_transaction_retrying
from store.models import DeliveryKind, SubscriberStatus

log = logging.getLogger(__name__)


class Sender:
    """Send deliveries for one runtime (one per worker process, shared by its threads)."""

    def __init__(self, runtime: Runtime) -> None:
        """Send with RUNTIME's database, renderer and mail backend."""
        self.runtime = runtime

    def deliver(self, delivery_id: int) -> str:
        """Claim, check, render, send and record DELIVERY_ID alone; return the outcome."""
        return self.deliver_many([delivery_id])[delivery_id]

    def deliver_many(self, delivery_ids: Sequence[int]) -> dict[int, str]:
        """Claim, check, render, send and record DELIVERY_IDS; return each one's outcome.

        Outcomes: sent, not-claimed (a duplicate, or not due), skipped, held, retry, failed,
        awaiting-evidence.
        """
        runtime = self.runtime
        outcomes = dict.fromkeys(delivery_ids, "not-claimed")
        lessons: defaultdict[tuple[str, int, str | None], list[Claim]] = defaultdict(list)
        confirmations: list[Claim] = []
        with runtime.transaction() as connection:
            for claim in claim_deliveries(connection, list(outcomes), runtime.now()):
                verdict = pre_send_verdict(claim, in_course=_in_course(connection, claim))
                if verdict is not None:
                    settle_unsendable(connection, claim, verdict)
                    outcomes[claim.delivery_id] = verdict
                elif claim.kind == DeliveryKind.CONFIRMATION:
                    confirmations.append(claim)
                else:
                    lessons[(claim.course_slug, claim.day, claim.course_version)].append(claim)
        for (course_slug, day, version), claims in lessons.items():
            outcomes.update(self._send_lesson_to(course_slug, day, version, claims))
        for claim in confirmations:
            outcomes[claim.delivery_id] = self._send_confirmation(claim)
        return outcomes

    def _send_lesson_to(
        self, course_slug: str, day: int, version: str | None, claims: list[Claim]
    ) -> dict[int, str]:
        """Send lesson DAY (or the closing email) of course VERSION to every claim's subscriber."""
        runtime = self.runtime
        try:
            course = runtime.courses.get_version(course_slug, version)
            if day > course.days:
                outcome = skip_removed_lesson(runtime, claims, course.version, course.days)
                return dict.fromkeys((claim.delivery_id for claim in claims), outcome)
            recipients = [_recipient(c) for c in claims]
            # A batch is one lesson, or the closing emails of one course (CLOSING_DAY).
            if claims[0].kind == DeliveryKind.CLOSING:
                bulk = runtime.renderer.closing_bulk(course, recipients)
            else:
                bulk = runtime.renderer.lesson_bulk(course, day, recipients)
        except Exception as exc:
            if len(claims) > 1:
                # One recipient's bad data (say an address the renderer refuses) must not
                # hold back the others: render and send each on its own.
                outcomes: dict[int, str] = {}
                for claim in claims:
                    outcomes.update(self._send_lesson_to(course_slug, day, version, [claim]))
                return outcomes
            return {claims[0].delivery_id: self._unrenderable(claims[0], exc)}
        return self._send(lambda: self.runtime.mail.send_bulk(bulk), claims, course.version)

    def _send_confirmation(self, claim: Claim) -> str:
        """Render and send one confirmation email (its confirm link is signed now)."""
        runtime = self.runtime
        try:
            course = runtime.courses.get_version(claim.course_slug, claim.course_version)
            # The link names this email, so a newer confirmation makes it stop working.
            url = runtime.renderer.confirm_url(claim.delivery_id)
            message = runtime.renderer.confirmation(course, _recipient(claim), url)
        except Exception as exc:
            return self._unrenderable(claim, exc)

        def send_one() -> list[SendResult | SendError]:
            try:
                return [runtime.mail.send(message)]
            except SendError as exc:
                return [exc]

        return self._send(send_one, [claim], course.version)[claim.delivery_id]

    def _unrenderable(self, claim: Claim, exc: Exception) -> str:
        # Nothing reached the provider: a bug or an outage of ours (course, template).
        # Release the claim with backoff rather than leave it 'sending' until it goes stale.
        log.exception(
            "delivery %s: could not render; it will be retried",
            claim.delivery_id,
            extra=ids_of(claim),
        )
        return retry_later(self.runtime, claim, exc)

    def _send(
        self,
        send: Callable[[], Sequence[SendResult | SendError]],
        claims: list[Claim],
        version: str,
    ) -> dict[int, str]:
        """Run SEND (a result per claim, in order) and settle each claim by its result.

        VERSION is the content hash of the course version the mail was rendered from.
        """
        runtime = self.runtime
        try:
            results = send()
        except Exception as exc:
            # Unexpected, and a request may have gone out: let evidence decide, as for a timeout.
            log.exception(
                "deliveries %s: unexpected error while sending",
                _ids(claims),
                extra={"delivery_ids": [claim.delivery_id for claim in claims]},
            )
            return {claim.delivery_id: await_evidence(runtime, claim, exc) for claim in claims}
        # Any answer from the provider closes the breaker; a 5xx or no connection counts.
        record_outcome(runtime, reached=not provider_down(results))
        outcomes = {}
        accepted: defaultdict[str | None, list[Claim]] = defaultdict(list)
        for claim, result in zip(claims, results, strict=True):
            if isinstance(result, SendResult):
                accepted[result.message_id].append(claim)
            else:
                outcomes[claim.delivery_id] = settle_send_error(runtime, claim, result)
        if accepted:
            # If this commit fails (database down, worker killed) the mail is out but the rows
            # still say 'sending': the stale-claim resolver settles them by the provider's events.
            self._record_sent(accepted, version)
            outcomes.update({c.delivery_id: "sent" for group in accepted.values() for c in group})
        return outcomes

    def _record_sent(self, accepted: dict[str | None, list[Claim]], version: str) -> None:
        """Commit the sent states and the enrollments' next due times in one transaction."""
        runtime = self.runtime
        sent_at = runtime.now()

        def record(connection: object) -> None:
            for message_id, claims in accepted.items():
                record_accepted(
                    connection,  # type: ignore[arg-type]
                    claims,
                    message_id=message_id,
                    sent_at=sent_at,
                    courses=runtime.courses,
                    settings=runtime.settings,
                    version=version,
                )

        # The mail is out: a lost connection here must not leave the rows to evidence (or,
        # without the webhook, to a resend). The statements are guarded, so a repeat is safe.
        in_transaction_retrying(runtime.engine, record)


def _recipient(claim: Claim) -> Recipient:
    # A confirmation greets "Hallo,": until it is confirmed, a name is text anyone could
    # have typed, and it must not reach an inbox from the clinic's domain.
    confirmation = claim.kind == DeliveryKind.CONFIRMATION
    return Recipient(
        subscriber_id=claim.subscriber_id,
        email=claim.email or "",
        first_name=None if confirmation else claim.first_name,
        delivery_id=claim.delivery_id,
    )


def _ids(claims: Sequence[Claim]) -> str:
    return ", ".join(str(claim.delivery_id) for claim in claims[:5]) + (
        "…" if len(claims) > 5 else ""
    )


def _in_course(connection: Connection, claim: Claim) -> bool:
    """Tell whether a confirmed reader's confirmation is of a course they are in already."""
    confirmed = claim.subscriber_status == SubscriberStatus.CONFIRMED
    if claim.kind != DeliveryKind.CONFIRMATION or not confirmed:
        return False  # the hot path (lessons, new signups) asks nothing more
    return in_course(connection, claim.subscriber_id, claim.course_slug)
