"""Steps of the environment variables items (ENV-01..ENV-05), and the reading of the stage's timeout
settings that the performance item PERF-04 bounds.

What the service's code declares (its settings) is asked of the checkout in a child process, never
imported; `.env.example` and the stage's env file are read as files; a service instance is started to see
which settings it refuses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pytest_bdd import given, parsers, then, when

from harness.core.processes import ServerStartError
from harness.core.settings import StageSettings, stage_env_file
from harness.core.stages import parse_stage
from steps.common import World, describe
from steps.support.pre_deployment import start_service_instance

# Asked of the checkout in a child process: `steps/` never imports the service.
_SETTINGS_DRIVER = """
import json, sys, typing
from pydantic import SecretStr
from integration_service.settings import Settings

def secret(annotation):
    return annotation is SecretStr or any(secret(argument) for argument in typing.get_args(annotation))

if sys.argv[1] == "fields":
    prefix = str(Settings.model_config.get("env_prefix", ""))
    fields = {(prefix + name).upper(): secret(f.annotation) for name, f in Settings.model_fields.items()}
    print(json.dumps(fields))
else:
    try:
        settings = Settings(_env_file=None)
    except Exception as exc:
        print(json.dumps({"refused": str(exc)}))
    else:
        print(json.dumps({"refused": None}))
"""
_ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
_DEVELOPMENT_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcmVhbC11c2U="  # the public key the example file documents
# What a staging or production deployment needs beyond what the service refuses to start without:
# the database, the OAuth apps of the accounting providers, the payment webhooks' secrets, and the
# address the harness reaches it at.
REQUIRED_OUTSIDE_LOCAL = (
    "DATABASE_URL",
    "ENCRYPTION_KEYS",
    "PUBLIC_URL",
    "CORS_ALLOWED_ORIGINS",
    "SERVICE_URL",
    "XERO_CLIENT_ID",
    "XERO_CLIENT_SECRET",
    "MYOB_CLIENT_ID",
    "MYOB_CLIENT_SECRET",
    "QUICKBOOKS_CLIENT_ID",
    "QUICKBOOKS_CLIENT_SECRET",
    "STRIPE_WEBHOOK_SECRETS",
    "PAYPAL_WEBHOOK_ID",
)


def _settings_driver(world: World, *arguments: str, env: Mapping[str, str] | None = None) -> Any:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(world.target.project_root / "src")}
    with tempfile.TemporaryDirectory() as empty:  # no `.env` in the working directory can speak
        run = subprocess.run(  # noqa: S603 - this Python, a fixed program
            [sys.executable, "-c", _SETTINGS_DRIVER, *arguments],
            env={**base, **(env or {})},
            cwd=empty,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, f"could not read the checkout's settings: {run.stderr[-1500:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def _example_file(world: World) -> dict[str, tuple[str, bool]]:
    """Each variable .env.example documents: its value, and whether the comment block above says SENSITIVE."""
    found: dict[str, tuple[str, bool]] = {}
    block: list[str] = []
    for line in (world.target.project_root / ".env.example").read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            found[match.group(1)] = (match.group(2).strip(), any("SENSITIVE" in comment for comment in block))
            block = []
        elif line.startswith("#"):
            block.append(line)
        else:
            block = []
    return found


def _declared_settings(world: World) -> dict[str, bool]:
    """Every variable a stage reads (the service's settings and the harness's own), and whether it is secret."""
    service: dict[str, bool] = _settings_driver(world, "fields")
    fields = StageSettings.model_fields.items()
    operations = {name.upper(): _is_secret_field(field.annotation) for name, field in fields}
    return {**{name: secret for name, secret in operations.items() if name not in service}, **service}


def _is_secret_field(annotation: object) -> bool:
    return "SecretStr" in repr(annotation)


@dataclass(frozen=True)
class ListedSettings:
    """The settings the checkout declares (name: is it a secret) and those `.env.example` documents
    (name: (value, marked SENSITIVE))."""

    declared: dict[str, bool]
    documented: dict[str, tuple[str, bool]]


@when("the settings of the checkout's service are listed", target_fixture="listed_settings")
def list_declared_settings(world: World) -> ListedSettings:
    return ListedSettings(declared=_declared_settings(world), documented=_example_file(world))


@then("every setting is documented in the example env file")
def every_setting_documented(listed_settings: ListedSettings) -> None:
    missing = sorted(set(listed_settings.declared) - set(listed_settings.documented))
    assert not missing, f"settings missing from .env.example: {', '.join(missing)}"


@then("the example env file documents no setting that nothing reads")
def nothing_stray_documented(listed_settings: ListedSettings) -> None:
    stray = sorted(set(listed_settings.documented) - set(listed_settings.declared))
    assert not stray, f".env.example documents variables no setting reads: {', '.join(stray)}"


@then("every secret setting is marked SENSITIVE in the example env file")
def secrets_marked(listed_settings: ListedSettings) -> None:
    documented = listed_settings.documented
    secrets = [name for name, secret in listed_settings.declared.items() if secret]
    unmarked = sorted(name for name in secrets if not documented.get(name, ("", False))[1])
    assert secrets, "the checkout's settings declare no secret: the settings were not read"
    assert not unmarked, f"mark these '# SENSITIVE' in .env.example: {', '.join(unmarked)}"


@then(parsers.re(r"the settings marked SENSITIVE include (?P<names>.+)$"))
def marked_include(listed_settings: ListedSettings, names: str) -> None:
    marked = {name for name, (_, sensitive) in listed_settings.documented.items() if sensitive}
    wanted = re.findall(r'"([A-Z_]+)"', names)
    assert set(wanted) <= marked, f"not marked SENSITIVE: {sorted(set(wanted) - marked)}"


@then("every secret in the example env file is empty or the public development key")
def example_secrets_are_placeholders(world: World) -> None:
    documented = _example_file(world)
    declared = _declared_settings(world)
    real = [
        name
        for name, (value, _) in documented.items()
        if declared.get(name) and value not in ("", _DEVELOPMENT_KEY) and not _local_address(value)
    ]
    assert not real, f".env.example holds values for secrets (keep them empty there): {', '.join(real)}"


def _local_address(value: str) -> bool:
    """A URL of a server on this machine with no password in it: an example, not a credential."""
    url = httpx.URL(value) if "://" in value else None
    return url is not None and url.host in ("127.0.0.1", "localhost") and not url.password


def _settings_problems(world: World, stage: str, values: Mapping[str, str]) -> list[str]:
    """What keeps `values` from being a deployable `stage`: missing settings, and the service's own refusal."""
    required = list(REQUIRED_OUTSIDE_LOCAL)
    if values.get("MAUTIC_BASE_URL"):
        required += ["MAUTIC_CLIENT_ID", "MAUTIC_CLIENT_SECRET"]
    problems = [f"{name} is not set" for name in required if not values.get(name, "").strip()]
    if stage == "production" and values.get("PAYPAL_MODE", "sandbox") != "live":
        problems.append("PAYPAL_MODE must be live in production")
    service_env = {name: value for name, value in values.items() if name != "STAGE"}
    refused = _settings_driver(world, "validate", env={**service_env, "STAGE": stage})["refused"]
    if refused:
        problems.append(f"the service refuses them: {refused}")
    return problems


