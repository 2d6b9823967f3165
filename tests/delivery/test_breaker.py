"""The circuit breaker on the frozen clock: opens, holds, probes at growing intervals, closes."""

from __future__ import annotations

import pytest
from alerts_support import admin_headers
from helpers import T0
from lessons import collect_ids, dispatch_pass, enroll

from delivery import breaker
from tasks.alert_conditions import current_conditions
from tasks.heartbeat import record_dispatch_pass
from web import create_app


@pytest.fixture
def fragile(configure, make_runtime, clock):
    """A runtime whose breaker opens after 3 failed requests and probes after a minute."""
    return make_runtime(configure(breaker_failures=3, breaker_probe_seconds=60))


def fail(runtime, times: int) -> None:
    for _ in range(times):
        breaker.record_outcome(runtime, reached=False)


def test_failures_in_a_row_open_it_and_any_answer_resets_the_count(fragile):
    fail(fragile, 2)
    breaker.record_outcome(fragile, reached=True)  # say a 400: SendGrid answered
    fail(fragile, 2)
    assert breaker.gate(fragile) == breaker.CLOSED
    fail(fragile, 1)
    assert breaker.gate(fragile) == breaker.HOLD
    assert breaker.open_since(fragile) == T0


def test_it_probes_at_doubling_intervals_then_closes_and_keeps_the_outage(fragile, clock):
    fail(fragile, 3)
    probes = []
    for _ in range(24 * 60):  # a day, minute by minute, as beat runs the dispatcher
        clock.advance(minutes=1)
        if breaker.gate(fragile) == breaker.PROBE:
            probes.append(int((clock() - T0).total_seconds() // 60))
    # 1, 2, 4, 8 and 16 minutes apart, then every 16 minutes (breaker_probe_seconds x 16).
    assert probes[:7] == [1, 2, 4, 8, 16, 32, 48]
    assert len(probes) == 6 + (24 * 60 - 32) // 16
    assert breaker.last_outage(fragile) is None
    breaker.record_outcome(fragile, reached=True)
    assert breaker.gate(fragile) == breaker.CLOSED and breaker.open_since(fragile) is None
    outage = breaker.last_outage(fragile)
    assert outage is not None and (outage.opened_at, outage.closed_at) == (T0, clock())


def test_the_dispatcher_holds_everything_but_one_small_probe(fragile, clock):
    enroll(fragile, 50, T0)
    fail(fragile, 3)
    sent: list[int] = []
    report = dispatch_pass(fragile, collect_ids(sent))
    assert (report.breaker, report.materialised, report.enqueued, sent) == ("hold", 0, 0, [])
    clock.advance(minutes=1)
    report = dispatch_pass(fragile, collect_ids(sent))
    assert (report.breaker, report.enqueued, len(sent)) == ("probe", breaker.PROBE_SIZE, 5)
    assert dispatch_pass(fragile, collect_ids(sent)).enqueued == 0  # the next probe waits
    breaker.record_outcome(fragile, reached=True)  # the probe got through
    report = dispatch_pass(fragile, collect_ids(sent))
    assert (report.breaker, report.materialised) == ("closed", 45)
    assert len(set(sent)) == 50


def test_the_dashboard_says_sendgrid_is_down_while_it_is_open(fragile, clock):
    record_dispatch_pass(fragile)
    fail(fragile, 3)
    [down] = [c for c in current_conditions(fragile) if c.key == "sendgrid_down"]
    assert not down.mail and "er gaat niets verloren" in down.detail
    page = create_app(runtime=fragile).test_client().get("/admin", headers=admin_headers())
    assert 'id="alert-sendgrid_down"' in page.get_data(as_text=True)


def test_without_redis_the_breaker_stays_closed(configure, make_runtime):
    runtime = make_runtime(configure(redis_url="redis://127.0.0.1:1/0"))
    breaker.record_outcome(runtime, reached=False)  # logged, never raised
    assert breaker.gate(runtime) == breaker.CLOSED
