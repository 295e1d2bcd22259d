"""Steps of the weekly and monthly checks: the reports built from a scratch database (`harness.ops.periodic_checks`),
the monthly dependency audit, and the documentation of every route the service offers (MONTH-03).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from pytest_bdd import parsers, then, when

from harness.ops.common import Target
from harness.ops.periodic_checks import build_report
from steps.common import World, describe
from steps.support.accounting import Books, integration
from steps.support.lab import OpsLab, matches_table, stage_target
from steps.support.own_rows import StageReport, assert_covers, own_report

# The ordinary audit time bound is for MONTH-05; the other report scenarios are about the SQL sections.
SHORT_AUDIT_S = 0.01


# --- weekly and monthly reports ------------------------------------------------------------------------


@when(parsers.re(r"the (?P<period>weekly|monthly) report is built from the scratch database$"))
def report_from_scratch(ops: OpsLab, period: str) -> None:
    ops.facts.report = build_report(ops.current(), period, audit_timeout_s=SHORT_AUDIT_S)


def report_section(ops: OpsLab, section: str) -> list[dict[str, Any]]:
    report = ops.facts.report
    assert isinstance(report, dict), "no report was built in this scenario"
    sections: dict[str, list[dict[str, Any]]] = report["sections"]
    assert section in sections, f"the {report['period']} report has no section {section!r}: {list(sections)}"
    return sections[section]


@then(parsers.parse('the report section "{section}" shows:'))
def report_section_shows(ops: OpsLab, section: str, datatable: list[list[str]]) -> None:
    wanted, shown = matches_table(report_section(ops, section), datatable)
    assert shown == wanted, f"report section {section!r}: expected {wanted}, the report showed {shown}"


@then(parsers.parse('the first pattern of "{section}" is the most frequent one'))
def first_pattern_most_frequent(ops: OpsLab, section: str) -> None:
    counts = [int(row["count"]) for row in report_section(ops, section)]
    assert counts, f"the section {section!r} is empty"
    assert counts[0] == max(counts), f"expected the most frequent pattern first, got counts {counts}"


@then(parsers.parse("the token refresh success rate of {kind} is {rate:d} %"))
def refresh_success_rate(ops: OpsLab, kind: str, rate: int) -> None:
    rows = [
        row for row in report_section(ops, "token refresh success rate (7 days)") if row["integration_type"] == kind
    ]
    assert len(rows) == 1, f"expected one row for {kind}, got {rows}"
    syncs, failures = int(rows[0]["syncs"]), int(rows[0]["refresh_failures"])
    actual = round(100 * (syncs - failures) / syncs)
    assert actual == rate, f"expected a {rate} % refresh success rate for {kind}, the report gives {failures}/{syncs}"


@then(
    parsers.parse(
        "the sync performance trend for {kind} in the week of the syncs {age} ago shows {syncs:d} syncs, "
        "{avg:d} ms on average, {p95:d} ms at the 95th percentile"
    )
)
def trend_week(ops: OpsLab, kind: str, age: str, syncs: int, avg: int, p95: int) -> None:
    with ops.sql() as connection:
        row = connection.execute("SELECT date_trunc('week', now() - %s::interval)::date::text", [age]).fetchone()
    assert row is not None
    week = str(row[0])
    section = report_section(ops, "sync performance trend (weekly, 30 days)")
    rows = [r for r in section if r["week"] == week and r["integration_type"] == kind]
    assert len(rows) == 1, f"expected one {kind} row for the week of {week}, the trend shows {section}"
    shown = (int(rows[0]["syncs"]), round(float(rows[0]["avg_ms"])), round(float(rows[0]["p95_ms"])))
    assert shown == (syncs, avg, p95), f"week of {week}: expected (syncs, avg, p95) {(syncs, avg, p95)}, got {shown}"


@then("the sync performance trend has no week older than 30 days")
def trend_window(ops: OpsLab) -> None:
    with ops.sql() as connection:
        row = connection.execute("SELECT date_trunc('week', now() - interval '30 days')::date::text").fetchone()
    assert row is not None
    old = [r for r in report_section(ops, "sync performance trend (weekly, 30 days)") if r["week"] < str(row[0])]
    assert old == [], f"weeks older than the 30-day window are in the trend: {old}"


# --- the reports on the stage, over the scenario's own evidence -------------------------------------------


@when(parsers.re(r"the (?P<period>weekly|monthly) report is built from the stage$"), target_fixture="stage_report")
def report_from_stage(world: World, period: str) -> StageReport:
    report = build_report(stage_target(world), period, audit_timeout_s=SHORT_AUDIT_S)
    return StageReport(report=report, own=own_report(world, period))


def stage_section(stage_report: StageReport, section: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the whole stage's rows, the scenario's own rows) of a section of the report built from the stage."""
    report = stage_report.report
    assert section in report["sections"], f"the {report['period']} report has no section {section!r}"
    return report["sections"][section], stage_report.own[section]