def _complete_settings(world: World, stage: str) -> dict[str, str]:
    host = "crm.example.com"
    values = {
        "DATABASE_URL": world.target.database_url or "postgresql://qa@db.example:5432/integrations",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": f"https://{host}",
        "CORS_ALLOWED_ORIGINS": f"https://app.{host}",
        "SERVICE_URL": f"https://{host}",
        "STRIPE_WEBHOOK_SECRETS": "whsec_" + uuid.uuid4().hex,
        "PAYPAL_WEBHOOK_ID": uuid.uuid4().hex[:17].upper(),
        "PAYPAL_MODE": "live" if stage == "production" else "sandbox",
    }
    for provider in ("XERO", "MYOB", "QUICKBOOKS"):
        values[f"{provider}_CLIENT_ID"] = f"qa-{provider.lower()}-client"
        values[f"{provider}_CLIENT_SECRET"] = uuid.uuid4().hex
    return values


@dataclass
class StageValues:
    """A set of settings for a stage, which later steps change and check."""

    stage: str
    values: dict[str, str]


@given(parsers.parse('a complete set of "{stage}" settings'), target_fixture="stage_values")
def complete_settings(world: World, stage: str) -> StageValues:
    return StageValues(stage, _complete_settings(world, stage))


def read_stage_settings(world: World, stage: str) -> dict[str, str]:
    """The stage's settings as the runner's environment and env file hold them (PERF-04's timeouts)."""
    env_file = stage_env_file(parse_stage(stage), world.target.project_root)
    from_file = {k: v or "" for k, v in dotenv_values(env_file).items()} if env_file.exists() else {}
    names = set(_declared_settings(world)) | set(from_file)
    values = {**from_file, **{name: os.environ[name] for name in names if name in os.environ}}
    return values


