"""Out-of-range ids: a validly signed unsubscribe token for id 2**70 is an invalid link, not a 500.

The finding: POST /unsubscribe/<token> with such a token gave a 500 (the id overflowed the
database's 64-bit integer).
"""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from tracking_support import make_subscriber

from runtime import Runtime
from store.models import Subscriber, SubscriberStatus

INVALID_LINK = "Deze afmeldlink werkt niet"


@pytest.mark.parametrize("value", [2**70, 2**63, -(2**70), 0, 1.5, "1", [1], None, True])
def test_out_of_range_unsubscribe_token_is_the_dutch_invalid_link_page(
    client, runtime: Runtime, value: object
) -> None:
    made = make_subscriber(runtime, "anna@example.com")
    signer = URLSafeSerializer(runtime.settings.secret_key, salt="nurture.unsubscribe")
    token = signer.dumps(value)
    for response in (client.post(f"/unsubscribe/{token}"), client.get(f"/unsubscribe/{token}")):
        assert response.status_code == 400
        assert INVALID_LINK in response.get_data(as_text=True)
    one_click = client.post(
        f"/unsubscribe/{token}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Accept": "application/json"},
    )
    assert one_click.status_code == 400
    with runtime.session() as session:
        statuses = session.scalars(select(Subscriber.status)).all()
    assert statuses == [SubscriberStatus.CONFIRMED]
    # The same key still unsubscribes a real id: only the payload was wrong.
    assert client.post(f"/unsubscribe/{signer.dumps(made.subscriber_id)}").status_code == 200