@then(parsers.parse('the report section "{section}" on the stage covers the scenario\'s own rows:'))
def stage_section_covers(world: World, stage_report: StageReport, section: str, datatable: list[list[str]]) -> None:
    stage, own = stage_section(stage_report, section)
    assert_covers(f"the report section {section!r}", stage, own, datatable)


def own_logs(world: World, books: Books, name: str) -> list[dict[str, Any]]:
    """The sync logs of the scenario's integration `name`, as its owner reads them through the service."""
    params = {"integrationId": integration(world, name)["id"]}
    answer = books.owner[name].client.get("/api/integrations/logs", params=params)
    assert answer.status_code == 200, describe(answer)
    logs: list[dict[str, Any]] = answer.json()["logs"]
    return logs


@then(
    parsers.re(
        r'the report\'s error patterns on the stage show the (?P<count>\d+) failures? of "(?P<name>[^"]+)"'
        r" as (?:its|their) sync logs? gives? (?:it|them), cut to 80 characters$"
    )
)
def error_pattern_of(world: World, stage_report: StageReport, books: Books, count: str, name: str) -> None:
    failed = [log for log in own_logs(world, books, name) if log["status"] in ("failed", "partial")]
    messages = {log["errorMessage"] for log in failed}
    assert len(failed) == int(count), f"expected {count} failures of {name}: {failed}"
    assert len(messages) == 1, f"expected the failures of {name} to say the same: {messages}"
    (message,) = messages
    assert len(message) > 80, f"the failure's message is too short to show the cut: {message!r}"
    kind = failed[0]["integrationType"]
    stage, own = stage_section(stage_report, "sync-log error patterns (7 days)")
    expected = {"integration_type": kind, "error": message[:80], "count": int(count)}
    assert [row for row in own if row["error"] == message[:80]] == [expected], f"own patterns: {own}"
    shown = [row for row in stage if row["error"] == message[:80]]
    assert shown == [expected], f"expected the pattern {expected} in the stage's report, which shows {stage}"


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))  # PostgreSQL's round() of a numeric


def percentile_cont(values: list[int], fraction: float) -> Decimal:
    ordered = sorted(values)
    position = Decimal(str(fraction)) * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


@then(
    parsers.re(
        r"the report's sync performance trend on the stage shows this week's (?P<kind>[A-Z]+) syncs of "
        r'"(?P<first>[^"]+)" and "(?P<second>[^"]+)" with the average and 95th percentile of their logged durations$'
    )
)
def trend_of_own_syncs(
    world: World, stage_report: StageReport, books: Books, kind: str, first: str, second: str
) -> None:
    durations = [int(log["durationMs"]) for name in (first, second) for log in own_logs(world, books, name)]
    assert len(durations) >= 2, f"expected the logged durations of several syncs: {durations}"
    expected = {
        "syncs": len(durations),
        "avg_ms": _round(Decimal(sum(durations)) / len(durations)),
        "p95_ms": _round(percentile_cont(durations, 0.95)),
    }
    with psycopg.connect(stage_target(world).database_url) as connection:
        row = connection.execute("SELECT date_trunc('week', now())::date::text").fetchone()
    assert row is not None
    week = str(row[0])
    stage, own = stage_section(stage_report, "sync performance trend (weekly, 30 days)")
    mine = [r for r in own if (r["week"], r["integration_type"]) == (week, kind)]
    assert len(mine) == 1, f"expected one {kind} row for the week of {week} over own rows: {own}"
    shown = {key: round(float(mine[0][key])) for key in expected}
    assert shown == expected, f"the week of {week} over own rows: expected {expected}, the report shows {mine[0]}"
    on_stage = [r for r in stage if (r["week"], r["integration_type"]) == (week, kind)]
    assert len(on_stage) == 1, f"expected one {kind} row for the week of {week} on the stage: {stage}"
    assert int(on_stage[0]["syncs"]) >= len(durations), (
        f"the stage's trend for {kind} in the week of {week} does not cover the scenario's {len(durations)} syncs: "
        f"{on_stage}"
    )


@when("the monthly report is built with its dependency audit")
def monthly_report_with_audit(ops: OpsLab) -> None:
    database_url = ops.world.target.database_url
    if database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the monthly report reads the stage's sync logs")
    ops.facts.report = build_report(Target(stage="local", database_url=database_url), "monthly")


