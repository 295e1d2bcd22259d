"""The gate's first step: is there anything sensible to test? When preflight fails, no other gate runs.

Every stage: the checklist catalogue and the features agree (every id carried by a scenario, no unknown
tag, no scenario without a stage). Staging and production: the stage's settings are complete (env or
`.env.<stage>`), its service is reached over HTTPS, and its gate store (sign-offs, gate results) answers;
production: every sign-off of the commit is recorded there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness.core.checklist import load_checklist
from harness.core.features import (
    FEATURES_DIR,
    known_tags,
    read_scenarios,
    scenarios_without_stage,
    unknown_tags,
    untagged_ids,
)
from harness.core.settings import stage_settings
from harness.core.stages import ALL_STAGES, Stage
from harness.gates.base import GateContext, GateResult
from harness.ops import gate_store
from harness.ops.common import OpsError, Target, git_sha
from harness.ops.signoff import missing_signoffs

# What the gate needs from a deployed stage, and why (shown when one is missing).
REQUIRED_REMOTE_SETTINGS = {
    "SERVICE_URL": "the scenarios and the smoke checks call the stage's service there",
    "DATABASE_URL": "the database items inspect the live schema; each scenario creates its own user",
    "STRIPE_WEBHOOK_SECRETS": "genuine Stripe events are signed with the stage's endpoint secret",
}


@dataclass(frozen=True)
class PreflightGate:
    name: str = "preflight"
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ()
    features_dir: Path = FEATURES_DIR

    def run(self, context: GateContext) -> GateResult:
        problems = feature_problems(self.features_dir)
        if context.stage != "local":
            problems += stage_setting_problems(context.stage, context.project_root)
            problems += gate_store_problems(context.stage, context.project_root)
        if problems:
            return GateResult("failed", "not ready to test:\n" + "\n".join(f"- {problem}" for problem in problems))
        checked = "catalogue and features agree"
        if context.stage != "local":
            checked += f"; {context.stage} settings complete, service over HTTPS"
        return GateResult("passed", checked)


def feature_problems(features_dir: Path = FEATURES_DIR) -> list[str]:
    items = load_checklist()
    scenarios = read_scenarios(features_dir)
    problems = [f"no scenario carries checklist id {item_id}" for item_id in untagged_ids(scenarios, items)]
    problems += [f"unknown tag {where}" for where in unknown_tags(scenarios, known_tags(items))]
    problems += [f"scenario with no stage tag: {where}" for where in scenarios_without_stage(scenarios)]
    return problems


def stage_setting_problems(stage: Stage, project_root: Path) -> list[str]:
    settings = stage_settings(stage, project_root)
    present = {
        "SERVICE_URL": bool(settings.service_url),
        "DATABASE_URL": settings.database_url is not None,
        "STRIPE_WEBHOOK_SECRETS": settings.stripe_webhook_secrets is not None,
    }
    problems = [
        f"{name} is not set for {stage} ({why}): export it or put it in .env.{stage}"
        for name, why in REQUIRED_REMOTE_SETTINGS.items()
        if not present[name]
    ]
    if settings.service_url and urlsplit(settings.service_url).scheme != "https":
        problems.append(
            f"SERVICE_URL must use https outside the local stage (it is {urlsplit(settings.service_url).scheme}://…)"
        )
    return problems


def gate_store_problems(stage: Stage, project_root: Path) -> list[str]:
    """The stage's gate store must answer; production also needs every sign-off of the commit in it."""
    url = gate_store.gate_store_url(stage, project_root)
    if url is None:
        return []  # no DATABASE_URL: stage_setting_problems names it
    try:
        gate_store.ensure(url)
        if stage != "production":
            return []
        sha = git_sha(project_root)
        missing = missing_signoffs(Target(stage=stage, database_url="", gate_store_url=url), sha)
    except OpsError as exc:
        return [str(exc)]
    if missing:
        return [
            f"sign-offs missing for {sha[:10]} in production's gate store: {', '.join(missing)} "
            "(`invoke signoff --stage production --role ROLE`)"
        ]
    return []
