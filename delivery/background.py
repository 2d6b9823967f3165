"""Publish batches of sends on a background thread while the dispatcher's database work goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

log = logging.getLogger(__name__)

# Batches the dispatcher's database steps may run ahead of the background publisher.
MAX_AHEAD = 2

# Publishes one send task per batch of delivery ids (tasks.publish.publish_sends).
Enqueue = Callable[[Sequence[Sequence[int]]], None]


class BackgroundEnqueue:
    """Run ENQUEUE on one background thread, in submission order, while the caller goes on.

    The dispatcher's database steps wait on PostgreSQL (another process, another core) and
    publishing is Python work, so publishing step N while the database does step N+1 overlaps
    the two. Only committed (stamped) ids are ever submitted. Leaving the block waits for
    everything submitted, so a pass ends with all its messages in Redis; the first publishing
    error is raised then (its rows are re-enqueued after claim_timeout).
    """

    def __init__(self, enqueue: Enqueue) -> None:
        """Prepare a single publishing thread for ENQUEUE."""
        self._enqueue = enqueue
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-publish")
        self._pending: list[Future[None]] = []

    def submit(self, batches: Sequence[Sequence[int]]) -> None:
        """Queue BATCHES for publishing behind what was submitted before."""
        # The database outruns publishing; staying at most MAX_AHEAD batches ahead keeps the
        # pass's time budget (checked between database steps) a bound on publishing too.
        if len(self._pending) >= MAX_AHEAD:
            self._pending[-MAX_AHEAD].exception()  # waits for it; errors are raised at exit
        self._pending.append(self._executor.submit(self._enqueue, batches))

    def __enter__(self) -> BackgroundEnqueue:
        """Return self; submit batches inside the block."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Wait for every submitted batch; raise the first publishing error, if any."""
        self._executor.shutdown(wait=True)
        errors = [error for error in (f.exception() for f in self._pending) if error is not None]
        for error in errors:
            log.error(
                "publishing a batch of sends failed; it is enqueued again after the claim timeout",
                exc_info=error,
            )
        if exc is None and errors:
            raise errors[0]