@then("the dependency audit found no known vulnerability, or says clearly why it could not tell")
def audit_outcome(ops: OpsLab) -> None:
    report = ops.facts.report
    assert report is not None, "no report was built in this scenario"
    audit = report["vulnerabilities"]
    assert audit["status"] in ("passed", "failed", "unknown"), f"unexpected audit outcome {audit}"
    assert audit["status"] != "failed", f"known vulnerabilities in the dependencies: {audit['vulnerable']}"
    if audit["status"] == "unknown":
        assert len(audit.get("note", "")) > 20, f"the audit could not tell, and does not say why: {audit}"
        return
    # "passed" must mean something was audited: the report says "unknown" when pip-audit looked nothing up
    # (tests/harness/ops/test_reports.py holds it to that).
    assert audit["status"] == "passed", audit


# --- documentation (MONTH-03) ---------------------------------------------------------------------------


@when("the service's OpenAPI schema is read from the stage")
def read_openapi(world: World, ops: OpsLab) -> None:
    response = world.client().get("/openapi.json")
    assert response.status_code == 200, f"expected the OpenAPI schema: {describe(response)}"
    ops.facts.openapi = response.json()


_DOCUMENTED_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?[\s]*)[^`]*`")


_PLACEHOLDER = re.compile(r"\{[^}/]+\}|<[^>/]+>")


def documented_patterns(docs: str) -> list[tuple[str, re.Pattern[str]]]:
    """Each `METHOD /path` the documents name (and the shorthands and registered URLs), as a pattern."""
    patterns = []
    for line in docs.splitlines():
        routes = _DOCUMENTED_ROUTE.findall(line)
        for method, path in routes:
            patterns.append((method, path))
        # A shorthand sibling on the same line: "`GET /api/integrations/stripe/payments`, `/stripe/subscriptions`".
        for method, _ in routes[:1]:
            patterns += [(method, "/api/integrations" + tail) for tail in re.findall(r"`(/[a-z][^`?\s]*)`", line)]
        # A URL the provider or the browser is sent to: "`{PUBLIC_URL}/api/integrations/paypal/webhook`".
        patterns += [("*", path) for path in re.findall(r"\{PUBLIC_URL\}(/[^`?\s]*)", line)]
    return [(method, route_pattern(path)) for method, path in patterns]


def route_pattern(path: str) -> re.Pattern[str]:
    """`{provider}` (or `<name>`) stands for a provider's name; any other `{id}` for the route's own parameter."""
    pattern, position = "", 0
    for placeholder in _PLACEHOLDER.finditer(path):
        pattern += re.escape(path[position : placeholder.start()])
        provider = placeholder.group(0) == "{provider}" or placeholder.group(0).startswith("<")
        pattern += r"(?:[a-z]+|\{[^}/]+\})" if provider else r"\{[^}/]+\}"
        position = placeholder.end()
    return re.compile(pattern + re.escape(path[position:]))


def documented(method: str, path: str, patterns: list[tuple[str, re.Pattern[str]]]) -> bool:
    return any(kind in (method, "*") and pattern.fullmatch(path) for kind, pattern in patterns)


@then("every route of the schema is documented in INTEGRATIONS.md or README.md")
def routes_documented(world: World, ops: OpsLab) -> None:
    root = world.target.project_root
    docs = (root / "INTEGRATIONS.md").read_text(encoding="utf-8") + (root / "README.md").read_text(encoding="utf-8")
    methods = ("get", "post", "put", "patch", "delete")
    routes = [
        (method.upper(), path)
        for path, operations in ops.facts.openapi["paths"].items()
        for method in operations
        if method in methods
    ]
    assert routes, "the OpenAPI schema lists no routes"
    patterns = documented_patterns(docs)
    missing = [f"{method} {path}" for method, path in routes if not documented(method, path, patterns)]
    assert missing == [], f"routes the service offers that no document describes: {missing}"


@then("every integration type the service accepts has its own section in INTEGRATIONS.md")
def integration_types_documented(world: World, ops: OpsLab) -> None:
    schemas = ops.facts.openapi.get("components", {}).get("schemas", {})
    kinds = schemas.get("IntegrationType", {}).get("enum", [])
    assert kinds, f"the OpenAPI schema names no IntegrationType enum: {sorted(schemas)[:20]}"
    headings = [
        line.removeprefix("## ").casefold()
        for line in (world.target.project_root / "INTEGRATIONS.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    ]
    missing = [kind for kind in kinds if not any(heading.startswith(kind.casefold()) for heading in headings)]
    assert missing == [], f"integration types without a section in INTEGRATIONS.md: {missing} (sections: {headings})"
