"""The fuzz gate's reach table: per operation, the share of cases that got past 401/404/422/429, read
from a Schemathesis VCR cassette; an operation below the configured share fails the gate unless it is
named as an exception."""

from __future__ import annotations

import json
from pathlib import Path

from harness.gates.fuzz import FuzzOutcome
from harness.gates.fuzz_reach import ReachConfig, load_reach_config, read_cassette, write_reach

Case = (
    tuple[str, str, int | None] | tuple[str, str, int | None, str | None] | tuple[str, str, int | None, str | None, str]
)

SCHEMA = {
    "openapi": "3.1.0",
    "paths": {
        "/api/items": {"get": {}, "post": {}},
        "/api/items/logs": {"get": {}},
        "/api/items/{item_id}": {"get": {}, "parameters": []},
        "/api/items/{item_id}/children/{child_id}": {"delete": {}},
    },
}


FIELD_ERRORS = '{"error": {"code": "validation_failed", "details": [{"field": "body.name"}]}}'
PROVIDER_REFUSAL = '{"error": {"code": "provider_rejected", "message": "PLAN_STATUS_INVALID", "details": null}}'


def interaction(
    case_id: str, method: str, path: str, status: int | None, body: str | None = None, phase: str = "fuzzing"
) -> str:
    """One case as Schemathesis's VcrWriter writes it (only the fields the reach table reads matter); a
    422 lists field errors unless `body` says otherwise."""
    body = body or (FIELD_ERRORS if status == 422 else "{}")
    response = (
        "\n  response: null"
        if status is None
        else f"\n  response:\n    status:\n      code: '{status}'\n      message: \"X\"\n    elapsed: '0.01'"
        '\n    headers:\n      "content-type":\n      - "application/json"\n    body:\n'
        f"      encoding: 'utf-8'\n      string: {json.dumps(body)}\n    http_version: '1.1'"
    )
    return (
        f"\n- id: '{case_id}'\n  status: 'SUCCESS'\n  metadata: null\n  recorded_at: '2026-01-01T00:00:00'"
        f"\n  phase:\n    name: '{phase}'\n    data: {{}}"
        f"\n  checks: []\n  request:\n    uri: 'http://127.0.0.1:1{path}'\n    method: '{method}'\n    headers:\n"
        '      "Authorization":\n      - "[Filtered]"' + response
    )


