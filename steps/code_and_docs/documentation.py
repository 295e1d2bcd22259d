"""Steps of the documentation items (DOC-01..DOC-06): README.md and INTEGRATIONS.md held against the
stage's own API schema and the checkout's files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_bdd import given, parsers, then

from steps.common import World, describe

_DOC_ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) `?(/api/[^\s`?\[\]()|,]*)")
_HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _doc(world: World, name: str) -> str:
    return (world.target.project_root / name).read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """`## ` headings of a Markdown file and their text (up to the next `## `)."""
    parts = re.split(r"^## +(.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _provider_section(world: World, provider: str) -> str | None:
    key = provider.replace(" ", "").casefold()
    for heading, body in _sections(_doc(world, "INTEGRATIONS.md")).items():
        if heading.replace(" ", "").casefold().startswith(key):
            return body
    return None


@dataclass(frozen=True)
class ApiSchema:
    """What the docs are held against: the service's integration types and its operations."""

    providers: list[str]  # IntegrationType's values
    operations: list[tuple[str, str]]  # (METHOD, path)


@given("the API schema of the stage's service", target_fixture="api_schema")
def read_api_schema(world: World) -> ApiSchema:
    response = world.client().get("/openapi.json")
    assert response.status_code == 200, f"the service publishes no API schema: {describe(response)}"
    schema = response.json()
    return ApiSchema(
        providers=schema["components"]["schemas"]["IntegrationType"]["enum"],
        operations=[
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method in item
            if method in _HTTP_METHODS
        ],
    )


@then("README.md names every integration type of the API schema")
def readme_names_providers(world: World, api_schema: ApiSchema) -> None:
    readme = _doc(world, "README.md").casefold()
    missing = [provider for provider in api_schema.providers if provider.casefold() not in readme]
    assert not missing, f"README.md does not mention these providers the service offers: {', '.join(missing)}"


@then("INTEGRATIONS.md has a section for every integration type of the API schema")
def integrations_sections(world: World, api_schema: ApiSchema) -> None:
    missing = [provider for provider in api_schema.providers if _provider_section(world, provider) is None]
    assert not missing, f"INTEGRATIONS.md has no `## ` section for: {', '.join(missing)}"


@then("every provider section of INTEGRATIONS.md says how to connect and what is synced or done")
def provider_sections_complete(world: World, api_schema: ApiSchema) -> None:
    gaps = []
    for provider in api_schema.providers:
        body = _provider_section(world, provider) or ""
        if not re.search(r"\*\*(Connect|Register|Create the key)", body) or "/api/integrations" not in body:
            gaps.append(f"{provider}: how to connect")
        if not re.search(r"\*\*(Synced|Act|Actions)", body):
            gaps.append(f"{provider}: what is synced or done")
    assert not gaps, "INTEGRATIONS.md sections lack: " + "; ".join(gaps)


def _segments_match(documented: str, actual: str, providers: set[str]) -> bool:
    """A documented route names an actual one: same segments, where a placeholder (`{id}`, `<name>`)
    matches another placeholder or a provider's name (`{provider}/connect` documents `xero/connect`)."""
    left, right = documented.rstrip("/").split("/"), actual.rstrip("/").split("/")
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        a_free, b_free = a.startswith(("{", "<")), b.startswith(("{", "<"))
        if a == b or (a_free and b_free) or (a_free and b in providers) or (b_free and a in providers):
            continue
        return False
    return True


def _documented_routes(world: World) -> list[tuple[str, str]]:
    text = _doc(world, "INTEGRATIONS.md") + "\n" + _doc(world, "README.md")
    return sorted(set(_DOC_ROUTE.findall(text)))


@then("every route named in INTEGRATIONS.md or README.md exists in the API schema")
def no_stale_routes(world: World, api_schema: ApiSchema) -> None:
    providers = {provider.casefold() for provider in api_schema.providers}
    # Only the service's own namespaces (`/api/health`, `/api/integrations`): the docs also quote the
    # providers' APIs (`GET /api/current-user` is BillionMail's), which are not the service's routes.
    namespaces = {"/".join(path.split("/")[:3]) for _, path in api_schema.operations}
    stale = [
        f"{method} {path}"
        for method, path in _documented_routes(world)
        if "/".join(path.split("/")[:3]) in namespaces
        and not any(m == method and _segments_match(path, p, providers) for m, p in api_schema.operations)
    ]
    assert not stale, f"the docs name routes the service does not have: {', '.join(stale)}"


@then("every operation of the API schema is documented with its method and path")
def every_operation_documented(world: World, api_schema: ApiSchema) -> None:
    providers = {provider.casefold() for provider in api_schema.providers}
    documented = _documented_routes(world)
    missing = [
        f"{method} {path}"
        for method, path in api_schema.operations
        if not any(m == method and _segments_match(p, path, providers) for m, p in documented)
    ]
    assert not missing, f"undocumented routes (name them as `METHOD /path` in INTEGRATIONS.md): {', '.join(missing)}"


