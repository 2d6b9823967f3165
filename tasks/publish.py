"""Publish send_batch messages in bulk: Celery's own messages, without its per-call overhead.

A morning can make 10,000 lessons due at once, and the dispatcher must hand all of them to
Redis within its pass. With batches of hundreds that is a few dozen messages, but a pass of
retries or small batches (subscribers in many time zones) can still make thousands, and
`apply_async()` costs about 190 µs a message here, mostly Celery's per-call work (merging
options, routing, repr of the arguments, a retry wrapper), not Redis. So this module does that
work once per pass and, per message, only what differs:
- the message is built by Celery's public `app.amqp.create_task_message` (task protocol 2, the
  same headers and body apply_async sends: task name, id, time limits, ignore_result);
- it goes out through kombu's public `Producer.publish`, inside `Producer.batch`, which
  pipelines the Redis pushes 1,000 to a round trip;
- routing is resolved once through Celery's router, so task_routes still apply, and a direct
  queue is addressed the way Celery addresses it (default exchange, queue name as key).

What this leaves out: Celery's before/after_task_publish signals (nothing here listens to
them) and per-message publish retries. A failed batch raises; its rows were stamped first, so
the dispatcher enqueues them again once the stamp is older than claim_timeout.
Still exactly one send_batch message per batch per enqueue, and no ETA or countdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery.utils.nodenames import anon_nodename
from kombu.utils.uuid import uuid

from tasks.sending import send_batch

# Messages per Redis pipeline round trip.
PUBLISH_BATCH = 1000


def _destination(queue: Any) -> tuple[str, str]:
    """Return (exchange, routing key) for QUEUE, as celery.app.amqp.send_task_message picks it."""
    exchange = queue.exchange
    if exchange is None or exchange.type == "direct":
        # Celery sends to a direct queue through the default exchange, keyed by the queue's
        # name: on Redis that is a push onto the list of that name, no binding lookup.
        return "", queue.name
    return exchange.name, queue.routing_key


def publish_sends(batches: Sequence[Sequence[int]]) -> None:
    """Publish one send_batch(delivery_ids) message per batch, pipelined to Redis."""
    if not batches:
        return
    app = send_batch.app
    amqp = app.amqp
    name = send_batch.name
    queue = amqp.router.route({}, name, task_type=send_batch)["queue"]
    exchange, routing_key = _destination(queue)
    fixed = {
        "time_limit": send_batch.time_limit,
        "soft_time_limit": send_batch.soft_time_limit,
        "ignore_result": send_batch.ignore_result,
        "origin": anon_nodename(),  # Celery would compute this host/pid name per message
        "kwargsrepr": "{}",
    }
    serializer = app.conf.task_serializer
    compression = app.conf.task_compression
    delivery_mode = app.conf.task_default_delivery_mode
    declare = [queue]
    with app.producer_or_acquire() as producer, producer.batch(PUBLISH_BATCH):
        for batch in batches:
            task_id = uuid()
            ids = list(batch)
            argsrepr = f"([{ids[0]}, …] × {len(ids)},)" if len(ids) > 3 else f"({ids},)"
            message = amqp.create_task_message(
                task_id, name, (ids,), {}, argsrepr=argsrepr, **fixed
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
