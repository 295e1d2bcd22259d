"""The first seven defects: what the checklist's own implementation got wrong."""

from tests.harness.defects import Defect

SEED_DEFECTS = (
    Defect(
        "stripe-signature-ignores-the-timestamp",
        "webhooks/stripe.py",
        # stripe-python checks the timestamp only when given a tolerance: None accepts any replay.
        (("secret.get_secret_value(), tolerance_s)", "secret.get_secret_value(), None)"),),
        "SEC-05",
    ),
    Defect(
        "paypal-webhook-not-verified",
        "api/paypal_webhook.py",
        (
            (
                "return paypal.verify(headers, body, settings, access.http)",
                'return paypal.Transmission(*(headers.get(name, "") for name in paypal.HEADERS))',
            ),
        ),
        "PAYPAL-05",
    ),
    Defect(
        "api-key-returned-on-create",
        "api/integrations.py",
        (
            (
                "    return IntegrationEnvelope(integration=IntegrationPublic.model_validate(dict(row)))\n\n\n"
                '@collection.get(\n    "",',
                "    public = IntegrationPublic.model_validate(dict(row)).model_dump(mode='json', by_alias=True)\n"
                "    key = payload.api_key.get_secret_value() if payload.api_key else None\n"
                "    from fastapi.responses import JSONResponse\n"
                "    return JSONResponse({'integration': {**public, 'apiKey': key}}, status_code=201)\n\n\n"
                '@collection.get(\n    "",',
            ),
        ),
        "SECT-02",
    ),
    Defect(
        "sync-reads-only-the-first-page",
        "providers/xero.py",
        (("            page += 1\n", "            return\n"),),
        "XERO-06",
    ),
    Defect(
        "refreshed-token-not-saved",
        "providers/tokens.py",
        ((".values(**fresh.columns(self.box), sync_error=None)", ".values(sync_error=None)"),),
        "XERO-04",
    ),
    Defect(
        "429-not-retried",
        "providers/http.py",
        (
            (
                "return response.status_code == 429 or response.status_code >= 500",
                "return response.status_code >= 500",
            ),
        ),
        "PERF-05",
    ),
    Defect(
        "logs-route-not-scoped-to-the-user",
        "db/sync_logs.py",
        (("conditions = [sync_logs.c.user_id == user_id, *where.conditions()]", "conditions = [*where.conditions()]"),),
        "INT-02",
    ),
)
