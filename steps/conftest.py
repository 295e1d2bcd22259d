"""The checklist scenarios' pytest configuration: the step modules (each imported once, here, by area:
steps/<area>/ holds the steps of features/<area>/, steps/support/ what they share) and the tags a scenario
may carry, registered as markers so that `--strict-markers` rejects a misspelt one."""

from __future__ import annotations

import pytest

from harness.core.checklist import load_checklist
from harness.core.features import known_tags

pytest_plugins = [
    # the scenario's world, its users and the shared steps
    "harness.gates.scenario_results",
    "steps.common",
    # support with steps or fixtures of its own (the payments' webhook answers, the operations lab's fixtures, the
    # security scenarios' canary trail)
    "steps.support.payments",
    "steps.support.lab",
    "steps.support.security",
    "steps.support.openapi",
    "steps.support.accounting",
    # code_and_docs
    "steps.code_and_docs.code_quality",
    "steps.code_and_docs.environment",
    "steps.code_and_docs.config_report",
    "steps.code_and_docs.documentation",
    # api_and_database
    "steps.api_and_database.database",
    "steps.api_and_database.api_testing",
    # performance_and_load
    "steps.performance_and_load.performance",
    "steps.performance_and_load.load_measurements",
    # providers
    "steps.providers.accounting_connect",
    "steps.providers.accounting_checks",
    "steps.providers.stripe_integration",
    "steps.providers.paypal_integration",
    "steps.providers.paypal_orders",
    "steps.providers.paypal_webhooks",
    "steps.providers.paypal_live_webhooks",
    "steps.providers.billionmail",
    "steps.providers.mautic",
    "steps.providers.integration_testing",
    "steps.providers.integration_isolation",
    "steps.providers.sync_races",
    "steps.providers.sync_workers",
    "steps.providers.webhook_forgery",
    # security
    "steps.security.secrets_https_cors",
    "steps.security.attacks",
    "steps.security.security_testing_leaks",
    "steps.security.security_testing_access",
    "steps.security.edge_protection",
    "steps.security.input_limits",
    # operations
    "steps.operations.staging_procedures",
    "steps.operations.monitoring",
    "steps.operations.weekly_monthly_checks",
    "steps.operations.migrations_backups",
    "steps.operations.deployments",
    "steps.operations.smoke_tests",
    "steps.operations.release_signoffs",
    "steps.operations.production_readiness",
    "steps.operations.release_rollback",
    "steps.operations.integration_issues",
    "steps.operations.ops_evidence",
]


def pytest_configure(config: pytest.Config) -> None:
    for tag in sorted(known_tags(load_checklist())):
        config.addinivalue_line("markers", f"{tag}: a checklist id, stage, provider or need carried by a scenario")
