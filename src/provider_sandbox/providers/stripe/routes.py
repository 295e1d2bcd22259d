"""Stripe simulator: the v1 API the service uses, behind `Authorization: Bearer sk_test_...`.

Sandbox path                 Real URL
/stripe/v1/...               https://api.stripe.com/v1/...

Set the SDK's API base to `{sandbox}/stripe` (`stripe.StripeClient(key, base_addresses={"api": ...})`
or `stripe.api_base`); the SDK appends `/v1/...`. Simulated as documented: form-encoded nested
params, secret keys per account (401 otherwise), `Idempotency-Key` on POST (replays answer with
`Idempotent-Replayed: true`; a reused key with other params is a 400 idempotency_error), list
objects with limit <= 100 / starting_after / ending_before / created[...] filters, `expand[]`,
and every error in Stripe's `{"error": {...}}` envelope. This module is the adapter and the
route table; state and events are in simulator.py, resource logic in resources.py and
subscriptions.py, webhook signing in signing.py and control routes in control.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import Route
from provider_sandbox.providers.stripe.resources import (
    cancel_payment_intent,
    confirm_payment_intent,
    create_customer,
    create_payment_intent,
    create_price,
    create_product,
    create_refund,
    delete_customer,
    get_charge,
    get_customer,
    get_event,
    get_payment_intent,
    get_price,
    get_product,
    get_refund,
    list_charges,
    list_customers,
    list_events,
    list_payment_intents,
    list_prices,
    list_products,
    list_refunds,
    update_customer,
)
from provider_sandbox.providers.stripe.store import Account, Call, Emitter, Result, expand, new_id
from provider_sandbox.providers.stripe.subscriptions import (
    cancel_subscription,
    create_subscription,
    get_subscription,
    list_subscriptions,
    update_subscription,
)
from provider_sandbox.providers.stripe.wire import StripeError, as_expand, decode

MAX_IDEMPOTENCY_KEY = 255


Handler = Callable[[Emitter, Call], Awaitable[Result]]


class StripeApi(Emitter, Protocol):
    """What the API routes need from the simulator: its accounts' keys, its clock, its events."""

    def account_for_key(self, secret_key: str) -> Account | None: ...

    def now(self) -> int: ...


def _mask(key: str) -> str:
    return f"{key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}" if len(key) > 12 else "****"


class StripeRoutes:
    """Turns resource handlers into endpoints: API key, form decoding, idempotency, `expand[]`, errors."""

    def __init__(self, api: StripeApi) -> None:
        self.api = api

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request_id = new_id("req")[:18]
            headers = {"Request-Id": request_id, "Stripe-Version": request.headers.get("stripe-version", "")}
            try:
                account = self._authenticate(request.headers.get("authorization"))
                raw = (await request.body()).decode("utf-8", errors="replace")
                if request.method != "POST":
                    raw = request.url.query
                params = decode(raw)
                key = request.headers.get("idempotency-key") if request.method == "POST" else None
                call = Call(account, params, dict(request.path_params), request_id, key, self.api.now())
                if key is None:
                    status, body = await self._run(handler, call)
                    return json_response(body, status, headers)
                return await self._idempotent(handler, call, request.url.path + "?" + raw, headers)
            except StripeError as error:
                error.headers.update(headers)
                return error.response()

        return endpoint

    async def _run(self, handler: Handler, call: Call) -> tuple[int, dict[str, Any]]:
        status, body = await handler(self.api, call)
        paths = as_expand(call.params)
        if paths and body.get("object") == "list":
            prefixed = [p.removeprefix("data.") for p in paths if p.startswith("data.")]
            body["data"] = [expand(call.account, item, prefixed) for item in body["data"]]
        elif paths:
            body = expand(call.account, body, paths)
        else:
            body = expand(call.account, body, [])  # a copy: later changes must not leak into it
        return status, body

    async def _idempotent(self, handler: Any, call: Call, fingerprint_source: str, headers: dict[str, str]) -> Response:
        key = call.idempotency_key or ""
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise StripeError(
                400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters.", param="Idempotency-Key"
            )
        fingerprint = hashlib.sha256(fingerprint_source.encode()).hexdigest()
        saved = call.account.idempotency.get(key)
        if saved is not None:
            if saved[0] != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            return Response(
                saved[2],
                saved[1],
                {**headers, "Idempotent-Replayed": "true", "Idempotency-Key": key},
                "application/json",
            )
        try:
            status, body = await self._run(handler, call)
            response = json_response(body, status, {**headers, "Idempotency-Key": key})
        except StripeError as error:  # errors of a request that began executing are saved too
            error.headers.update({**headers, "Idempotency-Key": key})
            response = error.response()
        call.account.idempotency[key] = (fingerprint, response.status_code, bytes(response.body))
        return response

    def _authenticate(self, authorization: str | None) -> Account:
        if not authorization:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
                "See https://stripe.com/docs/api#authentication "
                "for details, or we can help at https://support.stripe.com/.",
            )
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":  # curl -u sk_test_...: the key is the Basic user name
            try:
                credential = base64.b64decode(credential, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        account = self.api.account_for_key(credential)
        if account is None:
            raise StripeError(
                401, f"Invalid API Key provided: {_mask(credential)}", code="api_key_invalid" if credential else None
            )
        return account


ROUTES: tuple[Route[Handler], ...] = (
    Route("POST", "/v1/customers", create_customer),
    Route("GET", "/v1/customers", list_customers),
    Route("GET", "/v1/customers/{id}", get_customer),
    Route("POST", "/v1/customers/{id}", update_customer),
    Route("DELETE", "/v1/customers/{id}", delete_customer),
    Route("POST", "/v1/products", create_product),
    Route("GET", "/v1/products", list_products),
    Route("GET", "/v1/products/{id}", get_product),
    Route("POST", "/v1/prices", create_price),
    Route("GET", "/v1/prices", list_prices),
    Route("GET", "/v1/prices/{id}", get_price),
    Route("POST", "/v1/payment_intents", create_payment_intent),
    Route("GET", "/v1/payment_intents", list_payment_intents),
    Route("GET", "/v1/payment_intents/{id}", get_payment_intent),
    Route("POST", "/v1/payment_intents/{id}/confirm", confirm_payment_intent),
    Route("POST", "/v1/payment_intents/{id}/cancel", cancel_payment_intent),
    Route("GET", "/v1/charges", list_charges),
    Route("GET", "/v1/charges/{id}", get_charge),
    Route("POST", "/v1/refunds", create_refund),
    Route("GET", "/v1/refunds", list_refunds),
    Route("GET", "/v1/refunds/{id}", get_refund),
    Route("GET", "/v1/events", list_events),
    Route("GET", "/v1/events/{id}", get_event),
    Route("POST", "/v1/subscriptions", create_subscription),
    Route("GET", "/v1/subscriptions", list_subscriptions),
    Route("GET", "/v1/subscriptions/{id}", get_subscription),
    Route("POST", "/v1/subscriptions/{id}", update_subscription),
    Route("DELETE", "/v1/subscriptions/{id}", cancel_subscription),
)
