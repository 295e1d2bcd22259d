"""`/metrics`: served without a token, labelled by route template so the series stay bounded."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db


def test_metrics_are_served_and_labelled_by_route_template(
    make_user: Callable[[], ApiUser], anonymous: httpx.Client
) -> None:
    user = make_user()
    user.client.get(f"/api/integrations/{uuid.uuid4()}")  # a 404 on a real route
    for _ in range(3):
        anonymous.get(f"/scanner/{uuid.uuid4().hex}")  # paths that match nothing

    scraped = anonymous.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.text
    assert 'route="/api/integrations/{integration_id:uuid}"' in text
    assert 'route="<unmatched>"' in text
    assert "/scanner/" not in text  # no series per random path
    assert "integration_db_pool_in_use" in text
    assert "isk_" not in text  # nothing secret-shaped in the labels
