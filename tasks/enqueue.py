"""Publish send_lesson messages in bulk: Celery's own messages, without its per-call overhead.

A morning can make 10,000 lessons due at once, and the dispatcher must hand all of them to
Redis within its pass. `send_lesson.apply_async()` costs about 190 µs a message here (about
5,000 a second, pipelined), and most of that is Celery's per-call work (merging options,
routing, repr of the arguments, a retry wrapper), not Redis. So this module does that work once
per batch and, per delivery, only what differs:
- the message is built by Celery's public `app.amqp.create_task_message` (task protocol 2, the
  same headers and body apply_async sends: task name, id, time limits, ignore_result);
- it goes out through kombu's public `Producer.publish`, inside `Producer.batch`, which
  pipelines the Redis pushes 1,000 to a round trip;
- routing is resolved once through Celery's router, so task_routes still apply, and a direct
  queue is addressed the way Celery addresses it (default exchange, queue name as key).

What this leaves out: Celery's before/after_task_publish signals (nothing here listens to
them) and per-message publish retries. A failed batch raises; its rows were stamped first, so
the dispatcher enqueues them again once the stamp is older than claim_timeout.
Still exactly one send_lesson message per delivery per enqueue, and no ETA or countdown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from celery.utils.nodenames import anon_nodename
from kombu.utils.uuid import uuid

log = logging.getLogger(__name__)

# Messages per Redis pipeline round trip.
PUBLISH_BATCH = 1000

# Batches the dispatcher's database steps may run ahead of the background publisher.
MAX_AHEAD = 2

Enqueue = Callable[[Sequence[int]], None]


def _destination(queue: Any) -> tuple[str, str]:
    """Return (exchange, routing key) for QUEUE, as celery.app.amqp.send_task_message picks it."""
    exchange = queue.exchange
    if exchange is None or exchange.type == "direct":
        # Celery sends to a direct queue through the default exchange, keyed by the queue's
        # name: on Redis that is a push onto the list of that name, no binding lookup.
        return "", queue.name
    return exchange.name, queue.routing_key


def publish_sends(delivery_ids: Sequence[int]) -> None:
    """Publish one send_lesson(delivery_id) message per id, pipelined to Redis in batches."""
    if not delivery_ids:
        return
    from tasks.sending import send_lesson

    app = send_lesson.app
    amqp = app.amqp
    name = send_lesson.name
    queue = amqp.router.route({}, name, task_type=send_lesson)["queue"]
    exchange, routing_key = _destination(queue)
    fixed = {
        "time_limit": send_lesson.time_limit,
        "soft_time_limit": send_lesson.soft_time_limit,
        "ignore_result": send_lesson.ignore_result,
        "origin": anon_nodename(),  # Celery would compute this host/pid name per message
        "kwargsrepr": "{}",
    }
    serializer = app.conf.task_serializer
    compression = app.conf.task_compression
    delivery_mode = app.conf.task_default_delivery_mode
    declare = [queue]
    with app.producer_or_acquire() as producer, producer.batch(PUBLISH_BATCH):
        for delivery_id in delivery_ids:
            task_id = uuid()
            message = amqp.create_task_message(
                task_id, name, (delivery_id,), {}, argsrepr=f"({delivery_id},)", **fixed
            )
            producer.publish(
                message.body,
                exchange=exchange,
                routing_key=routing_key,
                headers=message.headers,
                serializer=serializer,
                compression=compression,
                delivery_mode=delivery_mode,
                declare=declare,
                retry=False,
                **message.properties,
            )
            declare = []  # declared on the first message; maybe_declare caches it anyway


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

    def submit(self, delivery_ids: Sequence[int]) -> None:
        """Queue DELIVERY_IDS for publishing behind what was submitted before."""
        # The database outruns publishing; staying at most MAX_AHEAD batches ahead keeps the
        # pass's time budget (checked between database steps) a bound on publishing too.
        if len(self._pending) >= MAX_AHEAD:
            self._pending[-MAX_AHEAD].exception()  # waits for it; errors are raised at exit
        self._pending.append(self._executor.submit(self._enqueue, delivery_ids))

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
