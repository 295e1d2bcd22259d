"""Load on a deployed stage (staging): the checklist's load test is against staging.

The profile's users are issued on the stage's database under names of this run, connect organisations
of the stage's provider sandbox (`SANDBOX_URL`: a stage with real providers has no organisations of 100
invoices to hand out), and are removed afterwards with everything they made, pass or fail. Production is
refused: a load run writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.core.stages import Stage, StageError
from harness.ops.targets import stage_target
from harness.stack.tokens import issue_tokens, remove_users

SANDBOX_STRIPE_KEY = "sk_test_sandbox_default_51Sandbox"  # the sandbox's default account (its README)


@contextmanager
def stage_load_setup(stage: Stage, users: int) -> Iterator[dict[str, Any]]:
    """The Locust setup document for `users` users of a deployed stage; the users are gone afterwards."""
    if stage == "production":
        raise StageError("invoke load refuses production: its users create integrations, sync and send webhooks")
    target = stage_target(stage)
    missing = [
        name
        for name, value in (
            ("SERVICE_URL", target.service_url),
            ("SANDBOX_URL", target.sandbox_url),
            ("STRIPE_WEBHOOK_SECRETS", target.stripe_webhook_secret),
        )
        if not value
    ]
    if missing:
        raise StageError(
            f"load on {stage} needs {', '.join(missing)}: its users connect organisations of the stage's provider "
            "sandbox and send Stripe events signed with the stage's endpoint secret"
        )
    names = [f"qa-load-{uuid.uuid4().hex[:8]}-{number}" for number in range(users)]
    tokens = issue_tokens(target.database_url, names, "load test")
    try:
        yield {
            "service_url": target.service_url,
            "sandbox_url": target.sandbox_url,
            "database_url": target.database_url,
            "stripe_webhook_secret": target.stripe_webhook_secret,
            "stripe_api_key": SANDBOX_STRIPE_KEY,
            "tokens": tokens,
        }
    finally:
        remove_users(target.database_url, names)
