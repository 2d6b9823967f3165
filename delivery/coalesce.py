"""Coalesce concurrent calls into batches: many task threads, one batched call.

Each `send_delivery` task is still one Celery message per delivery, claimed, acked and
retried on its own. Inside a thread-pool worker, though, dozens of those tasks run at once,
and doing their work one by one costs a database round trip per step and an HTTP request
per email. The Coalescer lets each task thread hand in its item and wait: the first thread
of a batch (the leader) waits up to `window` seconds or until `max_items` have arrived, runs
the batch function once for all of them, and gives every waiting thread its own result. So
a task still returns (and is acked) only after its own delivery has been settled.

A batch function failing as a whole raises in every thread of that batch, as each task
alone would have; results are per item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item", bound=Hashable)
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    """One thread's item and, once its batch has run, its result or error."""

    __slots__ = ("error", "finished", "item", "must_lead", "result", "woken")

    def __init__(self, item: Item) -> None:
        self.item = item
        # Set when the result is in, or when this waiter must lead the next batch.
        self.woken = threading.Event()
        self.finished = False
        self.must_lead = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class Coalescer(Generic[Item, Result]):
    """Run `run_batch(items) -> {item: result}` once for items handed in at about once."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], dict[Item, Result]],
        *,
        max_items: int,
        window: float,
    ) -> None:
        """Batch up to MAX_ITEMS items, waiting at most WINDOW seconds for more to arrive."""
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._run_batch = run_batch
        self._max_items = max_items
        self._window = window
        self._lock = threading.Lock()
        self._filled = threading.Condition(self._lock)
        self._forming: list[_Waiter[Item, Result]] = []

    def submit(self, item: Item) -> Result:
        """Add ITEM to the forming batch, wait for that batch to run, return ITEM's result."""
        if self._max_items == 1:
            return self._run_batch([item])[item]
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._forming.append(waiter)
            waiter.must_lead = len(self._forming) == 1
            if len(self._forming) >= self._max_items:
                self._filled.notify()
        while not waiter.finished:
            if waiter.must_lead:
                waiter.must_lead = False
                self._lead()
            else:
                waiter.woken.wait()
                waiter.woken.clear()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Close the forming batch when full or when the window ends, then run it."""
        with self._lock:
            self._filled.wait_for(lambda: len(self._forming) >= self._max_items, self._window)
            batch = self._forming[: self._max_items]
            self._forming = self._forming[self._max_items :]
            if self._forming:
                # More arrived than one batch holds: the first of them leads the next batch.
                self._forming[0].must_lead = True
                self._forming[0].woken.set()
        try:
            results = self._run_batch([waiter.item for waiter in batch])
        except BaseException as exc:
            for waiter in batch:
                self._finish(waiter, None, exc)
            return
        for waiter in batch:
            if waiter.item in results:
                self._finish(waiter, results[waiter.item], None)
            else:
                missing = LookupError(f"the batch gave no result for {waiter.item!r}")
                self._finish(waiter, None, missing)

    @staticmethod
    def _finish(
        waiter: _Waiter[Item, Result], result: Result | None, error: BaseException | None
    ) -> None:
        waiter.result, waiter.error = result, error
        waiter.finished = True
        waiter.woken.set()
