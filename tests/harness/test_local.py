"""`invoke up` underneath: the stack in the foreground, stopped cleanly by Ctrl-C or by its own death."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from harness.core.database import drop_database
from harness.stack.dev import PortInUseError, ensure_port_free, printable_url, run_in_foreground
from harness.stack.local import LocalStack, sandbox_process

# e2e: starts whole local stacks of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e


def test_a_taken_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* pass --port"):
            ensure_port_free(port)


def test_printed_database_urls_hide_the_password() -> None:
    shown = printable_url("postgresql://app:s3cret-pass@db.example:5432/integrations")
    assert "s3cret-pass" not in shown
    assert shown == "postgresql://app:***@db.example:5432/integrations"


@pytest.fixture
def stack(database_server_url: str, tmp_path: Path) -> Iterator[LocalStack]:
    name = f"test_up_{uuid.uuid4().hex[:10]}"
    # user_env={}: the developer's provider settings (environment, .env) must not move a test's stack off the sandbox.
    yield LocalStack(state_dir=tmp_path, database_name=name, external_database_url=database_server_url, user_env={})
    drop_database(database_server_url, name)


def when_up(stack: LocalStack, action: Callable[[], None]) -> threading.Thread:
    """Run `action` once the service answers (from another thread, as a user at the terminal would)."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if stack.info is not None:
                action()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def up_until_ctrl_c(stack: LocalStack, output: io.StringIO, action: Callable[[], None]) -> int:
    """`invoke up` on `stack`: once it is up, `action`, then Ctrl-C (also when `action` failed, which the test
    then sees in what the action recorded); the foreground run's exit code."""

    def act_then_press_ctrl_c() -> None:
        try:
            action()
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    # Python ignores SIGINT for good when it starts with SIGINT ignored (a background job of a shell without job
    # control): then the Ctrl-C below would never arrive and the run would wait for ever. Handle it as a terminal would.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        thread = when_up(stack, act_then_press_ctrl_c)
        code = run_in_foreground(stack, Console(file=output, width=200))
        thread.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)
    return code


@pytest.mark.db
def test_ctrl_c_stops_the_stack_and_counts_as_success(stack: LocalStack, tmp_path: Path) -> None:
    output = io.StringIO()
    seen: dict[str, object] = {}

    def look() -> None:
        assert stack.info is not None
        seen["health"] = httpx.get(stack.info.service_url + "/api/health", timeout=10).status_code
        seen["stack.json"] = (tmp_path / "stack.json").exists()

    code = up_until_ctrl_c(stack, output, look)

    assert code == 0
    assert seen == {"health": 200, "stack.json": True}
    assert stack.service is not None
    assert stack.service.process is not None
    assert stack.service.process.poll() is not None
    assert not (tmp_path / "stack.json").exists()
    printed = output.getvalue()
    assert "/api/health" in printed
    assert "/openapi.json" in printed
    assert "sandbox" in printed
    assert "Local stack stopped." in printed


@pytest.mark.db
def test_a_service_that_dies_ends_the_foreground_run_with_failure(stack: LocalStack) -> None:
    output = io.StringIO()

    def kill_service() -> None:
        assert stack.service is not None
        assert stack.service.process is not None
        os.killpg(stack.service.process.pid, signal.SIGKILL)

    thread = when_up(stack, kill_service)
    code = run_in_foreground(stack, Console(file=output, width=200))
    thread.join(10)

    assert code == 1
    assert "The service exited with code" in output.getvalue()


# The sandbox's default Stripe account and PayPal REST app (its README): each sandbox has them.
STRIPE_KEY = "sk_test_sandbox_default_51Sandbox"
PAYPAL_APP = {"apiKey": "sandbox-paypal-client", "apiSecret": "sandbox-paypal-secret"}
WEBHOOK_SECRET = "whsec_the-developers-own-endpoint"


def recorded(sandbox_url: str, provider: str, path_contains: str = "") -> list[dict[str, Any]]:
    """The requests a sandbox received for `provider` (its request log)."""
    params = {"provider": provider, "path_contains": path_contains}
    answer = httpx.get(f"{sandbox_url}/_sandbox/requests", params=params, timeout=30)
    answer.raise_for_status()
    requests: list[dict[str, Any]] = answer.json()
    return requests


def webhook_urls(sandbox_url: str, provider: str) -> list[str]:
    answer = httpx.get(f"{sandbox_url}/_sandbox/{provider}/webhooks", timeout=30)
    answer.raise_for_status()
    return [endpoint["url"] for endpoint in answer.json()]


@pytest.mark.db
def test_a_provider_set_in_the_environment_is_reached_there_and_the_others_in_the_stacks_sandbox(
    stack: LocalStack, tmp_path: Path
) -> None:
    """Stripe pointed (as by the environment or .env) at a second sandbox, standing in for Stripe's test mode:
    the sync worker calls Stripe there (a Stripe sync), the web process calls PayPal in the stack's own sandbox
    (creating a PayPal integration tests its credentials)."""
    output = io.StringIO()
    seen: dict[str, Any] = {}
    with sandbox_process(tmp_path / "elsewhere") as elsewhere:
        stack.user_env = {"STRIPE_API_BASE_URL": f"{elsewhere.url}/stripe", "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET}

        def use_both_providers() -> None:
            assert stack.info is not None
            own = stack.info.sandbox_url
            token = stack.issue_token("provider-elsewhere")
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=stack.info.service_url, headers=headers, timeout=90) as api:
                stripe = api.post(
                    "/api/integrations",
                    json={"integrationType": "STRIPE", "integrationName": "s", "apiKey": STRIPE_KEY},
                )
                paypal = api.post(
                    "/api/integrations", json={"integrationType": "PAYPAL", "integrationName": "p", **PAYPAL_APP}
                )
                seen["created"] = (stripe.status_code, paypal.status_code)
                sync = {"integrationId": stripe.json()["integration"]["id"], "dataType": "payments"}
                seen["synced"] = api.post("/api/integrations/sync", json=sync).status_code  # run by the worker
            seen["own sandbox"] = {name: len(recorded(own, name)) for name in ("stripe", "paypal")}
            seen["own webhooks"] = {name: webhook_urls(own, name) for name in ("stripe", "paypal")}

        code = up_until_ctrl_c(stack, output, use_both_providers)
        seen["elsewhere"] = {name: len(recorded(elsewhere.url, name)) for name in ("stripe", "paypal")}
        seen["charges listed elsewhere"] = len(recorded(elsewhere.url, "stripe", "/v1/charges"))

    assert code == 0
    assert seen["created"] == (201, 201)
    assert seen["synced"] == 200
    assert seen["own sandbox"]["stripe"] == 0, "Stripe was called in the stack's own sandbox"
    assert seen["own sandbox"]["paypal"] > 0
    assert seen["elsewhere"]["stripe"] > 0, "Stripe was not called where the environment points"
    assert seen["elsewhere"]["paypal"] == 0
    assert seen["charges listed elsewhere"] > 0  # the sync's pages, read by the worker
    # The developer's Stripe webhook is theirs to configure: the sandbox registered PayPal's only.
    assert seen["own webhooks"]["stripe"] == []
    assert len(seen["own webhooks"]["paypal"]) == 1
    assert stack.webhook_settings["STRIPE_WEBHOOK_SECRETS"] == WEBHOOK_SECRET
    printed = output.getvalue()
    assert f"Stripe      {elsewhere.url}/stripe" in printed
    assert "PayPal      sandbox" in printed
    assert "Stripe webhooks" in printed
    assert WEBHOOK_SECRET not in printed
