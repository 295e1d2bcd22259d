"""`POST /api/integrations/{id}/test` over real HTTP: one cheap authenticated call per provider, a clear
422 when the provider refuses (in BillionMail's case: inside an HTTP 200), and the key never shown."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from harness.core.processes import ServerProcess
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import fault
from tests.integration_service.marketing import BILLIONMAIL, SANDBOX_KEY, billionmail

pytestmark = pytest.mark.db


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.mark.parametrize("provider", ["xero", "myob", "quickbooks", "mautic"])
def test_oauth_connections_pass_the_test(user: ApiUser, connect: Connect, provider: str) -> None:
    integration = connect(user, provider)
    tested = user.client.post(f"/api/integrations/{integration['id']}/test")
    assert tested.status_code == 200, tested.text
    assert (tested.json()["ok"], tested.json()["provider"]) == (True, provider)


def test_a_billionmail_key_passes_then_fails_once_the_instance_refuses_it(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client
) -> None:
    integration = billionmail(user, sandbox.url)
    url = f"/api/integrations/{integration['id']}/test"
    assert user.client.post(url).status_code == 200
    # The key is changed to a wrong one (as when an admin deletes it in BillionMail).
    patched = user.client.patch(f"/api/integrations/{integration['id']}", json={"apiKey": "bm-deleted-key-0000"})
    assert patched.status_code == 200
    tested = user.client.post(url)
    assert tested.status_code == 422, tested.text
    assert tested.json()["error"]["code"] == "connection_failed"
    assert "billionmail refused the API key (code 401)" in tested.json()["error"]["message"]
    assert "bm-deleted-key-0000" not in tested.text
    assert SANDBOX_KEY not in tested.text


def test_a_billionmail_error_inside_http_200_is_a_failure_with_its_message(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client
) -> None:
    integration = billionmail(user, sandbox.url)
    message = "Your IP address is not on the API allow list"
    fault(sandbox_control, BILLIONMAIL, path="/current-user", kind="error", status=403, message=message)
    tested = user.client.post(f"/api/integrations/{integration['id']}/test")
    assert tested.status_code == 422, tested.text
    assert tested.json()["error"]["message"] == (
        f"the billionmail connection test failed: billionmail refused /api/current-user (code 403: {message})"
    )


def test_a_disabled_integration_is_not_tested(user: ApiUser, sandbox: ServerProcess) -> None:
    integration = billionmail(user, sandbox.url)
    user.client.patch(f"/api/integrations/{integration['id']}", json={"isActive": False}).raise_for_status()
    assert user.client.post(f"/api/integrations/{integration['id']}/test").status_code == 409


def test_an_unknown_integration_is_a_404(user: ApiUser) -> None:
    missing = user.client.post("/api/integrations/00000000-0000-0000-0000-000000000000/test")
    assert missing.status_code == 404