def write_run(tmp_path: Path, cases: list[Case]) -> Path:
    header = "command: 'st run'\nrecorded_with: 'Schemathesis 4.0'\nseed: 1\nhttp_interactions:"
    body = "".join(interaction(f"c{n}", *case) for n, case in enumerate(cases))
    (tmp_path / "cassette.yaml").write_text(header + body, encoding="utf-8")
    (tmp_path / "openapi.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    return tmp_path


CASES: list[Case] = [
    # GET /api/items: 3 of 4 reached (a 429 is the limiter, not the operation)
    ("GET", "/api/items?limit=1", 200),
    ("GET", "/api/items", 200),
    ("GET", "/api/items", 500),
    ("GET", "/api/items", 429),
    # POST /api/items: 2 of 5 (422 invalid input, 401 no token, and a transport error reach nothing; a
    # 422 without field errors is the provider's refusal, after the operation's logic)
    ("POST", "/api/items", 201),
    ("POST", "/api/items", 422),
    ("POST", "/api/items", 422, PROVIDER_REFUSAL),
    ("POST", "/api/items", 401),
    ("POST", "/api/items", None),
    # the literal /logs is not /api/items/{item_id}
    ("GET", "/api/items/logs", 200),
    # GET /api/items/{item_id}: 1 of 10 reached, below 20 %
    ("GET", "/api/items/abc", 200),
    *[("GET", f"/api/items/x{n}", 404) for n in range(9)],
    # an empty and an encoded path parameter still name the operation: 409 is a domain answer
    ("DELETE", "/api/items//children/a%2Fb", 409),
    # a method the schema does not document: no operation's case
    ("TRACE", "/api/items", 405),
]


def test_the_cassette_is_read_as_method_path_and_status(tmp_path: Path) -> None:
    run = write_run(tmp_path, [*CASES[:2], ("POST", "/api/items", 422), ("POST", "/api/items", None)])
    assert read_cassette(run / "cassette.yaml") == [
        ("GET", "/api/items", 200, False, "fuzzing", None),
        ("GET", "/api/items", 200, False, "fuzzing", None),
        ("POST", "/api/items", 422, True, "fuzzing", "validation_failed"),
        ("POST", "/api/items", None, False, "fuzzing", None),
    ]


def test_a_refusal_by_error_code_is_not_reaching_whatever_its_status(tmp_path: Path) -> None:
    """A webhook's 400 for a signature that does not verify stops before the event is read; its 400 for an
    event it cannot read came after."""
    signature = '{"error": {"code": "invalid_signature", "message": "rejected", "details": null}}'
    unreadable = '{"error": {"code": "bad_request", "message": "not a Stripe event", "details": null}}'
    cases: list[Case] = [
        *[("POST", "/api/items", 400, signature) for _ in range(3)],
        ("POST", "/api/items", 400, unreadable),
    ]
    config = ReachConfig(unreached_statuses=frozenset({404}), unreached_codes=frozenset({"invalid_signature"}))
    table = write_reach(write_run(tmp_path, cases), config, partial=True)
    assert table is not None
    [webhook] = [op for op in table.operations if op.operation == "POST /api/items"]
    assert (webhook.cases, webhook.reached) == (4, 1)
    assert load_reach_config().unreached_codes == {"invalid_signature"}  # the gate's configuration


def test_a_stateful_chains_404_is_shown_but_not_counted(tmp_path: Path) -> None:
    """A step after its chain's DELETE answers 404 by right; generated identifiers' 404s still count."""
    cases: list[Case] = [
        ("GET", "/api/items/a", 200, None, "stateful"),
        *[("GET", f"/api/items/d{n}", 404, None, "stateful") for n in range(8)],
        ("GET", "/api/items/x", 404, None, "fuzzing"),
    ]
    table = write_reach(write_run(tmp_path, cases), ReachConfig(min_share=0.2))
    assert table is not None
    item = next(op for op in table.operations if op.operation == "GET /api/items/{item_id}")
    assert (item.cases, item.reached) == (2, 1)
    assert item.statuses == {"200": 1, "404": 1, "404 stateful": 8}


def test_reach_per_operation_counts_what_got_past_the_refusals(tmp_path: Path) -> None:
    table = write_reach(write_run(tmp_path, CASES), ReachConfig(min_share=0.2))
    assert table is not None
    by_name = {op.operation: op for op in table.operations}
    assert (by_name["GET /api/items"].cases, by_name["GET /api/items"].reached) == (4, 3)
    assert (by_name["POST /api/items"].cases, by_name["POST /api/items"].reached) == (5, 2)
    assert by_name["POST /api/items"].statuses == {"201": 1, "422": 2, "401": 1, "error": 1}
    assert (by_name["GET /api/items/logs"].cases, by_name["GET /api/items/logs"].reached) == (1, 1)
    assert (by_name["GET /api/items/{item_id}"].cases, by_name["GET /api/items/{item_id}"].reached) == (10, 1)
    assert by_name["DELETE /api/items/{item_id}/children/{child_id}"].reached == 1
    assert table.unmatched == 1
    assert [op.operation for op in table.below()] == ["GET /api/items/{item_id}"]
    # Written beside the cassette, for the report and for people.
    written = json.loads((tmp_path / "reach.json").read_text())
    assert written["below"] == ["GET /api/items/{item_id}"]
    assert "GET /api/items/{item_id}" in (tmp_path / "reach.txt").read_text()


def test_an_operation_below_the_share_fails_the_gate(tmp_path: Path) -> None:
    table = write_reach(write_run(tmp_path, CASES), ReachConfig(min_share=0.2))
    outcome = FuzzOutcome(0, tmp_path, tests=5, failures=0, errors=0, reach=table)
    assert not outcome.passed
    assert "1 below 20%: GET /api/items/{item_id}" in outcome.summary()


def test_a_bounded_staging_run_reports_reach_without_judging_it_but_still_fails_on_failures(tmp_path: Path) -> None:
    table = write_reach(write_run(tmp_path, CASES), ReachConfig(min_share=0.2))
    outcome = FuzzOutcome(0, tmp_path, tests=5, failures=0, errors=0, reach=table, reach_judged=False)
    assert outcome.passed
    assert "not judged" in outcome.summary()
    assert "GET /api/items/{item_id}" in outcome.summary()
    assert not FuzzOutcome(1, tmp_path, tests=5, failures=1, errors=0, reach=table, reach_judged=False).passed


def test_a_named_exception_lets_it_pass_and_stays_visible(tmp_path: Path) -> None:
    reason = "needs a provider-side object that cannot exist"
    config = ReachConfig(min_share=0.2, exceptions={"GET /api/items/{item_id}": reason})
    table = write_reach(write_run(tmp_path, CASES), config)
    outcome = FuzzOutcome(0, tmp_path, tests=5, failures=0, errors=0, reach=table)
    assert outcome.passed, outcome.summary()
    assert "(excepted)" in outcome.summary()
    written = {op["operation"]: op for op in json.loads((tmp_path / "reach.json").read_text())["operations"]}
    assert written["GET /api/items/{item_id}"]["exception"] == reason


def test_an_operation_never_fuzzed_fails_a_whole_run_but_not_a_filtered_one(tmp_path: Path) -> None:
    only_list: list[Case] = [
        ("GET", "/api/items", 200),
        ("POST", "/api/items", 201),
        ("GET", "/api/items/logs", 200),
    ]
    run = write_run(tmp_path, only_list)
    whole = write_reach(run, ReachConfig())
    assert whole is not None
    assert "DELETE /api/items/{item_id}/children/{child_id}" in [op.operation for op in whole.below()]
    filtered = write_reach(run, ReachConfig(), partial=True)
    assert filtered is not None
    assert filtered.below() == []


def test_no_cassette_means_unknown_reach_which_fails(tmp_path: Path) -> None:
    assert write_reach(tmp_path, ReachConfig()) is None
    assert not FuzzOutcome(0, tmp_path, tests=1, failures=0, errors=0, reach=None).passed


def test_the_project_config_names_a_reason_for_every_exception() -> None:
    config = load_reach_config()
    assert 0 < config.min_share <= 1
    assert {404, 422, 429} <= config.unreached_statuses
    for name, reason in config.exceptions.items():
        method, _, path = name.partition(" ")
        assert method.isupper(), name
        assert path.startswith("/api/"), name
        assert len(reason) > 20, f"{name}: say why"
