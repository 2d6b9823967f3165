"""Admin lockout: a guess is counted before it is checked, so a parallel burst gets no more
guesses than allowed; a global ceiling slows everyone down without locking the owner out; with
Redis down an in-process limiter holds the line (never fail open)."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from config import Settings
from runtime import Runtime
from web import create_app
from web.admin_lockout import CLIENT_KEY, WINDOW_SECONDS, Limits, LocalLockout

PASSWORD = "test-admin-password"
REDIS_DOWN = "redis://127.0.0.1:1/0"
BURST = 40
OWNER, ATTACKER, OTHER = "192.0.2.10", "203.0.113.66", "198.51.100.23"


def auth(password: str, user: str = "beheer") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def login(client: Any, password: str, address: str) -> int:
    response = client.get(
        "/admin/subscribers", headers=auth(password), environ_base={"REMOTE_ADDR": address}
    )
    return int(response.status_code)


def burst(app: Any, password: str, count: int = BURST, address: str = ATTACKER) -> Counter[int]:
    """Send COUNT logins at once from ADDRESS, one thread each; count the answers."""
    start = threading.Barrier(count)

    def one(_: int) -> int:
        client = app.test_client()
        start.wait()
        return login(client, password, address)

    with ThreadPoolExecutor(count) as pool:
        return Counter(pool.map(one, range(count)))


@pytest.fixture
def make_admin(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> Callable[..., Any]:
    def make(**values: object) -> Any:
        return create_app(runtime=make_runtime(configure(**values)))

    return make


def test_a_parallel_burst_gets_only_the_allowed_guesses(app: Any, client: Any) -> None:
    answers = burst(app, "guess")
    # 401 means the password was checked (and wrong); 429 that it was never looked at.
    assert answers == {401: 10, 429: BURST - 10}
    assert login(client, PASSWORD, ATTACKER) == 429
    assert login(client, PASSWORD, OWNER) == 200  # the attacker locked out only themselves


def test_right_passwords_never_count_towards_the_lockout(app: Any, client: Any) -> None:
    assert burst(app, PASSWORD, 8, OWNER) == {200: 8}
    for _ in range(20):
        assert login(client, PASSWORD, OWNER) == 200
    for _ in range(9):
        assert login(client, "typo", OWNER) == 401
    assert login(client, PASSWORD, OWNER) == 200
    assert login(client, "typo", OWNER) == 401
    assert login(client, PASSWORD, OWNER) == 429


def test_the_window_is_fixed_and_not_prolonged_by_more_attempts(
    client: Any, settings: Settings
) -> None:
    for _ in range(30):
        login(client, "guess", ATTACKER)
    ttl = redis.Redis.from_url(settings.redis_url).ttl(CLIENT_KEY + ATTACKER)
    assert 0 < ttl <= WINDOW_SECONDS


def test_the_global_ceiling_slows_everyone_down_but_lets_the_owner_in(
    make_admin: Callable[..., Any],
) -> None:
    client = make_admin(admin_failed_logins_per_client=3, admin_failed_logins_total=5).test_client()
    # One address alone stops at its own limit, and its refused tries don't count in total.
    assert [login(client, "guess", ATTACKER) for _ in range(8)] == [401] * 3 + [429] * 5
    # A second address reaches the total (5) after two guesses; then it is slowed to one.
    assert [login(client, "guess", OTHER) for _ in range(3)] == [401, 401, 429]
    # Everyone is slowed down to one guess per window, but not locked out: the owner, with
    # the right password, still gets in, as often as they like.
    assert [login(client, PASSWORD, OWNER) for _ in range(5)] == [200] * 5
    # A fresh address gets its one guess, not three.
    assert [login(client, "guess", "192.0.2.99") for _ in range(2)] == [401, 429]


def test_with_redis_down_an_in_process_limiter_holds(make_admin: Callable[..., Any]) -> None:
    app = make_admin(redis_url=REDIS_DOWN)
    answers = burst(app, "guess")
    assert answers == {401: 10, 429: BURST - 10}  # never fail open
    client = app.test_client()
    assert login(client, PASSWORD, ATTACKER) == 429
    assert login(client, PASSWORD, OWNER) == 200
    # The limiter lives on the app (one per process), not in a module global.
    assert isinstance(app.extensions["nurture_admin_lockout"], LocalLockout)


def test_the_in_process_limiter_opens_again_after_its_window() -> None:
    now = [1000.0]
    lockout = LocalLockout(window_seconds=300, clock=lambda: now[0])
    limits = Limits(per_client=2, total=3)
    assert [lockout.reserve("a", limits) for _ in range(3)] == [True, True, False]
    assert [lockout.reserve("b", limits) for _ in range(2)] == [True, False]  # total reached
    lockout.refund("b")  # a right password gives its slot back
    assert lockout.reserve("c", limits) is True
    now[0] += 300
    assert [lockout.reserve("a", limits) for _ in range(3)] == [True, True, False]