@then(parsers.parse('the settings check accepts them for "{stage}"'))
def settings_check_accepts(world: World, stage_values: StageValues, stage: str) -> None:
    problems = _settings_problems(world, stage, stage_values.values)
    assert not problems, f"the {stage} settings are not complete: " + "; ".join(problems)


@then(parsers.parse('the settings check refuses the example env file\'s values for "{stage}"'))
def example_refused(world: World, stage: str) -> None:
    values = {name: value for name, (value, _) in _example_file(world).items()}
    problems = _settings_problems(world, stage, values)
    assert any("development key" in problem for problem in problems), (
        f"the example file's values were not refused for {stage}: {problems}"
    )


@when(parsers.re(r'"(?P<first>[A-Z_]+)" and "(?P<second>[A-Z_]+)" are left out of them$'))
def leave_out_settings(stage_values: StageValues, first: str, second: str) -> None:
    stage_values.values = {k: v for k, v in stage_values.values.items() if k not in (first, second)}


@when(parsers.parse('"{name}" is set to "{value}" in them'))
def set_setting(stage_values: StageValues, name: str, value: str) -> None:
    stage_values.values = {**stage_values.values, name: value}


@then(
    parsers.re(r'the settings check refuses them for "(?P<stage>\w+)", naming "(?P<first>\w+)" and "(?P<second>\w+)"$')
)
def settings_check_refuses(world: World, stage_values: StageValues, stage: str, first: str, second: str) -> None:
    problems = "; ".join(_settings_problems(world, stage, stage_values.values))
    assert problems, f"an incomplete set of {stage} settings was accepted"
    for name in (first, second):
        assert name in problems, f"the refusal does not name {name}: {problems}"


@then(parsers.parse('the service starts with them as "{stage}"'))
def service_starts(world: World, request: pytest.FixtureRequest, stage_values: StageValues, stage: str) -> None:
    values = {k: v for k, v in stage_values.values.items() if k != "DATABASE_URL"}
    process = start_service_instance(world, request, {**values, "STAGE": stage})
    health = world.client(base_url=process.url).get("/api/health")
    assert health.status_code == 200, f"the service started as {stage} is not healthy: {describe(health)}"
    process.stop()


@dataclass(frozen=True)
class UnsafeStart:
    """A start with unsafe settings: the refusals the table expects, and the start's error (None: it started)."""

    expected_refusals: list[str]
    refusal: str | None


@when(parsers.parse('the service is started as "{stage}" with these unsafe values:'), target_fixture="unsafe_start")
def start_service_unsafe(
    world: World, request: pytest.FixtureRequest, stage_values: StageValues, stage: str, datatable: list[list[str]]
) -> UnsafeStart:
    values = {k: v for k, v in stage_values.values.items() if k != "DATABASE_URL"}
    unsafe = {setting: value for setting, value, _ in datatable[1:]}
    expected_refusals = [refusal for _, _, refusal in datatable[1:]]
    # One start with every unsafe value: the service names all of its problems at once.
    try:
        start_service_instance(world, request, {**values, "STAGE": stage, **unsafe})
    except ServerStartError as exc:
        return UnsafeStart(expected_refusals, str(exc))
    return UnsafeStart(expected_refusals, None)


@then("the service refuses to start, giving every refusal of the table")
def service_refused(unsafe_start: UnsafeStart) -> None:
    refusal = unsafe_start.refusal
    assert refusal is not None, "the service started with unsafe settings"
    missing = [message for message in unsafe_start.expected_refusals if message not in refusal]
    assert not missing, f"the service refused, but did not say {missing}:\n{refusal[-1500:]}"


# --- the stage's timeout settings (PERF-04, features/performance.feature) -------------------------


@when("the timeout settings of the stage are read", target_fixture="timeout_settings")
def read_timeout_settings(world: World) -> dict[str, str]:
    documented = {name: value for name, (value, _) in _example_file(world).items()}
    if world.target.stage == "local":
        return documented  # the local stage runs the documented defaults
    return {**documented, **read_stage_settings(world, world.target.stage)}


@then("every timeout setting is set and within its bound")
def timeouts_bounded(timeout_settings: dict[str, str], datatable: list[list[str]]) -> None:
    values = timeout_settings
    for name, bound in datatable[1:]:
        raw = values.get(name, "")
        assert raw, f"{name} is not set"
        assert 0 < float(raw) <= float(bound), f"{name}={raw}: expected more than 0 and at most {bound} seconds"