@then(
    parsers.parse('the "{provider}" section of INTEGRATIONS.md tells how to register the webhook at "{route}"'),
    target_fixture="webhook_setup",
)
def webhook_setup_documented(world: World, provider: str, route: str) -> str:
    body = _provider_section(world, provider)
    assert body is not None, f"INTEGRATIONS.md has no {provider} section"
    assert "**Register the webhook**" in body, f"the {provider} section has no 'Register the webhook' part"
    setup = body.split("**Register the webhook**", 1)[1].split("\n\n", 1)[0]
    assert f"{{PUBLIC_URL}}{route}" in setup, f"the webhook setup does not give the URL {{PUBLIC_URL}}{route}"
    return setup


@then(parsers.parse('it names the setting "{setting}" and every event the checklist lists: {events}'))
def webhook_setting_and_events(webhook_setup: str, setting: str, events: str) -> None:
    setup = webhook_setup
    assert setting in setup, f"the webhook setup does not say to put the secret in {setting}"
    listed = re.sub(r"`", "", setup)
    # PayPal's list abbreviates the family after its first member: `BILLING.SUBSCRIPTION.CREATED`, `.CANCELLED`.
    missing = [
        event
        for event in (e.strip() for e in events.split(","))
        if event not in listed and "." + event.rsplit(".", 1)[-1] not in listed
    ]
    assert not missing, f"the webhook setup does not list these events: {', '.join(missing)}"


@then(parsers.parse('"{route}" is a POST route of the API schema'))
def webhook_route_exists(world: World, route: str, api_schema: ApiSchema) -> None:
    assert ("POST", route) in api_schema.operations, f"the service has no POST {route}"


@then(
    parsers.parse(
        "every provider section of INTEGRATIONS.md has a troubleshooting table of at least {rows:d} symptoms "
        "with their causes and fixes"
    )
)
def troubleshooting_tables(world: World, rows: int, api_schema: ApiSchema) -> None:
    short = []
    for provider in api_schema.providers:
        body = _provider_section(world, provider) or ""
        table = body.split("| Symptom | Cause | Fix |", 1)
        entries = [line for line in table[1].splitlines()[2:] if line.startswith("|")] if len(table) == 2 else []
        if len(entries) < rows:
            short.append(f"{provider} ({len(entries)})")
    assert not short, f"troubleshooting tables (| Symptom | Cause | Fix |) with fewer than {rows} rows: {short}"


_GUIDE_HEADING = "Adding an eighth integration"
_GUIDE_STEPS = {
    "provider module": r"src/integration_service/providers/",
    "sandbox simulator": r"src/provider_sandbox/",
    "tables and migration": r"db/migrations/versions/|alembic",
    "routes": r"src/integration_service/api/",
    "scenarios": r"features/.*\.feature|steps/",
    "documentation": r"INTEGRATIONS\.md",
}


@then("INTEGRATIONS.md has a development guide for adding an integration", target_fixture="guide")
def guide_exists(world: World) -> str:
    sections = _sections(_doc(world, "INTEGRATIONS.md"))
    guide = next((body for heading, body in sections.items() if heading.startswith(_GUIDE_HEADING)), None)
    assert guide is not None, f"INTEGRATIONS.md has no '## {_GUIDE_HEADING}' section"
    return guide


@then(parsers.re(r"the guide has a step for each of: (?P<steps>.+)$"))
def guide_steps(guide: str, steps: str) -> None:
    numbered = re.split(r"^### ", guide, flags=re.MULTILINE)[1:]
    missing = []
    for step in (s.strip() for s in steps.split(",")):
        pattern = re.compile(_GUIDE_STEPS[step])
        if not any(pattern.search(part) and step.split()[0] in part.split("\n", 1)[0].casefold() for part in numbered):
            missing.append(step)
    assert not missing, f"the guide has no `### ` step that covers: {', '.join(missing)}"


@then("every file or folder of the project that the guide names exists in the checkout")
def guide_paths_exist(world: World, guide: str) -> None:
    root = world.target.project_root
    named = set(re.findall(r"`((?:src|steps|features|tests|load|contract|fixtures)/[^`\s]*)`", guide))
    named |= set(re.findall(r"`([A-Za-z_]+\.(?:md|py|toml|ini))`", guide))
    # `<name>` marks a file the reader creates; everything else must be there to be read or edited.
    missing = sorted(path for path in named if "<" not in path and not (root / path).exists())
    assert len(named) >= 10, f"the guide names only {len(named)} files: it should point at the real ones"
    assert not missing, f"the guide names files that do not exist: {', '.join(missing)}"
