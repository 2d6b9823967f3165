"""The coalescer: concurrent submissions run as one batch, each thread gets its own result."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from delivery.coalesce import Coalescer


class Recorder:
    """A batch function that records each batch it ran and doubles every item."""

    def __init__(self, fail: BaseException | None = None, drop: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.drop = drop
        self._lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> dict[int, int]:
        with self._lock:
            self.batches.append(list(items))
        if self.fail is not None:
            raise self.fail
        return {item: item * 2 for item in items if item != self.drop}


def submit_all(coalescer: Coalescer[int, int], items: list[int]) -> list[object]:
    """Submit ITEMS from one thread each, all released at once; return results or errors."""
    start = threading.Barrier(len(items))

    def one(item: int) -> object:
        start.wait()
        try:
            return coalescer.submit(item)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(one, items))


def test_concurrent_submissions_share_one_batch_and_get_their_own_results() -> None:
    run = Recorder()
    coalescer = Coalescer(run, max_items=50, window=0.5)
    results = submit_all(coalescer, list(range(20)))
    assert results == [n * 2 for n in range(20)]
    # The window is long next to thread start-up, so all 20 met in one batch; but a batch
    # never waits out the window once full, so 20 < 50 waited the window once, no more.
    assert sorted(n for batch in run.batches for n in batch) == list(range(20))
    assert len(run.batches) == 1


def test_a_full_batch_runs_at_once_and_the_rest_form_the_next() -> None:
    run = Recorder()
    coalescer = Coalescer(run, max_items=10, window=5.0)
    results = submit_all(coalescer, list(range(30)))
    assert results == [n * 2 for n in range(30)]
    assert all(len(batch) <= 10 for batch in run.batches)
    assert sorted(n for batch in run.batches for n in batch) == list(range(30))
    # Three full batches would need no window at all; allow one partial straggler batch.
    assert len(run.batches) <= 4


def test_a_lone_submission_runs_after_the_window() -> None:
    run = Recorder()
    coalescer = Coalescer(run, max_items=10, window=0.05)
    assert coalescer.submit(21) == 42
    assert run.batches == [[21]]


def test_a_failing_batch_raises_in_every_thread_of_it() -> None:
    boom = RuntimeError("database down")
    coalescer = Coalescer(Recorder(fail=boom), max_items=50, window=0.5)
    results = submit_all(coalescer, list(range(8)))
    assert results == [boom] * 8


def test_an_item_without_a_result_raises_for_that_item_only() -> None:
    coalescer = Coalescer(Recorder(drop=3), max_items=50, window=0.5)
    results = submit_all(coalescer, [1, 2, 3, 4])
    assert results[:2] == [2, 4] and results[3] == 8
    assert isinstance(results[2], LookupError)


def test_batch_size_one_calls_through_without_waiting() -> None:
    run = Recorder()
    coalescer = Coalescer(run, max_items=1, window=60.0)
    assert [coalescer.submit(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert run.batches == [[1], [2], [3]]


def test_max_items_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Coalescer(Recorder(), max_items=0, window=0.1)
