"""Out-of-range ids: a validly signed pixel or click token for id 2**70 names no row.

The finding: such a pixel hit reached the drain, which failed on it (OverflowError on SQLite,
"bigint out of range" on PostgreSQL), and after it no open or click was stored at all.
"""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from tracking_support import make_subscriber

from runtime import Runtime
from store.models import Delivery, EmailEvent
from tracking.hits import drain_hits, queued_hits
from web.tracking import PIXEL_GIF

pytestmark = pytest.mark.usefixtures("fresh_spool")

HUGE = 2**70
TARGET = "https://umoya.example/afspraak"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def signed(runtime: Runtime, purpose: str, payload: object) -> str:
    """Sign PAYLOAD with the installation's own key, as a leak of it would allow."""
    return str(
        URLSafeSerializer(runtime.settings.secret_key, salt=f"nurture.{purpose}").dumps(payload)
    )


def event_kinds(runtime: Runtime) -> list[tuple[str, int | None]]:
    with runtime.session() as session:
        rows = session.execute(
            select(EmailEvent.kind, EmailEvent.delivery_id).order_by(EmailEvent.id)
        )
        return [(kind, delivery_id) for kind, delivery_id in rows]


@pytest.mark.parametrize("value", [HUGE, 2**63, -(2**70), 0])
def test_out_of_range_pixel_and_click_record_nothing_and_block_nothing(
    app, client, runtime: Runtime, value: int
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    headers = {"User-Agent": BROWSER_UA}

    pixel = client.get(f"/o/{signed(runtime, 'open', value)}.gif", headers=headers)
    assert (pixel.status_code, pixel.data) == (200, PIXEL_GIF)
    click = client.get(f"/c/{signed(runtime, 'click', [value, TARGET])}", headers=headers)
    assert click.status_code == 404 and "Location" not in click.headers

    # The genuine hits behind them are stored.
    client.get(f"/o/{runtime.tokens.make_open(delivery_id)}.gif", headers=headers)
    client.get(f"/c/{runtime.tokens.make_click(delivery_id, TARGET)}", headers=headers)
    app.extensions["nurture_hits"].spool.ship()
    drain_hits(runtime)
    assert queued_hits(runtime) == 0
    assert event_kinds(runtime) == [("open", delivery_id), ("click", delivery_id)]
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert (delivery.human_opens, delivery.clicks) == (1, 1)
