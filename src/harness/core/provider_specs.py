"""One sandbox exchange checked against the provider's official OpenAPI document (Xero, PayPal) or, for
Stripe, whose document is not kept here, against the official stripe SDK's types (harness.core.stripe_oracle).

The specs live beside the project (`../shared/provider-specs`, or $PROVIDER_SPECS_DIR) and are never
copied into it. The sandbox serves each provider under a prefix (`/xero/api`, `/paypal`); the exchange's
path is put back on the real host the spec names, the operation found by openapi-core's path finder, and
the response (status, headers, body) validated by openapi-core against that operation. A status the spec
does not define is judged against the provider's documented shape for it (harness.core.provider_shapes),
when the project keeps one; otherwise it is "undocumented": counted, not judged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

from harness.core.paths import PROJECT_ROOT
from harness.core.provider_shapes import documented_shapes
from harness.core.stripe_oracle import stripe_operation, stripe_problems

Verdict = Literal["valid", "invalid", "undocumented", "outside"]


def provider_specs_dir() -> Path:
    configured = os.environ.get("PROVIDER_SPECS_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "provider-specs"


@dataclass(frozen=True)
class SpecSource:
    """One official document and where the sandbox serves what it describes."""

    provider: str
    file: str  # under the specs folder
    host: str  # the real host, as the spec's servers name it
    base_path: str = ""  # the server URL's path, e.g. /api.xro/2.0

    @cached_property
    def document(self) -> dict[str, Any]:
        path = provider_specs_dir() / self.file
        text = path.read_text(encoding="utf-8")
        return dict(yaml.load(text, Loader=yaml.CSafeLoader) if path.suffix == ".yaml" else json.loads(text))

    @cached_property
    def api(self) -> OpenAPI:
        # The document itself is the provider's: validating it against OpenAPI's meta-schema is not our job.
        return OpenAPI.from_dict(self.document, config=Config(spec_validator_cls=None))

    @cached_property
    def finder(self) -> APICallPathFinder:
        return APICallPathFinder(self.api.spec)

    @cached_property
    def literal_paths(self) -> dict[str, str]:
        """Template-free paths by their lower case: Xero documents `/Connections`, serves `/connections`."""
        return {path.lower(): path for path in self.document["paths"] if "{" not in path}


# Where the sandbox serves each provider's API host (provider_sandbox/app.py).
SANDBOX_ROOTS = {"xero": "/xero/api", "paypal": "/paypal", "stripe": "/stripe"}
SOURCES = (
    SpecSource("xero", "xero/xero_accounting.yaml", "https://api.xero.com", "/api.xro/2.0"),
    SpecSource("xero", "xero/xero-identity.yaml", "https://api.xero.com"),
    *(
        SpecSource("paypal", f"paypal/{name}", "https://api-m.sandbox.paypal.com")
        for name in (
            "payments_payment_v1.json",
            "billing_subscriptions_v1.json",
            "checkout_orders_v2.json",
            "notifications_webhooks_v1.json",
        )
    ),
)


def missing_specs() -> list[str]:
    return [source.file for source in SOURCES if not (provider_specs_dir() / source.file).is_file()]


@dataclass(frozen=True)
class Checked:
    provider: str
    operation: str  # "GET /Invoices/{InvoiceID}" as the spec names it, or the sandbox path when outside
    verdict: Verdict
    problem: str = ""
    shape: str = ""  # the documented shape's file when it, not the spec, judged the answer


def check_exchange(exchange: dict[str, Any]) -> Checked:
    """The verdict on one logged sandbox exchange (see provider_sandbox.core.exchanges for its fields)."""
    path = exchange["path"]
    provider = next(name for name in SANDBOX_ROOTS if path.startswith(f"/{name}/"))
    root = SANDBOX_ROOTS[provider]
    if not path.startswith(root + "/"):  # e.g. the OAuth token endpoints: no spec here describes them
        return Checked(provider, f"{exchange['method']} {path}", "outside")
    if provider == "stripe":
        return check_stripe(exchange["method"], path[len(root) :], exchange["status"], exchange["body"])
    return check_response(provider, {**exchange, "path": path[len(root) :]})


def check_stripe(method: str, path: str, status: int, body: str | None) -> Checked:
    """The verdict of the stripe SDK's types on one answer to `method` on `path` (`/v1/...`)."""
    operation = f"{method.upper()} {stripe_operation(path)}"
    try:
        problems = stripe_problems(status, json.loads(body or ""))
    except ValueError:
        problems = ["the body is not JSON"]
    return Checked("stripe", operation, "invalid" if problems else "valid", "; ".join(problems[:3])[:400])


def check_response(provider: str, exchange: dict[str, Any]) -> Checked:
    """The verdict on one response of `provider` to `method` on `path` as the real host spells it."""
    method, path = exchange["method"].lower(), exchange["path"]
    for source in SOURCES:
        if source.provider != provider or not path.startswith(source.base_path + "/"):
            continue
        real_path = _spec_case(source, path)
        try:
            found = source.finder.find(method, source.host + real_path)
        except PathError:
            continue
        operation = f"{method.upper()} {found.path.parts[-1]}"
        return _validate(source, exchange, real_path, operation)
    return Checked(provider, f"{method.upper()} {SANDBOX_ROOTS[provider]}{path}", "outside")


def _spec_case(source: SpecSource, real_path: str) -> str:
    relative = real_path[len(source.base_path) :]
    spelled = source.literal_paths.get(relative.lower())
    return source.base_path + spelled if spelled is not None else real_path


def _validate(source: SpecSource, exchange: dict[str, Any], real_path: str, operation: str) -> Checked:
    headers = exchange["headers"]
    content_type = headers.get("content-type", "application/json").split(";")[0].strip()
    request = MockRequest(source.host, exchange["method"].lower(), real_path, args=exchange["query"])
    body = (exchange["body"] or "").encode()
    response = MockResponse(body, exchange["status"], headers=headers, content_type=content_type)
    try:
        source.api.validate_response(request, response)
    except ResponseNotFound:
        shape = documented_shapes().get((source.provider, exchange["status"]))
        if shape is None:
            return Checked(
                source.provider, operation, "undocumented", f"status {exchange['status']} is not in the spec"
            )
        problems = "; ".join(shape.problems(headers, exchange["body"]))[:400]
        return Checked(source.provider, operation, "invalid" if problems else "valid", problems, shape.file)
    except OpenAPIError as error:
        return Checked(source.provider, operation, "invalid", _describe(error))
    return Checked(source.provider, operation, "valid")


def _describe(error: OpenAPIError) -> str:
    """The error and its first schema errors, short enough for a report's cell."""
    causes = getattr(error, "schema_errors", None) or getattr(getattr(error, "__cause__", None), "schema_errors", [])
    details = "; ".join(f"{'/'.join(map(str, cause.absolute_path))}: {cause.message}"[:200] for cause in causes[:3])
    return f"{type(error).__name__}: {error}"[:200] + (f" ({details})" if details else "")
