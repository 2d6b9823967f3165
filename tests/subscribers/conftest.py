"""Fixtures of the subscriber tests: the real app served live for Chromium, a reader in a course."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import serve_app
from lessons import enroll
from preferences_support import START

from runtime import Runtime
from store.clock import FrozenClock
from web import create_app


@pytest.fixture
def live_runtime(configure: Any, make_runtime: Any) -> Iterator[tuple[str, Runtime]]:
    """Serve the real app on a free port, with BASE_URL pointing at it; yield URL and runtime.

    The runtime is on the test's clock when it asks for one; the signup rate limit is off,
    as a browser test signs up more often than a visitor would.
    """
    built: list[Runtime] = []

    def app_at(base_url: str) -> Any:
        built.append(make_runtime(configure(base_url=base_url)))
        return create_app(runtime=built[0], RATELIMIT_ENABLED=False)

    with serve_app(app_at) as base_url:
        yield base_url, built[0]


@pytest.fixture
def reader(runtime: Runtime, clock: FrozenClock) -> int:
    """A confirmed reader whose day 1 is due now."""
    clock.set(START)
    [subscriber_id] = enroll(runtime, 1, START)
    return subscriber_id
