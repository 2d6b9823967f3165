"""bench_dispatcher's second table: publishing send tasks alone, Celery's way and ours."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import common
import redis


def apply_async_publish(batches: Sequence[Sequence[int]]) -> None:
    """Publish with Celery's own apply_async per message, in a Producer.batch."""
    from tasks.sending import send_batch

    with send_batch.app.producer_or_acquire() as producer, producer.batch(1000):
        for batch in batches:
            send_batch.apply_async((list(batch),), producer=producer)


def time_publishing(due: int, runs: int, redis_url: str) -> dict[str, list[float]]:
    """Time publishing DUE messages alone, both ways, interleaved; check each lands in full."""
    from tasks.publish import publish_sends

    client = redis.Redis.from_url(redis_url)
    batches = [[delivery_id] for delivery_id in range(1, due + 1)]

    def checked(publish: Callable[[Sequence[Sequence[int]]], None]) -> Callable[[], None]:
        def work() -> None:
            publish(batches)
            assert client.llen("celery") == due

        return work

    works = {"apply_async": checked(apply_async_publish), "publish_sends": checked(publish_sends)}
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            common.flush_redis(redis_url)
            times[name].append(common.timed(work))
    common.flush_redis(redis_url)
    client.close()
    return times
