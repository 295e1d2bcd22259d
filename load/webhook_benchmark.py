"""Time Stripe webhook processing end to end: N genuinely signed events posted to the real service.

    uv run python -m load.webhook_benchmark --events 1000

Starts its own stack, makes a Stripe charge through the service, then posts N distinct
`charge.succeeded` events about it, each signed with the endpoint secret exactly as Stripe signs
(HMAC-SHA256 of "t.body"), one after another, and prints latency percentiles of the service's answer
(verification, storing the event once, applying it, the webhook sync-log row).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from harness.core.paths import PROJECT_ROOT
from harness.stack.local import LocalStack
from load.stripe_events import charge_succeeded, sign_stripe

SANDBOX_KEY = "sk_test_sandbox_default_51Sandbox"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    options = parser.parse_args()
    stack = LocalStack(
        state_dir=Path(tempfile.mkdtemp(prefix="webhook-benchmark-")),
        database_name=f"bench_{uuid.uuid4().hex[:8]}",
        data_dir=PROJECT_ROOT / ".stack" / "pgdata-bench",
    )
    info = stack.start()
    try:
        secret = stack.webhook_settings["STRIPE_WEBHOOK_SECRETS"]
        headers = {"Authorization": f"Bearer {stack.issue_token('benchmark')}"}
        with httpx.Client(base_url=info.service_url, headers=headers, timeout=60) as api:
            created = api.post(
                "/api/integrations",
                json={"integrationType": "STRIPE", "integrationName": "bench", "apiKey": SANDBOX_KEY},
            )
            integration = created.json()["integration"]["id"]
            paid = api.post(
                "/api/integrations/stripe/payment-intents",
                json={"integrationId": integration, "amount": 1000, "currency": "usd", "paymentMethod": "pm_card_visa"},
            )
            charge = paid.json()["payment"]
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        with httpx.Client(base_url=info.service_url, timeout=60) as stripe_side:
            for number in range(options.events):
                event_id = f"evt_bench_{number}_{uuid.uuid4().hex[:8]}"
                payload = json.dumps(charge_succeeded(event_id, charge["stripeChargeId"])).encode()
                started = time.perf_counter()
                answer = stripe_side.post(
                    "/api/integrations/stripe/webhook",
                    content=payload,
                    headers={"Stripe-Signature": sign_stripe(payload, secret), "Content-Type": "application/json"},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                outcome: str = answer.json().get("outcome", f"HTTP {answer.status_code}")
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        report = {
            "events": options.events,
            "outcomes": outcomes,
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1),
        }
        print(json.dumps(report, indent=2))  # noqa: T201 - this script's output is its report
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
