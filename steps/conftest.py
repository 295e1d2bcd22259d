"""The checklist scenarios' pytest configuration: the step modules (each imported once, here) and the
tags a scenario may carry, registered as markers so that `--strict-markers` rejects a misspelt one."""

from __future__ import annotations

import pytest

from harness.core.checklist import load_checklist
from harness.core.features import known_tags

pytest_plugins = [
    "harness.gates.scenario_results",
    "steps.common",
    "steps.code_quality",
    "steps.database",
    "steps.environment",
    "steps.config_report",
    "steps.documentation",
    "steps.performance",
    "steps.accounting",
    "steps.payments_support",
    "steps.stripe_integration",
    "steps.paypal_integration",
    "steps.paypal_webhooks",
    "steps.paypal_live_webhooks",
    "steps.marketing",
    "steps.integration_testing",
    "steps.security_secrets_https_cors",
    "steps.security_attacks",
    "steps.security_testing",
    "steps.api_testing",
    "steps.operations_support",
    "steps.staging_procedures",
    "steps.monitoring",
    "steps.weekly_monthly_checks",
    "steps.migrations_backups",
    "steps.deployments",
    "steps.smoke_tests",
    "steps.release_signoffs",
    "steps.production_readiness",
    "steps.release_rollback",
    "steps.integration_issues",
    "steps.load_measurements",
    "steps.edge_protection",
    "steps.input_limits",
    "steps.sync_races",
    "steps.webhook_forgery",
    "steps.ops_evidence",
]


def pytest_configure(config: pytest.Config) -> None:
    for tag in sorted(known_tags(load_checklist())):
        config.addinivalue_line("markers", f"{tag}: a checklist id, stage, provider or need carried by a scenario")
